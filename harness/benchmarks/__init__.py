"""Built-in benchmarks; importing this package registers them."""

from harness.benchmarks import bigcodebench, evalplus_tasks, quixbugs  # noqa: F401
from harness.benchmarks.base import BENCHMARKS, Benchmark, get_benchmark  # noqa: F401

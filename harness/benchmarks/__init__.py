"""Benchmarks: one module each, registered with `@BENCHMARKS.register(name)`; the registry imports a module only
when its benchmark is asked for. Benchmarks in other packages register through `fgit_bench.benchmarks`."""

from harness.benchmarks.base import BENCHMARKS, Benchmark, benchmark_names, get_benchmark  # noqa: F401

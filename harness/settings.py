"""Settings checked before anything starts (issue 28): every number in its range, sandbox, backend and benchmark
names looked up in their registries (with "did you mean"), no empty task list. Each failure is one BadInput line
(exit 2) raised before a lock is taken or a file written, so a bad value can no longer spin forever holding the
run's lock (`batch_size = 0`), crash later as an infrastructure error (`max_new_tokens = -5`), fail only after
generation (`sandbox = "dockr"`, `jobs = 0`) or quietly mean "every task" (`tasks = []`).

`where` names the setting as the user wrote it: a flag (`--jobs`) or a config key (`run.toml: generation.batch_size`).
"""

from __future__ import annotations

from harness.core.errors import BadInput

BATCH_MODES = ("plain", "invariant")
DTYPES = ("float32", "bfloat16", "float16")


def at_least(where: str, value, minimum: int = 1) -> None:
    """`value` is None (unset) or an integer >= minimum."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{where} must be an integer, got {value!r}")
    if value < minimum:
        raise BadInput(f"{where} must be at least {minimum}, got {value}")


def one_of(where: str, value, choices: tuple[str, ...]) -> None:
    """`value` is None (the default) or one of `choices`."""
    if value is not None and value not in choices:
        raise BadInput(f"{where} must be one of {', '.join(choices)}, got {value!r}")


def task_list(where: str, tasks, flag: bool = False) -> None:
    """A task list that is given must name a task: an empty one would otherwise mean "every task"."""
    if tasks is not None and not tasks:
        what = where if flag else where.rsplit(".", 1)[-1]
        raise BadInput(f"{where} is empty: name at least one task, or leave {what} out for all of them")


def sandbox(where: str, name) -> None:
    from sandboxes import SANDBOXES

    SANDBOXES.check_name(name, where, extra=("auto",))


def backend(where: str, name) -> None:
    from harness.generation.base import BACKENDS

    BACKENDS.check_name(name, where)


def benchmark(where: str, name, options: dict[str, str] | None = None) -> None:
    """The name, then the benchmark's own check of its options (subset, split)."""
    from harness.benchmarks import BENCHMARKS, get_benchmark

    BENCHMARKS.check_name(name, where)
    get_benchmark(name, **(options or {}))


def decoding(prefix: str, *, batch_size, max_new_tokens, batch_mode=None, dtype=None) -> None:
    """Generation settings; `prefix` turns a field name into what the user wrote (`--` or `run.toml: generation.`)."""
    flag = prefix == "--"
    name = (lambda key: f"--{key.replace('_', '-')}") if flag else (lambda key: f"{prefix}{key}")
    at_least(name("batch_size"), batch_size)
    at_least(name("max_new_tokens"), max_new_tokens)
    one_of(name("batch_mode"), batch_mode, BATCH_MODES)
    one_of(name("dtype"), dtype, DTYPES)


def sampling(prefix: str, *, n_samples, temperature, top_p) -> None:
    """Sampling settings (issue 25), named as `decoding` names them."""
    name = (lambda key: f"--{key.replace('_', '-')}") if prefix == "--" else (lambda key: f"{prefix}{key}")
    at_least(name("n_samples"), n_samples)
    for key, value in (("temperature", temperature), ("top_p", top_p)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"{name(key)} must be a number, got {value!r}")
    if not temperature >= 0:
        raise BadInput(f"{name('temperature')} must be 0 (greedy) or more")
    if not 0 < top_p <= 1:
        raise BadInput(f"{name('top_p')} must be in (0, 1]")
    if temperature == 0 and top_p != 1:
        raise BadInput(f"{name('top_p')} needs {name('temperature')} > 0 (greedy decoding takes the most likely token)")

"""Job functions the worker runs. They call evalplus's own execution code, inside the sandbox.

We import `evalplus.eval` (untrusted_check) and `evalplus.gen.util` (trusted_exec) rather than
`evalplus.evaluate.check_correctness`: that module imports `datasets` and `pandas` (1.8 s, hundreds of MB),
which sandbox images should not need. `evalplus_check` mirrors check_correctness line for line.
"""

from __future__ import annotations

import os
from typing import Any


def ping(payload: Any) -> Any:
    return payload


def evalplus_groundtruth(job: dict) -> dict:
    """Expected outputs and per-input times of the canonical solution (evalplus's get_groundtruth, one task)."""
    from evalplus.gen.util import trusted_exec

    code = job["prompt"] + job["canonical_solution"]
    oracle = {}
    for split in ("base", "plus"):
        oracle[split], oracle[f"{split}_time"] = trusted_exec(
            code, job[f"{split}_input"], job["entry_point"], record_time=True,
            output_not_none=job["output_not_none"],
        )
    return oracle


def evalplus_check(job: dict) -> dict:
    """Base and plus verdicts of one solution, as evalplus.evaluate.check_correctness computes them."""
    from evalplus.eval import untrusted_check

    os.environ.setdefault("EVALPLUS_MAX_MEMORY_BYTES", str(job.get("max_memory_bytes", 4 << 30)))
    result = {}
    for split in ("base", "plus"):
        status, details = untrusted_check(
            job["dataset"], job["solution"], job[f"{split}_input"], job["entry_point"],
            expected=job["expected"][split], atol=job["atol"], ref_time=job["expected"][f"{split}_time"],
            fast_check=job.get("fast_check", True),  # False: every input runs (GRPO's fraction-of-tests reward)
            min_time_limit=job["min_time_limit"], gt_time_limit_factor=job["gt_time_limit_factor"],
        )
        result[split] = (status, [bool(d) for d in details])
    return result


# --- BigCodeBench (runs in the bigcodebench environment: Python 3.10 with upstream's pinned libraries) ---

_BCB_PRELOADED: set[str] = set()
_BCB_TRACE_CHARS = 4000


def _bigcodebench_preload(modules) -> None:
    """Import heavy libraries once in the worker, so that the child that bigcodebench forks for every check
    inherits them instead of importing them again (upstream's guard alone imports matplotlib.pyplot per check).
    A library missing from the environment is skipped. numpy's global RNG is reseeded in each forked child, as a
    fresh import would do (Python's `random` already reseeds itself after fork)."""
    import importlib

    for name in modules:
        if name in _BCB_PRELOADED:
            continue
        _BCB_PRELOADED.add(name)
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (any import failure: the check itself will import it or fail)
            continue
        if name == "numpy":
            import numpy

            os.register_at_fork(after_in_child=lambda: numpy.random.seed())


def bigcodebench_check(job: dict) -> dict:
    """One program against its task's unittest suite with bigcodebench's own `untrusted_check` (what
    bigcodebench.evaluate.check_correctness calls), with upstream's limits as given in the job."""
    _bigcodebench_preload(job.get("preload", ()))
    import resource

    from bigcodebench.eval import untrusted_check

    # untrusted_check's child sets RLIMIT_AS/DATA to these; it cannot raise them above the worker's hard limit.
    max_as, max_data = job["max_as_limit"], job["max_data_limit"]
    for which, name in ((resource.RLIMIT_AS, "max_as"), (resource.RLIMIT_DATA, "max_data")):
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            if name == "max_as":
                max_as = min(max_as, hard >> 20)
            else:
                max_data = min(max_data, hard >> 20)
    status, details = untrusted_check(
        job["code"], job["test"], job["entry_point"], max_as, max_data, job["max_stack_limit"],
        job["min_time_limit"], job["gt_time_limit"],
    )
    return {"status": status, "details": {str(k): str(v)[-_BCB_TRACE_CHARS:] for k, v in details.items()}}


# --- Snippet tests (plugins/variants.py: drop incorrect-variant candidates that pass their example's tests) ---


def run_snippet_tests(job: dict) -> dict:
    """Run `code`, then `tests` (statements that raise when the code is wrong, e.g. asserts) in one namespace, in
    a forked child killed after `timeout` seconds. {"status": "pass" | "fail" | "timeout", "detail": str}.
    A pass is recorded through shared memory only after the tests ran to the end, so code that exits early
    (`os._exit(0)`, `sys.exit()`) reads as a failure. A multiprocessing child, not a bare fork: the worker's
    after-fork hook closes the protocol pipes in it."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    passed = context.Value("i", 0, lock=False)
    child = context.Process(target=_snippet_child, args=(job["code"], job["tests"], passed))
    child.start()
    timeout = float(job.get("timeout", 10.0))
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return {"status": "timeout", "detail": f"still running after {timeout:g}s"}
    if passed.value == 1:
        return {"status": "pass", "detail": ""}
    return {"status": "fail", "detail": {1: "the code raised", 2: "a test failed"}.get(child.exitcode,
                                                                                     f"exit {child.exitcode}")}


def _snippet_child(code: str, tests: str, passed) -> None:
    namespace = {"__name__": "__fgit_snippet__"}  # not __main__: example-usage blocks stay off
    try:
        exec(compile(code, "<code>", "exec"), namespace)
    except BaseException:  # noqa: BLE001 -- any failure of untrusted code is a failure
        os._exit(1)
    try:
        exec(compile(tests, "<tests>", "exec"), namespace)
    except BaseException:  # noqa: BLE001
        os._exit(2)
    passed.value = 1
    os._exit(0)

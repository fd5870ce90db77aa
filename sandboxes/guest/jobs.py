"""Job functions the worker runs, inside the sandbox.

evalplus: the ground truth with evalplus's `trusted_exec`; a candidate's outputs with evalplus's child set-up
(sandboxes/guest/evalplus_child.py), judged outside the sandbox. We import `evalplus.eval` and `evalplus.gen.util`
rather than `evalplus.evaluate`: that module imports `datasets` and `pandas` (1.8 s, hundreds of MB), which
sandbox images should not need.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from typing import Any

JOBS: dict[str, Callable[[Any], Any]] = {}  # name -> job function: what the worker runs, what the host may name


def job(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Register a job under its function's name (the name travels in the job frame)."""
    if function.__name__ in JOBS:
        raise ValueError(f"sandbox job {function.__name__!r} is registered twice")
    JOBS[function.__name__] = function
    return function


class UnknownJob(ValueError):
    pass


def job_name(job: str | Callable[[Any], Any]) -> str:
    """The registered name of `job` (a job function, or its name): the host checks it before any sandbox starts,
    so a typo is an error here, not a sandbox_error on every task."""
    name = job if isinstance(job, str) else getattr(job, "__name__", repr(job))
    if JOBS.get(name) is None or not (isinstance(job, str) or JOBS[name] is job):
        close = difflib.get_close_matches(name, JOBS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownJob(f"unknown sandbox job {name!r}{hint} (known: {', '.join(sorted(JOBS))})")
    return name


def warm(names) -> None:
    """Import, in the worker, the modules a job process imported (sandboxes/guest/worker.py runs every job in a
    process forked for it), so that later job processes and the candidates they fork inherit them instead of
    importing them again. Names only come from the worker's own job processes; one that fails is skipped."""
    import importlib
    import sys

    for name in names:
        if name in sys.modules or not all(part.isidentifier() for part in name.split(".")):
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001  (a module that cannot be imported here is imported per job)
            continue
    for name in ("numpy", *_BCB_PRELOADED_CANDIDATES):
        if name in sys.modules:
            _bigcodebench_preload([name])


@job
def ping(payload: Any) -> Any:
    return payload


@job
def evalplus_groundtruth(job: dict) -> dict:
    """Expected outputs (codec data, sandboxes/guest/codec.py) and per-input times of the canonical solution
    (evalplus's get_groundtruth, one task). Trusted code, run in the worker itself."""
    import gc

    from evalplus.gen.util import trusted_exec

    code = job["prompt"] + job["canonical_solution"]
    oracle = {}
    for split in ("base", "plus"):
        outputs, oracle[f"{split}_time"] = trusted_exec(
            code, job[f"{split}_input"], job["entry_point"], record_time=True,
            output_not_none=job["output_not_none"],
        )
        oracle[split] = [_encode_expected(out) for out in outputs]
        del outputs
    # The canonical function and its globals form a cycle: collect it now, so that no child forked later for a
    # candidate finds the reference solution among the worker's objects.
    gc.collect()
    return oracle


def _encode_expected(out) -> list:
    """An expected output as codec data; one the codec refuses (Mbpp/255's 1.6 M-tuple outputs are over its
    bounds) is stored as a non-value, so no answer can match it: that input fails, as it does in evalplus, whose
    4 GiB address-space limit the same outputs exceed."""
    from sandboxes.guest.codec import CodecError, encode

    try:
        return encode(out)
    except CodecError as exc:
        return ["opaque", f"expected output ({exc})"]


@job
def evalplus_outputs(job: dict) -> dict:
    """The candidate's outputs on the base and plus inputs, as data (sandboxes/guest/evalplus_child.py); the harness
    judges them. The job carries no expected output."""
    import evalplus.eval  # noqa: F401  (imported once in the worker, so each forked child inherits it)

    from sandboxes.guest.evalplus_child import run_stage

    os.environ.setdefault("EVALPLUS_MAX_MEMORY_BYTES", str(job.get("max_memory_bytes", 4 << 30)))
    every_input = bool(job.get("every_input", False))  # True: a failed input does not end the stage (GRPO)
    return {split: run_stage(job["solution"], job["entry_point"], job[f"{split}_input"], job[f"{split}_limits"],
                             every_input)
            for split in ("base", "plus")}


@job
def evalplus_outputs_many(job: dict) -> dict:
    """Several programs of one task on the same inputs and limits (sent once): `evalplus_outputs` for each of
    `solutions`, in order, each in its own child. {"results": [what evalplus_outputs returns]}."""
    shared = {k: v for k, v in job.items() if k != "solutions"}
    return {"results": [evalplus_outputs({**shared, "solution": solution}) for solution in job["solutions"]]}


# --- BigCodeBench (runs in the bigcodebench environment: Python 3.10 with upstream's pinned libraries) ---

_BCB_PRELOADED: set[str] = set()
_BCB_PRELOADED_CANDIDATES = ("pandas", "matplotlib", "matplotlib.pyplot", "scipy", "sklearn")
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


@job
def bigcodebench_check(job: dict) -> dict:
    """One program against its task's unittest suite, with upstream's limits as given in the job: bigcodebench's
    own set-up and unittest run, with tampering detected and the verdict decided outside the candidate's process
    (sandboxes/guest/bigcodebench_runner.py, which replaces bigcodebench.eval.untrusted_check)."""
    _bigcodebench_preload(job.get("preload", ()))
    import resource

    from sandboxes.guest.bigcodebench_runner import run_check

    # untrusted_check's child sets RLIMIT_AS/DATA to these; it cannot raise them above the worker's hard limit.
    max_as, max_data = job["max_as_limit"], job["max_data_limit"]
    for which, name in ((resource.RLIMIT_AS, "max_as"), (resource.RLIMIT_DATA, "max_data")):
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            if name == "max_as":
                max_as = min(max_as, hard >> 20)
            else:
                max_data = min(max_data, hard >> 20)
    checked = run_check(job["code"], job["test"], job["entry_point"], max_as, max_data, job["max_stack_limit"],
                        job["min_time_limit"], job["gt_time_limit"])
    return {"status": checked["status"],
            "details": {str(k): str(v)[-_BCB_TRACE_CHARS:] for k, v in checked["details"].items()}}


@job
def bigcodebench_check_many(job: dict) -> dict:
    """Several programs of one task against its suite (the test and limits sent once): `bigcodebench_check` for
    each of `codes`, in order, each in its own child. {"results": [what bigcodebench_check returns]}."""
    shared = {k: v for k, v in job.items() if k != "codes"}
    return {"results": [bigcodebench_check({**shared, "code": code}) for code in job["codes"]]}


# --- Snippet tests (plugins/training/variants.py: drop incorrect-variant candidates that pass their example's tests) ---


@job
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
        exec(compile(code, "<code>", "exec", dont_inherit=True), namespace)  # not this module's __future__
    except BaseException:  # noqa: BLE001 -- any failure of untrusted code is a failure
        os._exit(1)
    try:
        exec(compile(tests, "<tests>", "exec", dont_inherit=True), namespace)
    except BaseException:  # noqa: BLE001
        os._exit(2)
    passed.value = 1
    os._exit(0)

"""Fixtures and helpers for the docker and bwrap sandbox tests (imported by their test modules).

A backend that is missing here fails the tests when CI=true (CI starts dockerd and installs bubblewrap) and skips
them otherwise, with the reason.
"""

from __future__ import annotations

import os
import time

import psutil
import pytest

from harness.benchmarks import get_benchmark
from harness.core.data import data_dir
from sandboxes import make_sandbox
from sandboxes.base import Limits, Sandbox
from sandboxes.pool import JobResult

# The limits the docker and bwrap unit tests run under (small, so that their limit tests trip quickly).
UNIT_LIMITS = Limits(memory_mb=512, processes=64, file_size_mb=8, tmpfs_mb=32, cpus=1.0)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI is set: this suite must run for real, not skip)", pytrace=False)
    pytest.skip(message)


def require_backend(name: str) -> None:
    """Fail (CI) or skip unless `name` works here; builds the docker image when only the image is missing."""
    if name == "docker":
        from sandboxes.docker import DockerSandbox

        ok, why = DockerSandbox.check()
        if not ok and "is missing" in why:
            import docker

            from sandboxes.environments import get_environment

            get_environment("evalplus").build_image(docker.from_env(timeout=1800))  # cached after the first time
            ok, why = DockerSandbox.check()
    elif name == "bwrap":
        from sandboxes.bwrap import BwrapSandbox

        ok, why = BwrapSandbox.check()
    else:
        raise ValueError(name)
    if not ok:
        unavailable(f"sandbox backend {name} is not usable here: {why}")


def open_sandbox(name: str, jobs: int = 2, limits: Limits | None = None) -> Sandbox:
    require_backend(name)
    return make_sandbox(name, jobs=jobs, limits=limits, announce=False)


@pytest.fixture(scope="module")
def humaneval_problems() -> dict:
    return get_benchmark("humaneval").load(data_dir()).problems


def run_code(sandbox: Sandbox, code: str, timeout: float = 60.0) -> JobResult:
    """Run `code` (which defines `probe()`) inside a worker, as trusted code, and return the job's result:
    evalplus's ground-truth job executes it in the worker process itself and returns probe()'s value (as codec data:
    probe_value decodes it)."""
    payload = {"prompt": code, "canonical_solution": "", "entry_point": "probe", "base_input": [[]],
               "plus_input": [], "output_not_none": False}
    [(_, result)] = list(sandbox.run("evalplus_groundtruth", [payload], [timeout]))
    return result


def probe_value(result: JobResult):
    from sandboxes.guest.codec import decode

    assert result.error is None, (result.error, result.detail)
    return decode(result.value["base"][0])


def sandbox_processes(session: str) -> list[psutil.Process]:
    """Host processes that belong to the sandbox `session` (its workers and anything they started)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("FGIT_SANDBOX_SESSION") == session:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def wait_for_no_processes(session: str, seconds: float = 10.0) -> list[str]:
    """After a sandbox closed: the processes of `session` still alive after `seconds` (none expected)."""
    end = time.monotonic() + seconds
    while True:
        left = sandbox_processes(session)
        if not left or time.monotonic() > end:
            return [f"{p.pid} {' '.join(p.cmdline())[:80]}" for p in left if p.is_running()]
        time.sleep(0.2)


def session_containers(session: str) -> list[str]:
    import docker

    client = docker.from_env()
    return [c["Id"][:12] for c in client.api.containers(all=True, filters={"label": f"fgit-bench.sandbox={session}"})]

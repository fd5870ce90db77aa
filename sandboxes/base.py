"""The `Sandbox` interface: a pool of long-lived workers that run job functions on untrusted code.

A job is `(function, payload)`: `function` names a callable in `sandboxes.guest.jobs` (importable inside every sandbox),
`payload` is any picklable value. Backends differ only in how a worker process is started and killed
(`spawn_worker`); the pool, the wire protocol and the timeouts are shared (`sandboxes.pool`).
"""

from __future__ import annotations

import platform
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.registry import Registry
from sandboxes.guest.jobs import job_name
from sandboxes.pool import JobResult, WorkerHandle, WorkerPool


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every worker (and so to every sample it runs)."""

    memory_mb: int = 4096  # evalplus's own guard allows 4 GiB per sample
    processes: int = 256
    file_size_mb: int = 64
    output_kb: int = 1024  # captured stdout/stderr per job
    cpus: float = 1.0  # per worker (docker)
    tmpfs_mb: int = 256  # the writable work dir (docker, bwrap)

    def group_memory_mb(self) -> int:
        """Memory for a worker's whole cgroup (docker, bwrap): one sample's `memory_mb` (its address-space limit)
        plus the worker itself and its two tmpfs mounts (/work, /tmp), whose pages are charged to the group."""
        return self.memory_mb + 2 * self.tmpfs_mb + 256


class Sandbox(ABC):
    """Subclasses register with `@SANDBOXES.register(name)` and implement `spawn_worker` and `describe`."""

    name: ClassVar[str]
    isolating: ClassVar[bool] = True

    def __init__(self, limits: Limits | None = None, jobs: int = 1, environment: str = "evalplus"):
        self.limits = limits or Limits()
        self.jobs = max(1, jobs)
        self.environment = environment  # which interpreter/image: "evalplus" or "bigcodebench"
        self._pool = None

    @classmethod
    @abstractmethod
    def check(cls) -> tuple[bool, str]:
        """(usable here, why not / what): used by `sandbox check` and by `--sandbox auto`."""

    @abstractmethod
    def spawn_worker(self) -> WorkerHandle: ...

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance: backend name, image id or interpreter, limits."""

    def machine_key(self) -> str:
        """Identifies where timings were measured: ground-truth times are cached per machine and sandbox."""
        info = self.describe()
        return "|".join([platform.node(), platform.machine(), _cpu_model(), info.get("backend", ""),
                         str(info.get("image_id") or info.get("python") or "")])

    def run(self, function: str | Callable[[Any], Any], payloads: Iterable[Any], timeouts: Iterable[float],
            costs: Iterable[float] | None = None) -> Iterator[tuple[int, JobResult]]:
        """Run the guest job `function` (a `sandboxes.guest.jobs` function or its registered name) on each payload
        on the worker pool; yields (index, result) as they finish. An unknown job raises here, before any worker
        starts. `costs` (estimated run times, any unit): the longest jobs are started first."""
        return self._get_pool().run(job_name(function), list(payloads), list(timeouts),
                                    None if costs is None else list(costs))

    def run_feed(self, feed) -> Iterator[tuple[Any, JobResult]]:
        """Run the jobs of a `sandboxes.pool.JobFeed` (jobs may be added while it runs); yields (key, result)."""
        yield from self._get_pool().run_feed(feed)

    def warm_up(self) -> None:
        """Start the workers in the background now, so that their start-up overlaps the caller's preparations."""
        self._get_pool().warm_up()

    def _get_pool(self):
        if self._pool is None:
            self._pool = WorkerPool(self.spawn_worker, self.jobs)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


SANDBOXES: Registry[type[Sandbox]] = Registry("sandbox", Sandbox, package="sandboxes", markers=("SANDBOXES.register",),
                                               group="fgit_bench.sandboxes")


def process_start(pid: int) -> float | None:
    """The start time of process `pid` (None: gone, or unknown); with the pid it names one process, not a reused pid."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001  (gone, or psutil missing: unknown)
        return None


def same_process_alive(pid: int, started: float) -> bool:
    """Whether the process that was `pid` when it started at `started` is still running (leftover cleanup)."""
    now = process_start(pid)
    return now is not None and abs(now - started) < 1.0

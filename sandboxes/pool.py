"""A pool of sandbox workers shared by every backend: dispatch, per-job wall-clock limits, kill and replace.

Scheduling: jobs are handed out longest-first when the caller knows their costs (e.g. ground-truth times), so that
the run does not end with one long job on one worker while the others idle. Large job frames travel through a
per-worker read-only transfer directory where the backend provides one (`WorkerHandle.xfer`): a file written to
memory-backed storage costs far less than streaming it through a container runtime's attach proxy.
"""

from __future__ import annotations

import heapq
import os
import pickle
import queue
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.errors import InfraError
from sandboxes.guest.jobs import job_name
from sandboxes.guest.protocol import XFER, encode, encode_blob

STARTUP_TIMEOUT = 120.0  # a cold container or interpreter start, with imports
MAX_CONSECUTIVE_START_FAILURES = 3
SWEEP_TIMEOUT = 60.0  # the worker's sweep after a job (kill, reap, empty the scratch mounts, IPC)
XFER_MIN_BYTES = 1 << 20  # smaller frames go over the worker's stdin: a file would cost more than it saves


@dataclass
class JobResult:
    """What came back from one job. `error` is None on success, else one of
    "timeout" (the worker exceeded the job's wall-clock limit and was killed), "oom" (it died from the memory limit),
    "sandbox_error" (it crashed or the protocol broke)."""

    value: Any = None
    error: str | None = None
    detail: str = ""
    seconds: float = 0.0
    where: dict | None = None  # the node, backend and image that ran it (a cluster executor; None: here)


class WorkerHandle(ABC):
    """One running worker: a process speaking the length-prefixed pickle protocol on its stdin/stdout."""

    # (directory on the host, the same directory as the worker sees it, read-only): large job frames are passed
    # as files there (sandboxes.pool). None: every frame goes over stdin.
    xfer: tuple[str, str] | None = None

    @abstractmethod
    def send(self, frame: bytes) -> None: ...

    @abstractmethod
    def recv(self, timeout: float) -> bytes | None:
        """One frame, or None when the timeout passed first. Raises EOFError when the worker died."""

    @abstractmethod
    def kill(self) -> None:
        """Kill the worker and everything it started; must be idempotent."""

    @abstractmethod
    def exit_reason(self) -> str:
        """After death: "oom" when the kernel killed it for memory, else "sandbox_error"."""

    def oom_events(self) -> int:
        """How many out-of-memory kills happened in this worker's group so far (0 where the backend cannot tell):
        the pool reports a job as "oom" when this grew while it ran."""
        return 0


class WorkerPool:
    def __init__(self, spawn: Callable[[], WorkerHandle], size: int):
        self._spawn = spawn
        self._size = size
        self._workers: list[WorkerHandle | None] = [None] * size
        self._starting: list[threading.Thread | None] = [None] * size  # warm_up()'s start of each slot
        self._ooms = [0] * size  # each worker's OOM-kill count after its last job
        self._lock = threading.Lock()
        self._closed = False

    def warm_up(self) -> None:
        """Start every missing worker in the background (a container start overlaps the caller's own work);
        a start that fails here is retried, and reported, by the first job of its slot. Call it between runs,
        not while one is going (a slot's job may be starting its worker itself)."""
        with self._lock:
            for slot in range(self._size):
                if self._workers[slot] is None and self._starting[slot] is None:
                    thread = threading.Thread(target=self._start_quietly, args=(slot,), daemon=True)
                    self._starting[slot] = thread
                    thread.start()

    def _start_quietly(self, slot: int) -> None:
        try:
            self._start(slot, attempts=1)
        except BaseException:  # noqa: BLE001  (the slot's first job starts it again and reports the failure)
            pass

    def _start(self, slot: int, attempts: int = MAX_CONSECUTIVE_START_FAILURES) -> WorkerHandle:
        failures = 0
        while True:
            if self._closed:
                raise InfraError("sandbox closed")
            worker = self._spawn()
            with self._lock:
                if self._closed:  # close() ran while this worker started: it must not outlive the pool
                    worker.kill()
                    raise InfraError("sandbox closed")
                self._workers[slot] = worker
            try:
                frame = worker.recv(STARTUP_TIMEOUT)
                if frame is not None and frame[0] == "ready":
                    self._ooms[slot] = worker.oom_events()
                    return worker
                why = "no ready signal" if frame is None else f"unexpected {frame!r:.80}"
            except EOFError:
                why = "worker exited at start"
            with self._lock:
                if self._workers[slot] is worker:
                    self._workers[slot] = None
            worker.kill()
            failures += 1
            if failures >= attempts or self._closed:
                raise InfraError(f"sandbox worker failed to start: {why}")

    def _worker(self, slot: int) -> WorkerHandle:
        starting, self._starting[slot] = self._starting[slot], None
        if starting is not None:
            starting.join()
        return self._workers[slot] or self._start(slot)

    def _run_one(self, slot: int, function: str, payload: Any, timeout: float) -> JobResult:
        worker = self._worker(slot)
        blob = pickle.dumps((function, payload), protocol=pickle.HIGHEST_PROTOCOL)
        xfer_file = None
        try:
            frame = None
            if len(blob) >= XFER_MIN_BYTES and worker.xfer is not None:
                host_dir, inside_dir = worker.xfer
                xfer_file = os.path.join(host_dir, f"{uuid.uuid4().hex}.pkl")
                try:
                    fd = os.open(xfer_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    with open(fd, "wb") as handle:
                        os.fchmod(fd, 0o644)  # readable by the sandbox's user, whatever the umask
                        handle.write(blob)
                    frame = encode((XFER, f"{inside_dir}/{xfer_file.rsplit('/', 1)[1]}"))
                except OSError:  # e.g. the memory-backed storage is full: the frame goes over stdin instead
                    pass
            if frame is None:
                frame = encode_blob(blob)
            del blob
            start = time.perf_counter()
            try:
                worker.send(frame)
                del frame
                frame = worker.recv(timeout)
            except (EOFError, BrokenPipeError, OSError):
                reason = worker.exit_reason()
                self._replace(slot)
                return JobResult(error=reason, detail="worker died", seconds=time.perf_counter() - start)
        finally:
            if xfer_file is not None:
                try:
                    os.unlink(xfer_file)
                except OSError:
                    pass
        elapsed = time.perf_counter() - start
        if frame is None:  # over the wall-clock limit: kill the worker with everything it started
            self._replace(slot)
            return JobResult(error="timeout", detail=f"no answer in {timeout:.1f}s", seconds=elapsed)
        (status, value), seconds = frame
        ooms, self._ooms[slot] = self._ooms[slot], worker.oom_events()  # before the worker may end (below)
        # Then the worker's sweep (guest/worker.py): what survived it (guest/residue.py), or a worker that ended
        # after a job process died. Either way the next job on this slot starts in a fresh sandbox; this job's
        # own result stands.
        try:
            swept = worker.recv(SWEEP_TIMEOUT)
        except (EOFError, OSError):
            swept = None
        if not (isinstance(swept, tuple) and len(swept) == 2 and swept[0] == "swept") or swept[1]:
            self._replace(slot)
        if self._ooms[slot] > ooms:  # a process of the sample was killed by the group's memory limit
            self._replace(slot)
            return JobResult(value=value if status == "ok" else None, error="oom",
                             detail="out of memory: the sandbox's memory limit killed a process", seconds=seconds)
        if status == "ok":
            return JobResult(value=value, seconds=seconds)
        return JobResult(error="sandbox_error", detail=str(value)[:2000], seconds=seconds)

    def run_job(self, slot: int, function: str, payload: Any, timeout: float) -> JobResult:
        """One job on worker `slot` (the caller keeps each slot to one job at a time: a cluster node's actor)."""
        if self._closed:
            raise InfraError("sandbox closed")
        return self._run_one(slot, function, payload, timeout)

    def _replace(self, slot: int) -> None:
        with self._lock:
            worker, self._workers[slot] = self._workers[slot], None
        if worker is not None:
            worker.kill()

    def run(self, function: str, payloads: list, timeouts: list[float], costs: list[float] | None = None):
        """Yield (index, JobResult) as jobs finish. Jobs are taken by `size` threads in order, or longest first
        when `costs` (any consistent estimate of each job's run time) is given."""
        if costs is not None and len(costs) != len(payloads):
            raise ValueError("one cost per payload")
        feed = JobFeed()
        for index, (payload, timeout) in enumerate(zip(payloads, timeouts, strict=True)):
            feed.put(index, function, payload, timeout, 0.0 if costs is None else costs[index])
        feed.close()
        yield from self.run_feed(feed, threads=min(self._size, max(1, len(payloads))))

    def run_feed(self, feed: JobFeed, threads: int | None = None):
        """Yield (key, JobResult) as the feed's jobs finish; the caller may add jobs between results and must
        close the feed once it will add no more."""
        if self._closed:  # closed, or broken by an infrastructure failure: no loop would ever take a job
            raise InfraError("sandbox closed")
        done: queue.Queue = queue.Queue()

        def loop(slot: int) -> None:
            while not self._closed:
                job = feed.take(lambda: self._closed)
                if job is None:
                    return
                key, function, payload, timeout = job
                try:
                    done.put((key, self._run_one(slot, function, payload, timeout)))
                except BaseException as exc:  # infrastructure failure: surface it in the caller's thread
                    done.put((key, exc))
                    return

        for slot in range(threads or self._size):
            threading.Thread(target=loop, args=(slot,), daemon=True).start()
        yielded = 0
        try:
            while True:
                finished, idle = feed.state(yielded)
                if finished:
                    return
                if idle:
                    raise RuntimeError("job feed left open with no job queued or running")
                key, result = done.get()
                if isinstance(result, BaseException):
                    self._closed = True
                    raise result
                yielded += 1
                yield key, result
        finally:
            feed.cancel()  # the caller stopped early (or all is done): queued jobs are not started

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, [None] * self._size
        for worker in workers:
            if worker is not None:
                worker.kill()
        for thread in self._starting:
            if thread is not None:
                thread.join(timeout=STARTUP_TIMEOUT)


class JobFeed:
    """Jobs for `WorkerPool.run_feed`, which may be added while it runs (e.g. a check that waits for its task's
    ground truth). Taken highest priority first (e.g. the longest expected run time), then in order of addition."""

    def __init__(self):
        self._heap: list = []
        self._added = 0
        self._closed = False
        self._cond = threading.Condition()

    def put(self, key: Any, function: str | Callable[[Any], Any], payload: Any, timeout: float,
            priority: float = 0.0) -> None:
        function = job_name(function)  # an unknown job fails here, not in the sandbox
        with self._cond:
            if self._closed:
                raise RuntimeError("job feed is closed")
            heapq.heappush(self._heap, (-priority, self._added, key, function, payload, timeout))
            self._added += 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()

    def take(self, stop: Callable[[], bool]):
        """(key, function, payload, timeout) of the next job; None once the feed is closed and empty (or stop())."""
        with self._cond:
            while not self._heap:
                if self._closed or stop():
                    return None
                self._cond.wait(0.5)
            return heapq.heappop(self._heap)[2:]

    def take_nowait(self):
        """(key, function, payload, timeout) of the next job, or None when none is queued now."""
        with self._cond:
            return heapq.heappop(self._heap)[2:] if self._heap else None

    def state(self, yielded: int) -> tuple[bool, bool]:
        """(finished: closed and every added job's result yielded, idle: open with nothing left to yield)."""
        with self._cond:
            return self._closed and yielded == self._added, not self._closed and yielded == self._added

"""The worker that runs inside every sandbox: reads (function, payload) frames, runs them, writes results.

It must import only the standard library and `sandboxes.guest.jobs` (plus what a job needs), because it runs inside
minimal images. Protocol frames use private duplicates of stdin/stdout; fd 0 and 1 are then pointed at /dev/null so
that untrusted code cannot read jobs or forge results, and forked children close the protocol fds as well.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback


def _private_channels() -> tuple[int, int]:
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = sys.stderr  # stray prints of the worker itself go to the log, not the protocol
    return proto_in, proto_out


def _close_in_children(fds: tuple[int, int]) -> None:
    """multiprocessing children (evalplus forks one per check) must not inherit the protocol. The hook runs again
    in grandchildren, where a closed protocol fd number may have been reused (bigcodebench's check starts a
    Manager from its child): only an fd that is still the protocol pipe is closed."""
    import multiprocessing.util

    identities = {fd: _identity(fd) for fd in fds}

    def close(_obj):
        for fd, identity in identities.items():
            try:
                if _identity(fd) == identity:
                    os.close(fd)
            except OSError:
                pass
        for fd in _NOTES:  # the job process's notes pipe (set only in a job process and its children)
            try:
                os.close(fd)
            except OSError:
                pass
        del _NOTES[:]
        _silence_stderr()

    multiprocessing.util.register_after_fork(close, close)


def _silence_stderr() -> None:
    """Samples write nowhere: their fd 2 (the worker's log) becomes /dev/null too, so a flood costs nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _harden() -> None:
    """Not dumpable: code running as the same user cannot open /proc/<worker>/fd/* (forge frames) or its memory."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError, ImportError):
        pass


def _is_namespace_init() -> bool:
    """True when the worker is PID 1 of a pid namespace of its own (docker, bwrap --as-pid-1). Both conditions:
    the sandbox says so and the pid agrees, so that the sweep below can never run on a host."""
    return os.environ.get("FGIT_SANDBOX_PIDNS") == "1" and os.getpid() == 1


def _sweep(deadline_s: float = 2.0) -> list[str]:
    """After each job, kill every other process of the namespace (daemons, fork-bomb leftovers) and reap them, then
    empty the scratch mounts and remove what the namespaces keep alive without a process (System V IPC, POSIX
    message queues, keys: sandboxes/guest/residue.py): nothing a sample starts or writes outlives it or reaches the
    next sample (a full /tmp or /dev/shm would break multiprocessing for every later job; an earlier sample's
    planted shared memory relayed a working program to a later one, issue 27). kill(-1) from PID 1 spares only
    PID 1. Returns what could not be removed (then the worker is retired: the pool starts a fresh sandbox)."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.001)
    import shutil

    for directory in filter(None, os.environ.get("FGIT_SANDBOX_SCRATCH", "").split(":")):
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass
    import multiprocessing.process

    multiprocessing.process.current_process()._config.pop("tempdir", None)  # it was in /tmp: made again on use
    from sandboxes.guest.residue import sweep_residue

    return sweep_residue()


def _join_on_exit_not_on_pipe() -> None:
    """multiprocessing's join() waits for the child's sentinel pipe to close; a daemon the sample forked inherits
    that pipe, so every check with a daemon would wait out its full timeout. Wait for the child's exit instead
    (the pipe still wakes us at once in the normal case; a 50 ms poll of waitpid covers the daemon case)."""
    from multiprocessing import connection, popen_fork

    original = popen_fork.Popen.wait

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            if self.poll(os.WNOHANG) is not None:
                break
            remaining = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if remaining <= 0:
                return None
            connection.wait([self.sentinel], remaining)
        return original(self, 0)

    popen_fork.Popen.wait = wait


def _identity(fd: int) -> tuple[int, int]:
    stat = os.fstat(fd)
    return stat.st_dev, stat.st_ino


EOF_EXIT = 3  # the job process found the protocol closed: the worker ends


def main() -> None:
    """Each job runs in a job process forked for it, which reads the job frame, runs the job and writes the result
    frame itself; the worker never reads a payload or a result. So the worker's memory, which every later job
    process and every candidate inherit, holds no earlier sample's program, input or output and no ground truth
    (issue 27: a child made itself dumpable again and found canonical solutions in the worker's freed heap). After
    the job process has exited, the worker sweeps the namespace and writes a second frame, ("swept", what
    survived): something left makes the pool retire this worker. Modules the job process imported are imported
    here afterwards, so that later job processes inherit them (evalplus, BigCodeBench's heavy libraries)."""
    import select

    from sandboxes.guest.protocol import encode

    proto_in, proto_out = _private_channels()
    _close_in_children((proto_in, proto_out))
    _harden()
    _join_on_exit_not_on_pipe()
    namespace_init = _is_namespace_init()
    if namespace_init:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # PID 1 ignores signals it has no handler for; keep it so
    reader = os.fdopen(proto_in, "rb", buffering=0)  # unbuffered: the job process reads exactly its frame
    writer = os.fdopen(proto_out, "wb", buffering=0)
    from sandboxes.guest import jobs

    jobs.warm(m for m in os.environ.get("FGIT_GUEST_WARM", "").split(",") if m)  # the environment's libraries
    writer.write(encode(("ready", os.getpid())))
    while True:
        select.select([proto_in], [], [])  # a job frame (or the end): the job process reads it
        notes_r, notes_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(notes_r)
                _job_process(reader, writer, notes_w)
            finally:
                os._exit(1)  # never back into this loop: a job process is not a second worker
        os.close(notes_w)
        status = _wait(pid)
        modules = _read_ready(notes_r)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EOF_EXIT:
            return
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            # Killed (a candidate may signal its parent) or broken before answering: the job fails, and this
            # worker ends (the job frame may not have been read to its end); the pool starts a fresh one.
            writer.write(encode((("error", f"the job process died ({_describe(status)})"), 0.0)))
            return
        left = _sweep() if namespace_init else []
        writer.write(encode(("swept", "; ".join(left))))
        jobs.warm(modules)


_NOTES: list[int] = []  # the job process's notes pipe: closed in every process it forks (see _close_in_children)


def _job_process(reader, writer, notes_w: int) -> None:
    """The forked job process: one frame in, one result frame out, exit status 0; then, on `notes_w`, the names of
    the modules it imported (the worker imports them for later job processes). Its children never hold
    `notes_w`."""
    import sys

    from sandboxes.guest.jobs import JOBS
    from sandboxes.guest.protocol import encode, read_frame, resolve_job

    _NOTES.append(notes_w)
    before = set(sys.modules)
    try:
        frame = read_frame(reader.read)
    except EOFError:
        os._exit(EOF_EXIT)
    start = time.perf_counter()
    try:
        function, payload = resolve_job(frame)
        del frame
        result = ("ok", JOBS[function](payload))
    except BaseException as exc:  # the job failed, not the worker: report and go on
        result = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
    try:
        data = encode((result, time.perf_counter() - start))
    except BaseException as exc:  # noqa: BLE001  (a result that does not pickle)
        data = encode((("error", f"result not encodable: {type(exc).__name__}"), time.perf_counter() - start))
    writer.write(data)
    try:
        os.write(notes_w, "\n".join(sorted(set(sys.modules) - before))[:1 << 15].encode())
    except OSError:
        pass
    os._exit(0)


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def _read_ready(fd: int) -> list[str]:
    """What the exited job process wrote (non-blocking: nothing else holds the pipe, but never wait on it)."""
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 1 << 16)
    except OSError:
        data = b""
    os.close(fd)
    return [name for name in data.decode("utf-8", "replace").split("\n") if name]


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status}"


if __name__ == "__main__":
    main()

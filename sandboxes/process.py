"""`process`: workers are plain subprocesses with rlimits and their own process group. Not isolation:
the code can read the host's files and open network connections. Use docker or bwrap for untrusted models."""

from __future__ import annotations

import hashlib
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sandboxes.base import SANDBOXES, Limits, Sandbox
from sandboxes.environments import get_environment
from sandboxes.guest.protocol import read_frame
from sandboxes.pool import WorkerHandle

SOURCE_ROOT = Path(__file__).resolve().parent.parent  # this checkout: never visible inside an isolating sandbox
GUEST_DIR = SOURCE_ROOT / "sandboxes" / "guest"  # the only code a sandbox sees, mounted at <root>/sandboxes/guest


def guest_root() -> str:
    """A directory holding only `sandboxes/guest` (a symlink to this checkout's guest package), for PYTHONPATH: there
    `sandboxes` is a namespace package with nothing of the host in it, as inside docker and bwrap."""
    root = Path(tempfile.gettempdir()) / f"fgit-bench-guest-{os.getuid()}-{hashlib.sha256(str(GUEST_DIR).encode()).hexdigest()[:12]}"
    link = root / "sandboxes" / "guest"
    if not link.is_symlink():
        (root / "sandboxes").mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(GUEST_DIR, link)
        except FileExistsError:  # another worker made it first
            pass
    if os.path.realpath(link) != str(GUEST_DIR):
        raise OSError(f"{link} does not point at {GUEST_DIR}")
    return str(root)


def rlimit_setter(limits: Limits):
    """preexec_fn for the worker: rlimits that its children (the samples) inherit."""

    def apply() -> None:
        mb = 1 << 20
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))

    return apply


class PipeWorker(WorkerHandle):
    """A worker whose protocol runs over the pipes of a local `Popen` (process and bwrap backends)."""

    def __init__(self, argv: list[str], env: dict[str, str], preexec_fn=None, cwd: str | None = None,
                 scratch: str | None = None):
        self._scratch = scratch  # the worker's own temp dir, removed with it (what a killed child left there too)
        self._log = tempfile.TemporaryFile(prefix="fgit-worker-")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=cwd,
            preexec_fn=preexec_fn, start_new_session=True,  # own process group: killpg reaches every child
            # Unbuffered: `recv` selects on the pipe, so no frame may wait in a reader's buffer (a job's result and
            # the worker's sweep frame often arrive in one read; the second then looked like a silent worker).
            bufsize=0,
        )
        self._killed_by_us = False

    def send(self, frame: bytes) -> None:
        self.proc.stdin.write(frame)
        self.proc.stdin.flush()

    def recv(self, timeout: float):
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        return read_frame(self.proc.stdout.read)

    def kill(self) -> None:
        self._killed_by_us = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._log.close()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def exit_reason(self) -> str:
        code = self.proc.poll()
        if code is None:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                return "sandbox_error"
        return "oom" if code == -signal.SIGKILL and not self._killed_by_us else "sandbox_error"

    def log_tail(self, size: int = 4000) -> str:
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - size))
        return self._log.read().decode("utf-8", "replace")


def worker_env(extra: dict[str, str] | None = None, environment: str | None = None) -> dict[str, str]:
    """A small, explicit environment: no secrets from the caller's environment leak into samples. With the
    sandbox's `environment`, the modules its workers import at start (FGIT_GUEST_WARM)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.update(extra or {})
    warm = get_environment(environment).warm_modules if environment else ()
    if warm:
        env["FGIT_GUEST_WARM"] = ",".join(warm)
    return env


@SANDBOXES.register("process")
class ProcessSandbox(Sandbox):
    name = "process"
    isolating = False

    def __init__(self, limits: Limits | None = None, jobs: int = 1, environment: str = "evalplus"):
        super().__init__(limits, jobs, environment)
        self.python = get_environment(environment).host_python()
        print("fgit-bench: warning: sandbox 'process' only sets rlimits, it is not isolation (use docker or bwrap)",
              file=sys.stderr)

    @classmethod
    def check(cls) -> tuple[bool, str]:
        return True, "always available (rlimits only, no isolation)"

    def spawn_worker(self) -> WorkerHandle:
        # Each worker gets its own TMPDIR, removed with the worker: evalplus's per-check temp dir outlives a child
        # killed with SIGKILL (a time limit), which left one empty /tmp/tmpXXXX per such check on the host.
        scratch = tempfile.mkdtemp(prefix="fgit-bench-worker-")
        env = worker_env({"PYTHONPATH": guest_root(), "HOME": scratch, "TMPDIR": scratch,
                          "EVALPLUS_MAX_MEMORY_BYTES": str(self.limits.memory_mb << 20)}, self.environment)
        return PipeWorker([self.python, "-m", "sandboxes.guest.worker"], env, preexec_fn=rlimit_setter(self.limits),
                          cwd=scratch, scratch=scratch)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "python": self.python, "image_id": None, "isolating": False,
                "limits": self.limits.__dict__}

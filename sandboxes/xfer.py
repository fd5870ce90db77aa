"""Per-worker transfer directories: the harness writes a large job frame there as a file, and the worker, which
sees the directory read-only, reads it (sandboxes.pool). On memory-backed storage (/dev/shm) where possible.

One directory per worker, so that a sample can only ever see its own job's frame (data it already holds in
memory). Names carry the harness's pid and start time: directories of dead harnesses are removed on next use."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid

ROOT_NAME = "fgit-bench-xfer"
_swept = False
_lock = threading.Lock()


def _root() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = os.path.join(base, ROOT_NAME)
    os.makedirs(root, mode=0o711, exist_ok=True)
    return root


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _sweep_stale(root: str) -> None:
    for name in os.listdir(root):
        pid, _, rest = name.partition("-")
        started, _, _ = rest.partition("-")
        if pid.isdigit() and _start_time(int(pid)) != started:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def make_xfer_dir() -> str:
    """A fresh directory, readable (not writable) by the sandbox's unprivileged user."""
    global _swept
    root = _root()
    with _lock:
        if not _swept:
            _swept = True
            _sweep_stale(root)
    pid = os.getpid()
    path = os.path.join(root, f"{pid}-{_start_time(pid)}-{uuid.uuid4().hex[:12]}")
    os.mkdir(path, 0o755)
    os.chmod(path, 0o755)  # whatever the umask
    return path


def remove_xfer_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)

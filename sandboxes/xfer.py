"""Per-worker transfer directories: the harness writes a large job frame there as a file, and the worker, which
sees the directory read-only, reads it (sandboxes.pool). On memory-backed storage (/dev/shm) where possible.

One directory per worker, so that a sample can only ever see its own job's frame (data it already holds in
memory). Names carry the harness's pid and start time: directories of dead harnesses are removed by
`sweep_stale_xfer_dirs` (with the stale containers, when a docker sandbox opens)."""

from __future__ import annotations

import os
import shutil
import tempfile

from sandboxes.base import process_start, same_process_alive

ROOT_NAME = "fgit-bench-xfer"


def _root() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = os.path.join(base, ROOT_NAME)
    os.makedirs(root, mode=0o711, exist_ok=True)
    return root


def sweep_stale_xfer_dirs() -> None:
    root = _root()
    for name in os.listdir(root):
        pid, _, rest = name.partition("-")
        started, _, _ = rest.partition("-")
        try:
            alive = same_process_alive(int(pid), float(started))
        except ValueError:
            alive = False
        if not alive:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def make_xfer_dir() -> str:
    """A fresh directory, readable (not writable) by the sandbox's unprivileged user."""
    pid = os.getpid()
    path = tempfile.mkdtemp(prefix=f"{pid}-{process_start(pid) or 0:.2f}-", dir=_root())
    os.chmod(path, 0o755)  # mkdtemp makes it 0700
    return path


def remove_xfer_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)

"""Output directories: one writer at a time, and an evaluation's files published together.

The lock is a file beside the directory (`.<name>.lock`, so publishing can replace the directory itself), held
with flock while a command writes: a second writer gets exit 2 "<dir> is in use by pid N", and readers (the gate,
the leaderboard and its exports) hold it shared while they read, so they refuse a directory that is being written
and a writer cannot start under them. flock dies with its process, so a killed run leaves no stale lock.

The lock belongs to the directory, not to the name it was reached by: its path is resolved first (symlinks, `..`,
a relative path), so a symlink to a run directory and the directory itself share one lock (issue 28).

`publish` writes the files into a staging directory next to the target and swaps it in with one rename
(renameat2 RENAME_EXCHANGE where the kernel has it): a reader sees the old set of files or the new one, never a
mix, and a failure (a full disk included) removes the staging directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from harness.core import atomic
from harness.core.errors import BadInput

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def resolved(directory: str | os.PathLike) -> Path:
    """The directory's identity: its absolute path with every symlink resolved (as far as it exists yet)."""
    return Path(os.path.realpath(directory))


def lock_path(directory: str | os.PathLike) -> Path:
    real = resolved(directory)
    return real.parent / f".{real.name}.lock"


def _holder(fd: int) -> str:
    pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return f"pid {pid}" if pid.isdigit() else "another process"


@contextlib.contextmanager
def locked(directory: str | os.PathLike) -> Iterator[None]:
    """Hold `directory`'s writer lock, or raise BadInput naming the process that holds it."""
    directory = Path(directory)
    path = lock_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # unbuffered: a full disk must not fail a later flush on close
        fd = os.open(path, os.O_RDWR | os.O_CREAT, atomic.file_mode())
    except OSError as exc:
        raise atomic.named(exc, path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:  # only readers hold it (shared): the pid in the file, if any, is a dead writer's
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BadInput(f"{directory} is in use by {_holder(fd)}") from None
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise BadInput(f"{directory} is in use by another process reading it") from None
        try:  # who holds it, for the other writer's message; a full disk only costs that message
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def reading(directory: str | os.PathLike) -> Iterator[None]:
    """For readers: hold `directory`'s lock shared while reading it. BadInput when a writer holds it (its files may
    be half-published); while we hold it, a writer gets "in use". A directory whose lock file cannot be created
    (read-only) is read without it: nobody can be writing there through us."""
    directory = Path(directory)
    if not directory.is_dir():  # nothing to read: the caller reports that, and no lock file appears beside it
        yield
        return
    path = lock_path(directory)
    fd = None
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            fd = os.open(path, flags, atomic.file_mode())
            break
        except OSError:
            continue
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInput(f"{directory} is in use by {_holder(fd)}: wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the kernel or libc cannot (then the caller renames twice)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def publish(directory: str | os.PathLike, files: dict[str, bytes], keep_others: bool = True) -> None:
    """Make `directory` hold `files` (name → content), all of them appearing at once. Other entries already in
    the directory are kept (hard links) unless `keep_others` is False. Call it holding `locked(directory)`.
    A symlink is followed: the directory it points to is replaced, the link stays."""
    given = Path(directory)
    directory = resolved(given)
    staging = directory.parent / f".{directory.name}.staging-{os.getpid()}"
    # Callers hold the directory's lock, so any other staging copy is a killed writer's leftover.
    for pattern in (f".{directory.name}.staging-*", f".{directory.name}.old-*"):
        for leftover in directory.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        os.chmod(staging, atomic.dir_mode())
        for name, data in files.items():
            atomic.write_bytes(staging / name, data)
        if keep_others and directory.is_dir():
            for entry in directory.iterdir():
                if entry.name in files:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, staging / entry.name, symlinks=True, copy_function=os.link)
                else:
                    os.link(entry, staging / entry.name, follow_symlinks=False)
        if not directory.exists():
            os.rename(staging, directory)
        elif _exchange(staging, directory):
            shutil.rmtree(staging)  # the previous contents
        else:
            old = directory.parent / f".{directory.name}.old-{os.getpid()}"
            os.rename(directory, old)
            os.rename(staging, directory)
            shutil.rmtree(old)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):  # name the directory being published, not the staging one just removed
            raise type(exc)(exc.errno, exc.strerror, str(given)) from None
        raise

"""The CLI's last line of defence: an exception nobody expected becomes exit 3 with one line naming where the full
traceback was written; a full or read-only disk becomes exit 3 "no space left on <path>". Exit 1 stays the gate's
verdict alone, so a crash can never read as a regression (nor a pass)."""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from harness.core.errors import EXIT_INFRA

NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def find_no_space(exc: BaseException) -> OSError | None:
    """The disk-full / quota / read-only error behind `exc` (itself or a cause/context), else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
            return exc
        if isinstance(exc, shutil.Error):  # copytree gathers its copies' errors as text: the errno is lost there
            found = _no_space_in_copy_errors(exc)
            if found is not None:
                return found
        exc = exc.__cause__ or exc.__context__
    return None


def _no_space_in_copy_errors(exc: shutil.Error) -> OSError | None:
    entries = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    for entry in entries:
        if isinstance(entry, tuple) and len(entry) == 3:
            for code in NO_SPACE_ERRNOS:
                if os.strerror(code) in str(entry[2]):
                    return OSError(code, os.strerror(code), str(entry[1]))
    return None


def no_space_message(exc: OSError) -> str:
    where = exc.filename or "an output or cache file (the operating system did not say which)"
    why = {errno.EDQUOT: " (disk quota exceeded)", errno.EROFS: " (read-only file system)"}.get(exc.errno, "")
    return f"no space left on {where}{why}"


def _log_candidates(args) -> list[Path]:
    """RUN_DIR/error.log (or the evaluation's output dir) when the command has one, then the cache's log dir, then
    the temp dir: the first that takes the file wins."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"error-{stamp}-{os.getpid()}.log"
    candidates = []
    output = getattr(args, "output", None)
    if isinstance(output, str) and output and Path(output).is_dir():
        candidates.append(Path(output) / "error.log")
    from harness.core.data import cache_root

    candidates += [cache_root() / "logs" / name, Path(tempfile.gettempdir()) / f"fgit-bench-{name}"]
    return candidates


def write_traceback(exc: BaseException, args) -> Path | None:
    text = "".join(traceback.format_exception(exc))
    header = f"fgit-bench {' '.join(sys.argv[1:])}\n{datetime.now(UTC).isoformat()}\n\n"
    data = (header + text + "\n").encode("utf-8", "backslashreplace")
    for path in _log_candidates(args):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _append_whole(path, data)
            return path
        except OSError:
            continue
    return None


def _append_whole(path: Path, data: bytes) -> None:
    """Append `data` to `path` whole or not at all: on a full disk a partial traceback is cut off again (and a
    file this call created is removed), so the next candidate gets the whole of it."""
    existed = path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    size = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError:
        if existed:
            os.ftruncate(fd, size)
        else:
            os.unlink(path)
        raise
    finally:
        os.close(fd)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"


def report_unexpected(exc: BaseException, args) -> int:
    """Print one line to stderr and return exit 3."""
    full = find_no_space(exc)
    if full is not None:
        print(f"fgit-bench: error: {no_space_message(full)}", file=sys.stderr)
        return EXIT_INFRA
    if "No space left on device" in str(exc):  # libraries that wrap the OSError (torch.save: RuntimeError)
        log = write_traceback(exc, args)
        print(f"fgit-bench: error: no space left on device ({type(exc).__name__} in {_where(exc)}"
              f"{f'; full traceback in {log}' if log else ''})", file=sys.stderr)
        return EXIT_INFRA
    message = " ".join(str(exc).split())[:300] or "(no message)"
    log = write_traceback(exc, args)
    where = f"full traceback in {log}" if log else "the traceback could not be written anywhere"
    print(f"fgit-bench: internal error: {type(exc).__name__}: {message} ({_where(exc)}); {where}", file=sys.stderr)
    return EXIT_INFRA

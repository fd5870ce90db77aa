"""The CLI's last line of defence: an exception nobody expected becomes exit 3 with one line naming where the full
traceback was written; a full or read-only disk becomes exit 3 "no space left on <path>". Exit 1 stays the gate's
verdict alone, so a crash can never read as a regression (nor a pass)."""

from __future__ import annotations

import errno
import os
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
        exc = exc.__cause__ or exc.__context__
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
    for path in _log_candidates(args):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(header + text + "\n")
            return path
        except OSError:
            continue
    return None


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

"""Atomic file writes (temp file in the same directory + fsync + rename): a crash never leaves half a file.

Files get the mode the umask gives (0644 under the usual 022), as every other tool's outputs do; mkstemp alone
would make them 0600. A failed write removes its temp file and names the target in the error (a full disk's
ENOSPC from write() carries no file name).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process umask, read without changing it (os.umask sets it, which races with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    return 0o777 & ~current_umask()


def named(exc: OSError, path: Path) -> OSError:
    """`exc` with `path` as its file name when the system gave none."""
    if exc.filename is None:
        renamed = type(exc)(exc.errno, exc.strerror, str(path))
        renamed.__cause__ = exc
        return renamed
    return exc


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise named(exc, path) from None
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_bytes(obj: Any, indent: int | None = 2) -> bytes:
    # default=repr: failing test inputs can hold sets or other values JSON has no type for
    return (json.dumps(obj, indent=indent, sort_keys=False, default=repr) + "\n").encode("utf-8")


def jsonl_bytes(rows: Iterable[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False, default=repr) + "\n" for row in rows).encode("utf-8")


def jsonl_lines(text: str) -> list[str]:
    """The lines of JSONL text, split at "\\n" only (a "\\r" before it is JSON whitespace). Never `str.splitlines()`:
    it also splits at U+2028, U+2029, U+0085 (valid unescaped inside JSON strings, and `jsonl_bytes` writes them
    so), U+000B, U+000C and U+001C..U+001E, cutting one row in two."""
    return text.split("\n")


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    write_bytes(path, json_bytes(obj, indent))


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    write_bytes(path, jsonl_bytes(rows))


def append_jsonl(path: str | os.PathLike, row: dict) -> None:
    """Append one complete line and fsync it: a journal that a resumed run reads back.

    A crash can leave at most a truncated last line, which `read_journal` ignores.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        with open(path, "ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise named(exc, path) from None


def read_journal(path: str | os.PathLike) -> list[dict]:
    """Complete lines of a journal written by `append_jsonl`; a torn last line is dropped."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # torn write from a crash: the entry is recomputed
    return rows

"""The envelope every cache entry is stored in: its key and a checksum of its content, checked on every read.

A read that does not verify (unreadable, truncated, another key's entry, a flipped byte, a value that fails the
cache's own validation) is a miss: the caller recomputes it, and the first such entry of each cache kind is
reported once on stderr. Never a crash, never a trusted value. The envelope does not care what the payload is, so
each cache keeps its own layout and format (JSON values, or bytes such as an encoded ground truth).

    JSON entry:  {"envelope": 1, "key": KEY, "sha256": sha256(canonical JSON of value), "value": VALUE}
    bytes entry: one JSON header line {"envelope": 1, "key": KEY, "sha256": ..., "size": N}, then the N bytes
    directory:   DIR/cache_entry.json, a JSON entry whose value is {"files": {relative path: [size, sha256]}}
                 of every other file below DIR (`seal_dir`, `verify_dir`: a model directory, an artifact)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core import atomic
from harness.core.hashing import file_digest, json_digest

ENVELOPE = 1
_reported: set[str] = set()  # cache kinds whose damage was reported by this process


def report_damage(kind: str, path: Path, reason: str) -> None:
    """Say once per process and cache kind that a damaged entry is being recomputed."""
    if kind in _reported:
        return
    _reported.add(kind)
    print(f"fgit-bench: warning: damaged {kind} cache entry {path} ({reason}): recomputed, not trusted "
          f"(further damaged {kind} entries are recomputed without a message)", file=sys.stderr)


def _plain(value: Any) -> Any:
    """The value as it reads back from JSON (tuples → lists, ...), so the checksum is of what a reader sees."""
    return json.loads(json.dumps(value, default=repr))


def _read(path: Path, kind: str) -> bytes | None:
    """The entry's bytes; None for a miss: no entry, or one that cannot be read (reported)."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        report_damage(kind, path, f"unreadable: {exc.strerror}")
        return None


def write_json(path: str | os.PathLike, key: str, value: Any) -> None:
    value = _plain(value)
    document = {"envelope": ENVELOPE, "key": key, "sha256": json_digest(value), "value": value}
    # ensure_ascii: a lone surrogate in model output is stored escaped, never an encoding error
    atomic.write_text(path, json.dumps(document, separators=(",", ":")) + "\n")


def read_json(path: str | os.PathLike, key: str, kind: str,
              validate: Callable[[Any], Any] | None = None) -> Any | None:
    """The value stored under `key`, or None (a miss). `validate(value)` returns the value to use, or raises
    (ValueError, TypeError, KeyError) when the content makes no sense for this cache."""
    path = Path(path)
    data = _read(path, kind)
    if data is None:
        return None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        report_damage(kind, path, "not valid JSON")
        return None
    value = _verified(document, key, kind, path)
    if value is None or validate is None:
        return value
    try:
        return validate(value)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        report_damage(kind, path, f"invalid content: {exc}")
        return None


def _verified(document: Any, key: str, kind: str, path: Path) -> Any | None:
    if not isinstance(document, dict) or document.get("envelope") != ENVELOPE or "value" not in document:
        report_damage(kind, path, "no envelope")
        return None
    if document.get("key") != key:
        report_damage(kind, path, "stored under another key")
        return None
    if document.get("sha256") != json_digest(document["value"]):
        report_damage(kind, path, "checksum mismatch")
        return None
    return document["value"]


def write_bytes(path: str | os.PathLike, key: str, payload: bytes) -> None:
    header = {"envelope": ENVELOPE, "key": key, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    atomic.write_bytes(path, json.dumps(header, separators=(",", ":")).encode("ascii") + b"\n" + payload)


def read_bytes(path: str | os.PathLike, key: str, kind: str) -> bytes | None:
    path = Path(path)
    data = _read(path, kind)
    if data is None:
        return None
    head, newline, payload = data.partition(b"\n")
    try:
        header = json.loads(head.decode("ascii")) if newline else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("envelope") != ENVELOPE:
        report_damage(kind, path, "no envelope")
        return None
    if header.get("key") != key:
        report_damage(kind, path, "stored under another key")
        return None
    if header.get("size") != len(payload) or header.get("sha256") != hashlib.sha256(payload).hexdigest():
        report_damage(kind, path, "checksum mismatch")
        return None
    return payload


DIR_ENTRY = "cache_entry.json"  # a sealed directory's envelope, inside it


def file_table(directory: Path) -> dict[str, list]:
    """relative path -> [size, sha256] of every file below `directory` but its envelope."""
    return {str(p.relative_to(directory)): [p.stat().st_size, file_digest(p)]
            for p in sorted(Path(directory).rglob("*")) if p.is_file() and p.name != DIR_ENTRY}


def seal_dir(directory: Path, key: str) -> None:
    """Record every file of `directory` (size and sha256) in its envelope, under `key`."""
    write_json(Path(directory) / DIR_ENTRY, key, {"files": file_table(Path(directory))})


def verify_dir(directory: Path, key: str, kind: str, required: str | None = None) -> bool:
    """The files of `directory` are exactly those its envelope recorded under `key`, byte for byte (and the
    record names `required`, where given). A mismatch is reported once per kind; the caller recomputes."""
    recorded = read_json(Path(directory) / DIR_ENTRY, key, kind)
    files = recorded.get("files") if isinstance(recorded, dict) else None
    if not isinstance(files, dict) or (required is not None and required not in files):
        if recorded is not None:
            report_damage(kind, Path(directory) / DIR_ENTRY, "no file table recorded")
        return False
    if file_table(Path(directory)) != files:
        report_damage(kind, Path(directory), "files differ from their checksums")
        return False
    return True

"""Content hashes for cache keys and provenance."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(root: str | os.PathLike) -> str:
    """sha256 over the relative paths and contents of every file below `root` (sorted, so order-independent)."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(file_digest(path).encode() + b"\0")
    return digest.hexdigest()


def json_digest(obj: Any) -> str:
    """sha256 of a canonical JSON encoding (sorted keys): equal configs give equal keys."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()  # a lone surrogate still hashes


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def value_digest(value: Any) -> str:
    """sha256 of a Python value by type and content, the same in every process (sets are sorted by their
    elements' encodings: a set's iteration order depends on the process's hash seed). For ground-truth outputs,
    whose types JSON cannot tell apart (tuple vs list, int vs float, sets)."""
    return hashlib.sha256(_canonical(value).encode("utf-8", "surrogatepass")).hexdigest()


def _canonical(value: Any) -> str:
    kind = type(value)
    if kind is int:  # hex: decimal conversion of huge ints is capped (sys.set_int_max_str_digits)
        return f"int:{value:x}"
    if value is None or kind in (bool, str, bytes, complex):
        return f"{kind.__name__}:{value!r}"
    if kind is float:
        return f"float:{value.hex()}"
    if kind in (list, tuple):
        return f"{kind.__name__}[" + ",".join(_canonical(v) for v in value) + "]"
    if kind in (set, frozenset):
        return f"{kind.__name__}{{" + ",".join(sorted(_canonical(v) for v in value)) + "}"
    if kind is dict:
        items = sorted(f"{_canonical(k)}={_canonical(v)}" for k, v in value.items())
        return "dict{" + ",".join(items) + "}"
    return f"{kind.__module__}.{kind.__qualname__}:{value!r}"  # e.g. numpy scalars: their repr is their value

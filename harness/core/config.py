"""Typed configuration: dataclasses are the one source of defaults; TOML tables fill them in.

Unknown keys are bad input (with a "did you mean"), so a typo in a config never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from harness.core.errors import BadInput

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from a mapping, recursing into nested dataclass fields."""
    if not isinstance(data, dict):
        raise BadInput(f"{where}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise BadInput(f"{where}: unknown key {key!r}{hint}")
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{where}: {exc}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        if len(args) == 1:
            return _coerce(args[0], value, where)
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, tuple) and isinstance(value, list):
        (item,) = typing.get_args(hint)[:1] or (Any,)
        items = [_coerce(item, v, f"{where}[]") for v in value] if item is not Any else value
        return tuple(items) if origin is tuple else items
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise BadInput(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def read_toml(path: str | Path) -> dict:
    """A TOML file as a dict; a missing or malformed file is bad input (one line)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from None


def load_toml(cls: type[T], path: str | Path, table: str | None = None) -> T:
    """Load `cls` from a TOML file (optionally from one of its tables)."""
    data = read_toml(path)
    if table is not None:
        data = data.get(table, {})
    return from_dict(cls, data, where=str(path))


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as plain JSON-able data (for manifests and cache keys)."""
    return dataclasses.asdict(obj)

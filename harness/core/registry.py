"""Name → implementation registries, in the style of lm-eval's `@register`, with "did you mean" on typos."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Generic, TypeVar

from harness.core.errors import BadInput

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of classes or factories. `kind` appears in error messages ("unknown sandbox ...")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self._entries))
            raise BadInput(f"unknown {self.kind} {name!r}{hint} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

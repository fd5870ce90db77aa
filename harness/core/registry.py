"""Name → implementation registries, in the style of lm-eval's `@register`, with "did you mean" on typos.

One generic, typed registry serves every kind (benchmarks, generation backends, sandboxes, environments, training
plugins, variant sources, embeddings). An entry is found three ways, and nothing is imported before it is asked for:

- `@REGISTRY.register(name)` on a class (or `REGISTRY.register(name)(instance)`) in a module of the registry's
  `package`: the package's source files are *read* (not imported) for these calls, so `names()` and `"x" in R`
  cost no imports and `get("x")` imports only the module that defines `x` (a new module is a new entry: no list);
- `add(name, "module:object")`: an explicit lazy entry;
- Python entry points of `group` (e.g. `fgit_bench.plugins`): a method published as its own pip package
  registers itself with `[project.entry-points."fgit_bench.plugins"] mymethod = "mypkg.plugin:MyPlugin"`.

`get` checks what it loads against `base` (a subclass, or an instance for instance registries).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Generic, TypeVar

from harness.core.errors import BadInput

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of classes (or instances, `instances=True`). `kind` appears in error messages."""

    def __init__(self, kind: str, base: type | str | None = None, *, package: str | None = None,
                 markers: tuple[str, ...] = (), group: str | None = None, instances: bool = False):
        self.kind = kind
        self.base = base  # a class, or "module:Class" where the registry is defined above its base class
        self.package = package  # its modules' source is scanned for `<marker>("name")` calls
        self.markers = markers  # e.g. ("BENCHMARKS.register",)
        self.group = group
        self.instances = instances
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name -> "module" (registers itself on import) or "module:object"
        self._discovered = False

    # ---- declaring entries ----------------------------------------------------------------------------------

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def add(self, name: str, target: str) -> None:
        """A lazy entry: `target` is "module:object", imported on first `get(name)`."""
        self._lazy.setdefault(name, target)

    # ---- looking entries up ---------------------------------------------------------------------------------

    def get(self, name: str) -> T:
        if name not in self._entries:
            self._discover()
            target = self._lazy.get(name)
            if target is None:
                self._unknown(name)
            self._load(name, target)
        return self._entries[name]

    def check_name(self, name: str, where: str, extra: tuple[str, ...] = ()) -> None:
        """BadInput "<where>: unknown <kind> 'x'; did you mean 'y'? (known: ...)" unless `name` is registered or one
        of `extra` (e.g. "auto"); imports nothing, so settings are checked before any work starts."""
        if name in extra or (isinstance(name, str) and name in self):
            return
        self._unknown(name, extra, f"{where}: ")

    def names(self) -> list[str]:
        self._discover()
        return sorted(set(self._entries) | set(self._lazy))

    def items(self) -> list[tuple[str, T]]:
        """Every entry, loaded (imports every module that defines one: for listings, not for lookups)."""
        return [(name, self.get(name)) for name in self.names()]

    def loaded(self, name: str) -> bool:
        """Whether `name` is registered already (a module run as __main__ must not register a second object)."""
        return name in self._entries

    def __contains__(self, name: str) -> bool:
        if name in self._entries:
            return True
        self._discover()
        return name in self._lazy

    # ---- internals ------------------------------------------------------------------------------------------

    def _unknown(self, name: str, extra: tuple[str, ...] = (), prefix: str = ""):
        known = [*extra, *self.names()]
        close = difflib.get_close_matches(name, known, n=1) if isinstance(name, str) else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadInput(f"{prefix}unknown {self.kind} {name!r}{hint} (known: {', '.join(known)})")

    def _load(self, name: str, target: str) -> None:
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            obj = getattr(module, attribute) if attribute else self._entries.get(name)
        except (ImportError, AttributeError) as exc:
            raise BadInput(f"{self.kind} {name!r}: cannot load {target}: {exc}") from None
        if obj is None:
            raise BadInput(f"{self.kind} {name!r}: {module_name} does not register it")
        base = self.base
        if isinstance(base, str):
            base_module, _, base_name = base.partition(":")
            base = getattr(importlib.import_module(base_module), base_name)
        if base is not None:
            ok = isinstance(obj, base) if self.instances else isinstance(obj, type) and issubclass(obj, base)
            if not ok:
                what = "an instance" if self.instances else "a subclass"
                raise BadInput(f"{self.kind} {name!r}: {target} is not {what} of {base.__name__}")
        self._entries[name] = obj

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        if self.package and self.markers:
            for name, module in _scan_package(self.package, self.markers):
                self._lazy.setdefault(name, module)
        if self.group:
            for entry in _entry_points().select(group=self.group):
                self._lazy.setdefault(entry.name, entry.value)


@functools.cache
def _entry_points() -> metadata.EntryPoints:
    """Every installed distribution's entry points, read once per process for all registries."""
    return metadata.entry_points()


def _scan_package(package: str, markers: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, module) for every `<marker>("name")` call at the start of a line in the package's modules."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    callee = "|".join(re.escape(m) for m in markers)
    pattern = re.compile(rf'^\s*@?(?:{callee})\(\s*["\']([^"\']+)["\']\s*\)', re.MULTILINE)
    found = []
    for location in spec.submodule_search_locations:
        for path in sorted(Path(location).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            for match in pattern.finditer(text):
                module = package if path.stem == "__init__" else f"{package}.{path.stem}"
                found.append((match.group(1), module))
    return found

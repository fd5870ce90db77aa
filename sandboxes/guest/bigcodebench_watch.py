"""What the BigCodeBench runner watches for tampering (sandboxes/guest/bigcodebench_runner.py): a snapshot of the
watched modules' and classes' attributes taken before the candidate runs, and what changed since.

The runner holds its own references to these functions (taken before the candidate runs) and checks their code
objects inline, so replacing a name here or there is itself reported; both modules are watched.
"""

from __future__ import annotations

# Modules whose attributes (and, for unittest's, whose classes' attributes) must be the originals after the run.
WATCHED_MODULES = ("unittest", "unittest.case", "unittest.suite", "unittest.loader", "unittest.result",
                   "unittest.util", "unittest.signals", "builtins", "numpy.testing", "pandas.testing", __name__,
                   "sandboxes.guest.bigcodebench_runner")
WATCHED_NUMPY = ("allclose", "isclose", "array_equal", "array_equiv", "testing")


def _snapshot(extra_classes=()) -> dict:
    """The watched objects and, for each, its attributes as they are now: modules by their `sys.modules` name,
    the unittest classes by the class object itself (so a rebinding is reported once, and the original class is
    still compared), and `sys.modules`."""
    import sys

    modules, classes = {}, {}
    for name in WATCHED_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        modules[name] = (module, dict(vars(module)))
        if name.startswith("unittest"):
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__.startswith("unittest") and id(value) not in classes:
                    classes[id(value)] = (value, dict(vars(value)))
    for value in extra_classes:  # the runner's own result class
        classes[id(value)] = (value, dict(vars(value)))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        modules["numpy"] = (numpy, {a: getattr(numpy, a) for a in WATCHED_NUMPY if hasattr(numpy, a)})
    return {"modules": modules, "classes": classes, "sys.modules": dict(sys.modules)}


def _changes(before: dict, missing=object()) -> list[str]:
    """What differs now from `before`: replaced or removed module attributes, changed class attributes,
    replaced or removed `sys.modules` entries. Modules may gain attributes (importing a submodule does)."""
    import sys

    found = []
    for name, module in before["sys.modules"].items():
        now = sys.modules.get(name)
        if now is not module:
            found.append(f"sys.modules[{name!r}] {'removed' if now is None else 'replaced'}")
    for name, (module, attrs) in before["modules"].items():
        current = vars(module) if name != "numpy" else {a: getattr(module, a, None) for a in attrs}
        found += [f"{name}.{a} {'removed' if a not in current else 'replaced'}" for a, v in attrs.items()
                  if current.get(a, missing) is not v]
    for klass, attrs in before["classes"].values():
        current = vars(klass)
        label = f"{klass.__module__}.{klass.__qualname__}"
        found += [f"{label}.{a} {'removed' if a not in current else 'replaced'}" for a, v in attrs.items()
                  if current.get(a, missing) is not v]
        found += [f"{label}.{a} added" for a in current if a not in attrs]
    return found


def _summary(changes: list[str]) -> list[str]:
    return changes[:6] + ([f"and {len(changes) - 6} more"] if len(changes) > 6 else [])

"""Code execution backends. `make_sandbox("auto")` picks docker, then bwrap, then process, and says which.

The worker imports this package inside minimal sandboxes where only `sandboxes/` is mounted, so nothing here may
import `harness` at import time: `SANDBOXES`, `Limits` and `Sandbox` are loaded on first use (PEP 562).
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandboxes.base import Limits, Sandbox

AUTO_ORDER = ("docker", "bwrap", "process")
_LAZY = ("SANDBOXES", "Limits", "Sandbox")


def __getattr__(name: str):
    if name in _LAZY:
        from sandboxes import base

        return getattr(base, name)
    raise AttributeError(f"module 'sandboxes' has no attribute {name!r}")


def make_sandbox(name: str, jobs: int = 1, environment: str = "evalplus", limits: Limits | None = None,
                 announce: bool = True) -> Sandbox:
    from sandboxes.base import SANDBOXES

    if name == "auto":
        reasons = []
        for candidate in AUTO_ORDER:
            if candidate not in SANDBOXES:
                continue
            ok, why = check_backend(candidate, environment)
            if ok:
                if announce:
                    print(f"fgit-bench: sandbox auto -> {candidate} ({why})", file=sys.stderr)
                name = candidate
                break
            reasons.append(f"{candidate}: {why}")
    return SANDBOXES.get(name)(limits=limits, jobs=jobs, environment=environment)


def check_backend(name: str, environment: str = "evalplus") -> tuple[bool, str]:
    """`Sandbox.check` of backend `name`, for `environment` where the backend checks per environment (its image,
    its interpreter)."""
    from sandboxes.base import SANDBOXES

    backend = SANDBOXES.get(name)
    if "environment" in inspect.signature(backend.check).parameters:
        return backend.check(environment=environment)
    return backend.check()


def check_all() -> list[tuple[str, bool, str]]:
    from sandboxes.base import SANDBOXES

    return [(name, *SANDBOXES.get(name).check()) for name in AUTO_ORDER if name in SANDBOXES]


__all__ = ["SANDBOXES", "Limits", "Sandbox", "make_sandbox", "check_all", "AUTO_ORDER"]

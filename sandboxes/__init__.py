"""Code execution backends. `make_sandbox("auto")` picks docker, then bwrap, then process, and says which.

The code that runs inside a sandbox is `sandboxes.guest` alone (mounted without this file above it); everything
else here is the host's side.
"""

from __future__ import annotations

import inspect
import sys

from sandboxes.base import SANDBOXES, Limits, Sandbox

AUTO_ORDER = ("docker", "bwrap", "process")


def make_sandbox(name: str, jobs: int = 1, environment: str = "evalplus", limits: Limits | None = None,
                 announce: bool = True) -> Sandbox:
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
    backend = SANDBOXES.get(name)
    if "environment" in inspect.signature(backend.check).parameters:
        return backend.check(environment=environment)
    return backend.check()


def check_all() -> list[tuple[str, bool, str]]:
    return [(name, *SANDBOXES.get(name).check()) for name in AUTO_ORDER if name in SANDBOXES]


__all__ = ["SANDBOXES", "Limits", "Sandbox", "make_sandbox", "check_all", "AUTO_ORDER"]

"""What every result records about where it came from: versions, platform, time."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from datetime import UTC, datetime
from typing import overload

PACKAGES = ("fgit-bench", "evalplus", "bigcodebench", "torch", "transformers", "peft", "trl", "accelerate",
            "gguf", "numpy", "pandas", "docker")


@overload
def package_version(name: str) -> str | None: ...


@overload
def package_version(name: str, missing: str) -> str: ...


def package_version(name: str, missing: str | None = None) -> str | None:
    """The installed version of the distribution `name`, or `missing` when it is not installed. Records use None;
    cache keys and identities use "absent" (pass it: the string is part of existing keys)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return missing


def package_versions(names: tuple[str, ...] = PACKAGES, python: str | None = None) -> dict[str, str | None]:
    """`{"python": ..., name: version or None}`; `python` defaults to the interpreter's version."""
    versions: dict[str, str | None] = {"python": python or sys.version.split()[0]}
    for name in names:
        versions[name] = package_version(name)
    return versions


def environment() -> dict:
    return {
        "versions": package_versions(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }

"""What every result records about where it came from: versions, platform, time."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from datetime import UTC, datetime

PACKAGES = ("fgit-bench", "evalplus", "bigcodebench", "torch", "transformers", "peft", "trl", "accelerate",
            "gguf", "numpy", "pandas", "docker")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def environment() -> dict:
    return {
        "versions": package_versions(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }

"""Entry points for a subprocess, as an installed distribution declares them: a `.dist-info` directory with
`METADATA` and `entry_points.txt`, on PYTHONPATH. importlib.metadata reads it exactly as it reads a pip-installed
package's, so the registries find the entries the same way."""

from __future__ import annotations

import os
from pathlib import Path


def dist_info(root: Path, name: str, entry_points: dict[str, dict[str, str]]) -> Path:
    """Write `<root>/<name>-0.1.dist-info`; `entry_points` is group -> {entry name: "module:object"}."""
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def pythonpath(*roots: Path) -> dict[str, str]:
    """The environment that puts `roots` first on a subprocess's sys.path."""
    parts = [str(r) for r in roots] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(parts)}

"""One configuration per run directory (issue 28). A `run` into a directory holding units of another configuration
replaces the units it shares with it (their stage keys differ: they run again) and leaves the others; the
leaderboard and the gate then refuse the directory, naming such a unit (leaderboards/verified.py), rather than rank
it. `run --overwrite` is the explicit way out: once the run has finished, the units it did not produce are removed.
Adding a variant to a finished run (same directory, one more variant) needs no flag: every unit is the new run's.

A directory is recognised by its manifests (`manifest.json`, `manifest.shard-i-of-n.json`), whose `config_hash`
is that of `config_record`. The content-addressed caches live outside the run directory, so what is removed is only
this directory's copy of another run's outputs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from harness.app.pipeline.manifest import MANIFEST


def recorded_config_hashes(run_dir: Path) -> dict[str, str | None]:
    """Manifest file name -> the config hash it records, for each manifest in `run_dir`."""
    found = {}
    for path in sorted([run_dir / MANIFEST, *run_dir.glob("manifest.shard-*.json")]):
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found[path.name] = None  # unreadable: not this configuration's
            continue
        found[path.name] = document.get("config_hash") if isinstance(document, dict) else None
    return found


def remove_other_units(run_dir: Path, manifest: dict) -> list[str]:
    """After a finished `run --overwrite`: remove what the manifest's run did not produce (variants and
    variant/benchmark units of another configuration, other configurations' shard manifests). Returns what went."""
    variants = {s["variant"] for s in manifest.get("stages", [])}
    units = {(s["variant"], s["benchmark"]) for s in manifest.get("stages", []) if s.get("benchmark")}
    gone = []
    for variant_dir in sorted(p for p in run_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if variant_dir.name not in variants:
            if (variant_dir / "train.stage.json").exists() or any(variant_dir.glob("*/eval")) \
                    or any(variant_dir.glob("*/shards")):
                gone.append(_remove(run_dir, variant_dir))
            continue
        for unit_dir in sorted(p for p in variant_dir.iterdir() if p.is_dir()):
            looks_like_unit = (unit_dir / "eval").is_dir() or (unit_dir / "shards").is_dir()
            if looks_like_unit and (variant_dir.name, unit_dir.name) not in units:
                gone.append(_remove(run_dir, unit_dir))
    shard = manifest.get("shard")
    for path in sorted(run_dir.glob("manifest.shard-*.json")):
        if path.name != f"manifest.shard-{shard}.json" and manifest.get("config_hash") != \
                recorded_config_hashes(run_dir).get(path.name):
            path.unlink()
            gone.append(path.name)
    return gone


def _remove(run_dir: Path, directory: Path) -> str:
    """Renamed away first (one step a reader never sees half done), then deleted."""
    doomed = directory.with_name(f".removing-{directory.name}-{os.getpid()}")
    os.rename(directory, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return directory.relative_to(run_dir).as_posix()

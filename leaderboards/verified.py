"""A run directory's results checked against its manifest before anything reads a number from them (issue 28).

`fgit-bench run` records every stage's outputs with their sha256 in the stage record and in manifest.json. The
leaderboard, its exports and the gate read only the units the manifest names, each file matching the hash the run
recorded: an edited or damaged results.jsonl, a unit the manifest names but the directory lacks, and a unit the
manifest does not name (left by a run of another configuration into the same directory) are each one line, exit 2.

A merged run's manifest records the merged files (a `merge` stage per unit: harness/app/pipeline/merge.py). A
directory whose manifest records no outputs (made before outputs were recorded, or assembled by hand) is read as
it is: there is nothing to check it against.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import BadInput
from harness.core.hashing import file_digest

RESULTS_SUFFIX = "/eval/results.jsonl"


def recorded_outputs(manifest: dict) -> dict[str, str]:
    """Path in the run directory -> sha256, of every output the manifest's stages recorded."""
    recorded: dict[str, str] = {}
    for stage in manifest.get("stages") or []:
        outputs = stage.get("outputs") if isinstance(stage, dict) else None
        if isinstance(outputs, dict):
            recorded.update({str(k): str(v) for k, v in outputs.items()})
    return recorded


def check_results(run_dir: Path, found: list[Path], manifest: dict) -> None:
    """Raise BadInput unless the results files `found` are exactly those the manifest recorded, byte for byte."""
    recorded = {rel: digest for rel, digest in recorded_outputs(manifest).items() if rel.endswith(RESULTS_SUFFIX)}
    if not recorded:
        return
    on_disk = {path.relative_to(run_dir).as_posix(): path for path in found}
    where = run_dir / "manifest.json"
    for rel in sorted(set(recorded) - set(on_disk)):
        raise BadInput(f"{run_dir / rel}: named by {where} but missing (the same `fgit-bench run` makes it again)")
    for rel in sorted(set(on_disk) - set(recorded)):
        raise BadInput(f"{on_disk[rel]}: not a unit of the run {where} describes (left by another configuration?); "
                       f"remove it, or run again with --overwrite")
    for rel in sorted(recorded):
        if file_digest(on_disk[rel]) != recorded[rel]:
            raise BadInput(f"{on_disk[rel]}: differs from the sha256 its run recorded in {where} (edited or "
                           f"damaged); the same `fgit-bench run` recomputes it")

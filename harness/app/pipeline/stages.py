"""Stage bookkeeping: every stage writes a record file holding the hash of its inputs, last and atomically.

A stage whose record matches its current input key is done and is skipped without loading anything, so a re-run
with nothing changed costs only hashing. A stage killed midway has no matching record and runs again, resuming
from the content-addressed caches underneath it (training artifacts, generations, verdicts), so finished work is
neither redone nor counted twice.

A record also names the stage's outputs with their hashes (issue 28): `completed` means the inputs *and* the
outputs match, so an edited or damaged output (a results.jsonl changed by hand, a truncated artifact) is made again
by running the stage, never served. The run's manifest carries the same hashes, and the leaderboard and the gate
check every file they read against it (leaderboards/verified.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.app.pipeline.executor import LocalExecutor, Stage, StageExecutor
from harness.core.atomic import write_json
from harness.core.hashing import file_digest, json_digest, tree_digest


@dataclass
class StageRecord:
    stage: str
    key: str
    seconds: float
    cached: bool
    info: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # output path (relative to the record's folder) -> hash


def stage_key(inputs: dict) -> str:
    return json_digest(inputs)


def output_digest(path: Path) -> str | None:
    """A file's sha256, a directory's tree digest; None when it is missing."""
    if path.is_file():
        return file_digest(path)
    if path.is_dir():
        return tree_digest(path)
    return None


def output_digests(folder: Path, outputs: tuple[str, ...]) -> dict[str, str | None]:
    return {name: output_digest(folder / name) for name in outputs}


def recorded(record_path: Path, key: str) -> dict | None:
    """The stage record, when it holds `key`; else None."""
    try:
        record = json.loads(record_path.read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def outputs_match(record: dict, folder: Path, outputs: tuple[str, ...]) -> bool:
    """Every output is there with the hash the record holds for it."""
    hashes = record.get("outputs")
    return not outputs or (isinstance(hashes, dict) and set(hashes) == set(outputs)
                           and output_digests(folder, outputs) == hashes)


def run_stage(name: str, record_path: Path, inputs: dict, work: Callable[[], dict | None],
              log: Callable[[str], None], executor: StageExecutor | None = None,
              outputs: tuple[str, ...] = ()) -> StageRecord:
    """Run `work()` on `executor` (default: inline) unless `record_path` already records a finished run on exactly
    these inputs whose `outputs` (paths relative to the record's folder) are as it recorded them."""
    key = stage_key(inputs)
    done = recorded(record_path, key)
    if done is not None and outputs_match(done, record_path.parent, outputs):
        log(f"{name}: cached")
        return StageRecord(name, key, done.get("seconds", 0.0), True, done.get("info", {}), done.get("outputs", {}))
    log(f"{name}: its outputs differ from its record (edited or damaged): running again" if done is not None
        else f"{name}: running")
    start = time.perf_counter()
    info = (executor or LocalExecutor()).execute(Stage(name, record_path, inputs, work)) or {}
    seconds = round(time.perf_counter() - start, 3)
    digests = output_digests(record_path.parent, outputs)
    missing = [n for n, d in digests.items() if d is None]
    if missing:
        raise RuntimeError(f"{name} finished without writing {', '.join(missing)}")
    write_json(record_path, {"stage": name, "key": key, "inputs": inputs, "seconds": seconds, "info": info,
                             "outputs": digests})
    log(f"{name}: done in {seconds:.1f}s")
    return StageRecord(name, key, seconds, False, info, digests)

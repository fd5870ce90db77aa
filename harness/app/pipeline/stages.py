"""Stage bookkeeping: every stage writes a record file holding the hash of its inputs, last and atomically.

A stage whose record matches its current input key is done and is skipped without loading anything, so a re-run
with nothing changed costs only hashing. A stage killed midway has no matching record and runs again, resuming
from the content-addressed caches underneath it (training artifacts, generations, verdicts), so finished work is
neither redone nor counted twice.
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
from harness.core.hashing import json_digest


@dataclass
class StageRecord:
    stage: str
    key: str
    seconds: float
    cached: bool
    info: dict[str, Any] = field(default_factory=dict)


def stage_key(inputs: dict) -> str:
    return json_digest(inputs)


def completed(record_path: Path, key: str) -> dict | None:
    try:
        record = json.loads(record_path.read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def run_stage(name: str, record_path: Path, inputs: dict, work: Callable[[], dict | None],
              log: Callable[[str], None], executor: StageExecutor | None = None) -> StageRecord:
    """Run `work()` on `executor` (default: inline) unless `record_path` already records a finished run on exactly
    these inputs."""
    key = stage_key(inputs)
    done = completed(record_path, key)
    if done is not None:
        log(f"{name}: cached")
        return StageRecord(name, key, done.get("seconds", 0.0), True, done.get("info", {}))
    log(f"{name}: running")
    start = time.perf_counter()
    info = (executor or LocalExecutor()).execute(Stage(name, record_path, inputs, work)) or {}
    seconds = round(time.perf_counter() - start, 3)
    write_json(record_path, {"stage": name, "key": key, "inputs": inputs, "seconds": seconds, "info": info})
    log(f"{name}: done in {seconds:.1f}s")
    return StageRecord(name, key, seconds, False, info)

"""Where a synthetic task set lives: `$FGIT_BENCH_SYNTH` (a directory `fgit-bench synth` wrote), else the default
set (seed 0, default settings) built once into the cache on first use, so the `composite` benchmark and the
`synth:` training source need no set-up step. The directory's manifest records what was resolved."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict
from pathlib import Path

from harness.core.data import cache_root
from harness.core.errors import BadInput
from harness.core.hashing import json_digest

ENV_SYNTH = "FGIT_BENCH_SYNTH"


def _config_key(config) -> str:
    from harness.synth.build import SYNTH_FORMAT, atoms_digest

    return json_digest({"config": asdict(config), "atoms": atoms_digest(), "format": SYNTH_FORMAT})[:16]


def is_synth_dir(path: Path) -> bool:
    return (path / "manifest.json").is_file() and (path / "train.jsonl").is_file() and (path / "test.jsonl").is_file()


def synth_dir(seed: int | None = None, sandbox: str = "auto") -> Path:
    """The task set for `seed` (None: $FGIT_BENCH_SYNTH when set, else seed 0), built into the cache if missing."""
    from harness.synth.build import SynthConfig, synthesize
    from sandboxes import make_sandbox

    if seed is None and os.environ.get(ENV_SYNTH):
        path = Path(os.environ[ENV_SYNTH])
        if not is_synth_dir(path):
            raise BadInput(f"${ENV_SYNTH}={path} is not a directory written by `fgit-bench synth`")
        return path
    config = SynthConfig(seed=seed or 0)
    path = cache_root() / "synth" / f"seed-{config.seed}-{_config_key(config)}"
    if is_synth_dir(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_synth_dir(path):  # another process may have built it while we waited
            with contextlib.closing(make_sandbox(sandbox, jobs=os.cpu_count() or 1)) as box:
                synthesize(config, path, box)
    return path


def read_tasks(directory: Path, name: str) -> list[dict]:
    with open(directory / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]

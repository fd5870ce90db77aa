"""A run's stage keys are built from what the caches underneath key on: the evaluate stage re-runs when the
*resolved* sandbox changes (`auto` picks another backend once docker is unreachable) or a recorded package version
changes, and stays cached otherwise. Real runs: `fgit-bench run` in subprocesses, docker for real, then the next
backend auto finds (process: bubblewrap is kept off the PATH, so the test does not depend on bwrap seeing this
venv's packages); the package version is changed the way an upgrade changes it, by the installed distribution's
metadata (a `.dist-info` first on the path)."""

from __future__ import annotations

import json
import os
import shutil

from tests.conftest import run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import canonical_samples, run_config, write_samples
from tests.sandbox_fixtures import require_backend

UNREACHABLE_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _without_docker_and_bwrap(root) -> dict:
    """Docker unreachable, and a PATH that has every program of the current one except bwrap."""
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = os.path.join(directory, name)
            if name != "bwrap" and not (bin_dir / name).exists() and os.access(target, os.X_OK):
                (bin_dir / name).symlink_to(target)
    assert shutil.which("bwrap", path=str(bin_dir)) is None
    return {**UNREACHABLE_DOCKER, "PATH": str(bin_dir)}


def _fake_evalplus(root, version: str) -> dict:
    info = root / f"evalplus-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: evalplus\nVersion: {version}\n")
    return {"PYTHONPATH": str(root)}


def _run(config, run_dir, env=None):
    proc = run_cli("run", "--config", str(config), "--output", str(run_dir), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def _record(run_dir) -> dict:
    return json.loads((run_dir / "base" / "humaneval" / "evaluate.stage.json").read_text())


def test_evaluate_stage_follows_the_resolved_backend_and_package_versions(tmp_path):
    require_backend("docker")
    replay = write_samples(tmp_path / "replay.jsonl", canonical_samples("humaneval", 2))
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=["base"], replay=str(replay),
                        benchmarks={"humaneval": 2}, sandbox="auto")
    run_dir = tmp_path / "run"
    evaluate, generate = "base/humaneval: evaluate", "base/humaneval: generate"

    log = _run(config, run_dir)
    assert f"{evaluate}: running" in log
    assert "|docker|" in _record(run_dir)["inputs"]["verdicts"]["sandbox"]
    assert f"{evaluate}: cached" in _run(config, run_dir)  # nothing changed

    moved = _without_docker_and_bwrap(tmp_path)
    log = _run(config, run_dir, env=moved)  # auto now resolves to process: verdicts are keyed on it
    assert f"{evaluate}: running" in log and f"{generate}: cached" in log
    assert "|process|" in _record(run_dir)["inputs"]["verdicts"]["sandbox"]
    results = json.loads((run_dir / "base" / "humaneval" / "eval" / "eval_results.json").read_text())
    assert results["provenance"]["sandbox"]["backend"] == "process"
    assert f"{evaluate}: cached" in _run(config, run_dir, env=moved)

    upgraded = {**moved, **_fake_evalplus(tmp_path / "site", "9.9.9")}
    log = _run(config, run_dir, env=upgraded)
    assert f"{evaluate}: running" in log and f"{generate}: cached" in log
    assert _record(run_dir)["inputs"]["verdicts"]["evalplus"] == "9.9.9"
    assert f"{evaluate}: cached" in _run(config, run_dir, env=upgraded)

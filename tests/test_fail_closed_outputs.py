"""Issue 28, items 1-3: a run's outputs are bound to their stage records and to its manifest. A real run (tiny
Llama as the model, replayed samples, the process sandbox) then, each on a copy of its directory:
- results.jsonl edited to say base_pass true: the leaderboard and the gate refuse it (one line naming the file,
  exit 2); `run` again recomputes it (the evaluate stage's output no longer matches its record) and the numbers
  are the true ones again;
- a unit's results.jsonl deleted: refused, not a silently missing variant;
- a unit of another configuration in the directory: refused;
- the trained artifact truncated: `run` again trains it (its output no longer matches), exit 0."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import TINY_SFT, break_solution, canonical_samples, run_config, write_samples

TASKS = {"humaneval": 3}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    for variant in ("base", "sft"):
        rows = canonical_samples("humaneval", 3)
        rows = [break_solution(r) if variant == "sft" and i == 1 else r for i, r in enumerate(rows)]
        write_samples(root / "replay" / f"{variant}-humaneval.jsonl", rows)
    config = run_config(root / "run.toml", model=str(tiny_model_dir()), variants=["base", "sft"],
                        replay=str(root / "replay" / "{variant}-{benchmark}.jsonl"), benchmarks=TASKS,
                        plugins={"sft": TINY_SFT})
    proc = run_cli("run", "--config", str(config), "--output", str(root / "run"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, config


def copy_of(reference, tmp_path):
    root, config = reference
    shutil.copytree(root / "run", tmp_path / "run", symlinks=True)
    return tmp_path / "run", config


def refused(run_dir, fragment: str):
    for command in (["leaderboard", str(run_dir), "--format", "json", "--output", str(run_dir.parent / "lb.json")],
                    ["gate", "--baseline", str(run_dir), "--current", str(run_dir)]):
        proc = run_cli(*command)
        assert proc.returncode == 2, (command, proc.returncode, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], (command, proc.stderr)
    assert not (run_dir.parent / "lb.json").exists()


def test_edited_results_are_refused_then_recomputed(reference, tmp_path):
    run_dir, config = copy_of(reference, tmp_path)
    results = run_dir / "sft" / "humaneval" / "eval" / "results.jsonl"
    true_rows = read_jsonl(results)
    assert [r["base_pass"] for r in true_rows] == [True, False, True]
    results.write_text("".join(json.dumps({**r, "base_pass": True, "plus_pass": True}) + "\n" for r in true_rows))
    refused(run_dir, f"{results}: differs from the sha256 its run recorded")

    proc = run_cli("run", "--config", str(config), "--output", str(run_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sft/humaneval: evaluate: its outputs differ from its record" in proc.stderr + proc.stdout
    assert read_jsonl(results) == true_rows
    board = run_cli("leaderboard", str(run_dir), "--format", "json", "--output", str(tmp_path / "lb.json"))
    assert board.returncode == 0, board.stderr


def test_missing_unit_is_refused(reference, tmp_path):
    run_dir, _ = copy_of(reference, tmp_path)
    results = run_dir / "sft" / "humaneval" / "eval" / "results.jsonl"
    results.unlink()
    refused(run_dir, f"{results}: named by {run_dir / 'manifest.json'} but missing")


def test_unit_of_another_configuration_is_refused(reference, tmp_path):
    run_dir, _ = copy_of(reference, tmp_path)
    stale = run_dir / "dpo" / "humaneval"
    shutil.copytree(run_dir / "base" / "humaneval", stale)
    refused(run_dir, f"{stale / 'eval' / 'results.jsonl'}: not a unit of the run")


def test_run_overwrite_removes_the_units_of_another_configuration(reference, tmp_path):
    run_dir, config = copy_of(reference, tmp_path)
    stale = run_dir / "dpo" / "humaneval"
    shutil.copytree(run_dir / "base" / "humaneval", stale)
    again = run_cli("run", "--config", str(config), "--output", str(run_dir))  # every stage up to date
    assert again.returncode == 2, again.stderr[-3000:]  # the leaderboard it publishes refuses the stale unit
    assert "not a unit of the run" in again.stderr and "--overwrite" in again.stderr and stale.is_dir()
    replaced = run_cli("run", "--config", str(config), "--output", str(run_dir), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert "--overwrite: removed dpo (another configuration's)" in replaced.stderr
    assert not (run_dir / "dpo").exists() and {"base", "sft", "explorer"} <= {p.name for p in run_dir.iterdir()}
    board = json.loads((run_dir / "leaderboard.json").read_text(encoding="utf-8"))
    assert sorted(board["variants"]) == ["base", "sft"]


def test_truncated_artifact_is_trained_again(reference, tmp_path):
    run_dir, config = copy_of(reference, tmp_path)
    weights = next(p for p in (run_dir / "sft" / "artifact").rglob("*.safetensors"))
    data = weights.read_bytes()
    weights.unlink()  # a hard link into the artifact cache: replace it, the cache's copy stays whole
    weights.write_bytes(data[: len(data) // 2])
    proc = run_cli("run", "--config", str(config), "--output", str(run_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sft: train: its outputs differ from its record" in proc.stderr + proc.stdout
    assert weights.read_bytes() == data

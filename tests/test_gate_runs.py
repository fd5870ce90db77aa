"""The regression gate on real runs: `fgit-bench run` (replayed HumanEval+ samples, evaluated in the process
sandbox), a baseline exported with `fgit-bench leaderboard --format json`, then `fgit-bench gate` against runs
that replay the same samples, 10% of the passing ones broken, or one task changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_cli
from tests.run_support import break_solution, canonical_samples, run_config, write_samples


def _run(root: Path, name: str, rows: list[dict]) -> Path:
    replay = write_samples(root / f"{name}.jsonl", rows)
    config = run_config(root / f"{name}.toml", model="smollm2", variants=["base"], replay=str(replay),
                        benchmarks={"humaneval": 164})
    output = root / name
    result = run_cli("run", "--config", str(config), "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    return output


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate-runs")
    rows = canonical_samples("humaneval")
    run_dir = _run(root, "baseline-run", rows)
    baseline_file = root / "baseline.json"
    exported = run_cli("leaderboard", str(run_dir), "--format", "json", "--output", str(baseline_file))
    assert exported.returncode == 0, exported.stderr
    passing = [r["task_id"] for r in read_jsonl(run_dir / "base" / "humaneval" / "eval" / "results.jsonl")
               if r["plus_pass"]]
    assert len(passing) >= 150, f"canonical HumanEval+ solutions should pass here, {len(passing)} did"
    return {"root": root, "rows": rows, "file": baseline_file, "passing": passing}


def _gate(baseline: dict, run_dir: Path, *extra: str):
    return run_cli("gate", "--baseline", str(baseline["file"]), "--current", str(run_dir), *extra)


def test_identical_run_passes_the_gate(baseline):
    run_dir = _run(baseline["root"], "identical", baseline["rows"])
    result = _gate(baseline, run_dir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ten_percent_of_passing_solutions_broken_fails_the_gate(baseline, tmp_path):
    broken_ids = set(baseline["passing"][::10])  # every 10th passing task: 10%
    rows = [break_solution(r) if r["task_id"] in broken_ids else r for r in baseline["rows"]]
    run_dir = _run(baseline["root"], "broken", rows)
    junit = tmp_path / "gate.xml"
    result = _gate(baseline, run_dir, "--junit", str(junit))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "HumanEval" in result.stdout and "regress" in result.stdout.lower()
    assert "<failure" in junit.read_text()
    current = read_jsonl(run_dir / "base" / "humaneval" / "eval" / "results.jsonl")
    assert {r["task_id"] for r in current if not r["base_pass"]} >= broken_ids


def test_one_task_changed_passes_the_gate(baseline):
    changed = baseline["passing"][0]
    rows = [break_solution(r) if r["task_id"] == changed else r for r in baseline["rows"]]
    run_dir = _run(baseline["root"], "one-task", rows)
    result = _gate(baseline, run_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    board = json.loads(baseline["file"].read_text())
    assert board["variants"]["base"]["HumanEval+"]["tasks"][changed] is True

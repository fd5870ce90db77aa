"""`fgit-bench variants-check`: mutation variants of HumanEval's canonical solutions, judged in the sandbox; the
base-test verdicts are checked against the original HumanEval `check()` run here in a plain subprocess (an
oracle independent of the evaluation code)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

from tests.conftest import SHARED_DATA, read_jsonl, run_cli

ENV = {"OMP_NUM_THREADS": "1", "FGIT_BENCH_PROGRESS": "0"}


def _original_check_passes(program: str, problem: dict) -> bool:
    script = f"{program}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def test_variants_check_with_mutation_variants(tmp_path):
    out = tmp_path / "check"
    done = run_cli("variants-check", "--benchmark", "humaneval", "--source", "mutation", "--limit", "3",
                   "--output", str(out), env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "really incorrect" in done.stdout and "paper: 94.1%" in done.stdout and "paper: 0.95" in done.stdout
    report = json.loads((out / "report.json").read_text())
    pairs = read_jsonl(out / "pairs.jsonl")
    assert [p["task_id"] for p in pairs] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert report["embedding"]["method"] in done.stdout  # the embedding used is named
    with gzip.open(SHARED_DATA / "HumanEval.jsonl.gz", "rt") as handle:
        original = {row["task_id"]: row for row in map(json.loads, handle)}
    kept = [p for p in pairs if p["incorrect"] is not None]
    assert kept and report["kept"] == len(kept)
    for pair in kept:
        assert pair["incorrect"] != pair["correct"] and 0 < pair["similarity"] <= 1
        assert _original_check_passes(pair["correct"], original[pair["task_id"]])  # the oracle works
        assert pair["base_pass"] == _original_check_passes(pair["incorrect"], original[pair["task_id"]])
    failing = sum(not p["base_pass"] or p["plus_pass"] is False for p in kept)
    assert report["really_incorrect"] == round(failing / len(kept), 4)


def test_variants_check_rejects_an_unknown_benchmark(tmp_path):
    done = run_cli("variants-check", "--benchmark", "bigcodebench", "--source", "mutation", "--output",
                   str(tmp_path / "x"), env=ENV)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr

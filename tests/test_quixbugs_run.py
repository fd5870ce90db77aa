"""QuixBugs in a comparison run: `fgit-bench run` (tiny Llama trained by sft, replayed samples, process sandbox)
puts exact match and plausible in the leaderboard's repair block, with paired statistics against Base.

The replayed samples fix the scores independently of the code under test: Base answers with the reference fixes
(exact and plausible), SFT with the buggy program on two tasks and a hand-written other correct fix on one
(plausible, not exact)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import TINY_SFT, leaderboard_numbers, run_config, write_samples

TASKS = 5
OTHER_FIX = {"QuixBugs/bitcount": 'def bitcount(n):\n    return bin(n).count("1")\n'}
BUGGY = {"QuixBugs/bucketsort", "QuixBugs/detect_cycle"}


@pytest.mark.slow  # ~50 s of run (sft training) + the tiny model; test_leaderboard_repair_block is the fast check
def test_quixbugs_in_a_run_leaderboard(tmp_path, shared_data):
    release = read_jsonl(shared_data / "QuixBugs-python.jsonl")[:TASKS]
    ids = ["QuixBugs/" + r["name"] for r in release]
    assert set(OTHER_FIX) | BUGGY <= set(ids)
    base = [{"task_id": t, "solution": r["solution"]} for t, r in zip(ids, release, strict=True)]
    sft = [{"task_id": t, "solution": OTHER_FIX.get(t) or (r["buggy_program"] if t in BUGGY else r["solution"])}
           for t, r in zip(ids, release, strict=True)]
    write_samples(tmp_path / "replay" / "base-quixbugs.jsonl", base)
    write_samples(tmp_path / "replay" / "sft-quixbugs.jsonl", sft)
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=["base", "sft"],
                        replay=str(tmp_path / "replay" / "{variant}-{benchmark}.jsonl"), benchmarks={"quixbugs": TASKS},
                        plugins={"sft": TINY_SFT})
    proc = run_cli("run", "--config", str(config), "--output", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-3000:]

    rows = {r["task_id"]: r for r in read_jsonl(tmp_path / "run" / "sft" / "quixbugs" / "eval" / "results.jsonl")}
    assert {t for t, r in rows.items() if not r["exact_match"]} == BUGGY | set(OTHER_FIX)
    assert {t for t, r in rows.items() if not r["plausible"]} == BUGGY

    board = leaderboard_numbers(tmp_path / "run")
    assert board["variants"]["base"]["QuixBugs-exact"]["passed"] == TASKS
    assert board["variants"]["base"]["QuixBugs-plausible"]["passed"] == TASKS
    assert board["variants"]["sft"]["QuixBugs-exact"]["passed"] == TASKS - 3
    assert board["variants"]["sft"]["QuixBugs-plausible"]["passed"] == TASKS - 2
    paired = {(p["variant"], p["metric"]): p for p in board["paired"] if p["reference"] == "base"}
    assert (paired[("sft", "QuixBugs-exact")]["losses"], paired[("sft", "QuixBugs-exact")]["wins"]) == (3, 0)
    assert (paired[("sft", "QuixBugs-plausible")]["losses"], paired[("sft", "QuixBugs-plausible")]["wins"]) == (2, 0)
    assert paired[("sft", "QuixBugs-exact")]["p_value"] == 0.25  # exact McNemar, 3 discordant: 2 · (1/2)^3
    markdown = (tmp_path / "run" / "leaderboard.md").read_text()
    assert "## Program repair" in markdown and "| Standard-SFT | 40.0 [" in markdown
    assert "| QuixBugs-plausible | Standard-SFT | 5 | 0 | 2 |" in markdown
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["datasets"]["quixbugs"]["tasks"] == TASKS


def test_leaderboard_repair_block(tmp_path):
    """`fgit-bench leaderboard` on hand-made results rows: the repair block and the paired rows, counted here."""
    exact = {"base": [True, True, False, True], "sft": [False, True, False, False]}
    plausible = {"base": [True, True, True, True], "sft": [True, True, False, True]}
    for variant in exact:
        rows = [{"benchmark": "quixbugs", "task_id": f"QuixBugs/t{i}", "base_pass": p, "base_status": "pass" if p
                 else "fail", "plus_pass": None, "excluded": False, "exact_match": e, "plausible": p}
                for i, (e, p) in enumerate(zip(exact[variant], plausible[variant], strict=True))]
        write_samples(tmp_path / "run" / variant / "quixbugs" / "eval" / "results.jsonl", rows)
    proc = run_cli("leaderboard", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert "| Base | 75.0 [" in proc.stdout and "(3/4) | 100.0 [" in proc.stdout, proc.stdout
    assert "| Standard-SFT | 25.0 [" in proc.stdout and "(1/4) | 75.0 [" in proc.stdout, proc.stdout
    # sft vs base: exact loses t0 and t3, wins none; plausible loses t2
    assert "| QuixBugs-exact | Standard-SFT | 4 | 0 | 2 |" in proc.stdout
    assert "| QuixBugs-plausible | Standard-SFT | 4 | 0 | 1 |" in proc.stdout
    bad = tmp_path / "bad"
    write_samples(bad / "base" / "quixbugs" / "eval" / "results.jsonl",
                  [{"benchmark": "quixbugs", "task_id": "QuixBugs/t0", "base_pass": True, "exact_match": "yes"}])
    proc = run_cli("leaderboard", str(bad))
    assert proc.returncode == 2 and "exact_match must be true or false" in proc.stderr, proc.stderr

"""Verdict agreement with evalplus 0.3.1, run side by side on the same samples (issue 2 acceptance).

Per-task base and plus statuses must be identical, except where either side says `timeout` (machine-speed
dependent); such tasks are printed. Samples: the canonical solutions of HumanEval+ and MBPP+, and the 164 correct
and 164 buggy programs of HumanEvalPack used as HumanEval samples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.data import decompressed
from harness.evaluation import EvaluateConfig, evaluate
from tests.conftest import read_jsonl, write_jsonl

HUMANEVAL_GZ = "HumanEvalPlus-v0.1.10.jsonl.gz"
# Differences explained by evalplus's process layout, not by the oracle. Each must still show up as exactly this
# difference (so the test fails if it disappears or changes), and is printed.
KNOWN_DIFFERENCES: dict = {
    # (Mbpp/255 was one before issue 13: its canonical plus outputs, 1.6 M tuples, exceed evalplus's 4 GiB
    # address-space limit there but not in our small worker. They also exceed the output codec's bounds, so
    # the input is uncheckable here too and both sides say `fail`.)
}
MBPP = "MbppPlus-v0.2.0.jsonl"


def run_evalplus(dataset: str, samples: Path, override: Path, cache_home: Path) -> dict:
    """The upstream evaluator as users run it (a subprocess, its own parallel pool)."""
    var = {"humaneval": "HUMANEVAL_OVERRIDE_PATH", "mbpp": "MBPP_OVERRIDE_PATH"}[dataset]
    env = {**os.environ, var: str(override), "XDG_CACHE_HOME": str(cache_home)}
    proc = subprocess.run(
        [sys.executable, "-m", "evalplus.evaluate", "--dataset", dataset, "--samples", str(samples),
         "--parallel", str(os.cpu_count() or 1)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(Path(str(samples).replace(".jsonl", "_eval_results.json")).read_text())


def run_ours(dataset: str, samples: Path, output: Path) -> dict:
    evaluate(EvaluateConfig(benchmark=dataset, samples=str(samples), output=str(output), sandbox="process",
                            jobs=os.cpu_count() or 1), quiet=True)
    return json.loads((output / "eval_results.json").read_text())


RECHECK = """
import json, os, pickle, sys
from evalplus.data import get_human_eval_plus, get_human_eval_plus_hash, get_mbpp_plus, get_mbpp_plus_hash
from evalplus.evaluate import check_correctness, get_groundtruth
from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
dataset, samples = sys.argv[1], json.loads(sys.argv[2])
if dataset == "humaneval":
    problems, digest, nn = get_human_eval_plus(), get_human_eval_plus_hash(), []
else:
    problems, digest, nn = get_mbpp_plus(), get_mbpp_plus_hash(), MBPP_OUTPUT_NOT_NONE_TASKS
expected = get_groundtruth(problems, digest, nn)
out = {}
for task_id, solution in samples.items():
    res = check_correctness(dataset, 0, problems[task_id], solution, expected[task_id], fast_check=True)
    out[task_id] = [res["base"][0], res["plus"][0]]
print("RESULT" + json.dumps(out))
"""


def recheck_upstream(dataset: str, solutions: dict, override: Path, cache_home: Path) -> dict:
    """evalplus's own check_correctness on a few tasks (evalplus.evaluate refuses subsets)."""
    var = {"humaneval": "HUMANEVAL_OVERRIDE_PATH", "mbpp": "MBPP_OVERRIDE_PATH"}[dataset]
    env = {**os.environ, var: str(override), "XDG_CACHE_HOME": str(cache_home)}
    proc = subprocess.run([sys.executable, "-c", RECHECK, dataset, json.dumps(solutions)], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.split("RESULT", 1)[1])


def compare(upstream: dict, ours: dict, label: str, dataset: str, override: Path, cache_home: Path,
            output: Path) -> None:
    """Per-input time limits make evalplus report `fail` (not `timeout`) when a machine is briefly loaded, so a
    differing task is checked once more by both sides, alone; a difference that persists fails the test."""
    assert set(upstream["eval"]) == set(ours["eval"]), f"{label}: task sets differ"
    statuses = {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in upstream["eval"].items()}
    mine_all = {t: (r[0]["base_status"], r[0]["plus_status"]) for t, r in ours["eval"].items()}
    differing = {t for t in statuses if statuses[t] != mine_all[t] and "timeout" not in statuses[t] + mine_all[t]}
    if differing:
        solutions = {t: ours["eval"][t][0]["solution"] for t in differing}
        again = recheck_upstream(dataset, solutions, override, cache_home)
        samples = write_jsonl(output.parent / f"recheck-{output.name}.jsonl",
                              [{"task_id": t, "solution": s} for t, s in solutions.items()])
        evaluate(EvaluateConfig(benchmark=dataset, samples=str(samples), output=str(output / "recheck"),
                                sandbox="process", jobs=1, overwrite=True), quiet=True)
        mine_again = json.loads((output / "recheck" / "eval_results.json").read_text())["eval"]
        print(f"\n{label}: rechecked alone {sorted(differing)}: evalplus {again}, ours "
              f"{ {t: [r[0]['base_status'], r[0]['plus_status']] for t, r in mine_again.items()} }")
        for t in differing:
            statuses[t] = tuple(again[t])
            mine_all[t] = (mine_again[t][0]["base_status"], mine_again[t][0]["plus_status"])
    timeouts, mismatches = [], []
    for task_id, (theirs_known, mine_known) in KNOWN_DIFFERENCES.items():
        if task_id in statuses and statuses[task_id] == theirs_known and mine_all[task_id] == mine_known:
            print(f"\n{label}: known difference {task_id}: evalplus={theirs_known} ours={mine_known}")
            del statuses[task_id]
    for task_id in statuses:
        theirs = {"base_status": statuses[task_id][0], "plus_status": statuses[task_id][1]}
        mine = {"base_status": mine_all[task_id][0], "plus_status": mine_all[task_id][1]}
        pairs = [(theirs["base_status"], mine["base_status"]), (theirs["plus_status"], mine["plus_status"])]
        if any("timeout" in pair for pair in pairs):
            timeouts.append(f"{task_id} evalplus={pairs[0][0]}/{pairs[1][0]} ours={pairs[0][1]}/{pairs[1][1]}")
            continue
        if pairs[0][0] != pairs[0][1] or pairs[1][0] != pairs[1][1]:
            mismatches.append(f"{task_id} evalplus={pairs[0][0]}/{pairs[1][0]} ours={pairs[0][1]}/{pairs[1][1]}")
    print(f"\n{label}: {len(upstream['eval'])} tasks, timeouts excluded from the comparison: {timeouts or 'none'}")
    assert not mismatches, f"{label}: verdicts differ from evalplus: {mismatches}"
    assert len(timeouts) <= 3, f"{label}: too many timeouts to call it agreement: {timeouts}"


@pytest.fixture(scope="module")
def humaneval_file(shared_data) -> Path:
    return decompressed(shared_data / HUMANEVAL_GZ)


@pytest.fixture(scope="module")
def evalplus_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evalplus-cache")


def test_humaneval_canonical_agrees(tmp_path, humaneval_file, evalplus_cache):
    problems = read_jsonl(humaneval_file)
    samples = write_jsonl(tmp_path / "canonical.jsonl",
                          [{"task_id": p["task_id"], "solution": p["prompt"] + p["canonical_solution"]} for p in problems])
    upstream = run_evalplus("humaneval", samples, humaneval_file, evalplus_cache)
    ours = run_ours("humaneval", samples, tmp_path / "ours")
    assert ours["hash"] == upstream["hash"] == "fe585eb4df8c88d844eeb463ea4d0302"
    compare(upstream, ours, "HumanEval+ canonical", "humaneval", humaneval_file, evalplus_cache, tmp_path / "ours")
    # Known ground truth: HumanEval/32's canonical solution fails its own base tests (find_zero oracle).
    assert ours["eval"]["HumanEval/32"][0]["base_status"] == "fail"
    assert ours["pass_at_k"]["base"]["pass@1"] == pytest.approx(163 / 164)


# The pack's correct programs are the original HumanEval solutions: mostly the same algorithms as the HumanEval+
# canonical ones the test above runs (reformatted or fixed there; 9 of 164 identical in text), so they are
# `slow` (2.5 min of the default selection); the buggy ones are distinct failure modes and stay in it.
@pytest.mark.parametrize("which", [pytest.param("canonical_solution", marks=pytest.mark.slow), "buggy_solution"])
def test_humanevalpack_agrees(tmp_path, shared_data, humaneval_file, evalplus_cache, which):
    pack = read_jsonl(shared_data / "HumanEvalPack-python.jsonl")
    rows = [{"task_id": p["task_id"].replace("Python/", "HumanEval/"), "solution": p["prompt"] + p[which]}
            for p in pack]
    samples = write_jsonl(tmp_path / f"pack-{which}.jsonl", rows)
    upstream = run_evalplus("humaneval", samples, humaneval_file, evalplus_cache)
    ours = run_ours("humaneval", samples, tmp_path / "ours")
    compare(upstream, ours, f"HumanEvalPack {which}", "humaneval", humaneval_file, evalplus_cache,
            tmp_path / "ours")
    base_passed = sum(r[0]["base_status"] == "pass" for r in ours["eval"].values())
    if which == "buggy_solution":
        assert base_passed < 40, "buggy programs should mostly fail"
    else:
        assert base_passed > 150


# 4.8-7 min on 2 cores: slow since issues 26, 29 and 30 landed (CI under 45 min); HumanEval+'s canonical agreement
# and MBPP+'s n-sample agreement (canonical, buggy and mutated programs) keep MBPP+ verdicts in the default selection
@pytest.mark.slow
def test_mbpp_canonical_agrees(tmp_path, shared_data, evalplus_cache):
    mbpp_file = shared_data / MBPP
    problems = read_jsonl(mbpp_file)
    samples = write_jsonl(tmp_path / "canonical.jsonl",
                          [{"task_id": p["task_id"], "solution": p["prompt"] + "\n" + p["canonical_solution"]}
                           for p in problems])
    upstream = run_evalplus("mbpp", samples, mbpp_file, evalplus_cache)
    ours = run_ours("mbpp", samples, tmp_path / "ours")
    assert ours["hash"] == upstream["hash"] == "ee43ecabebf20deef4bb776a405ac5b1"
    compare(upstream, ours, "MBPP+ canonical", "mbpp", mbpp_file, evalplus_cache, tmp_path / "ours")

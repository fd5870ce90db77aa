"""pass@k agreement with evalplus 0.3.1 on n-sample files (issue 25 acceptance): per-sample statuses in file order
and `pass_at_k` must be identical.

The files: HumanEval+ (every 4th task, 41, and those with model programs) and MBPP+ (every 9th, 40, and those
with model programs), 10 samples each, mixing canonical solutions
(repeated, and with comments that make distinct texts), HumanEvalPack's original and buggy programs, mutants of the
canonical solutions (universalmutator, as the `mutation` variant source makes them), programs the embedded model
wrote (tests/data/smollm2-samples.jsonl: every output of the embedded SmolLM2 found in a generation cache here,
matched to its task by the prompt; the tasks that have one are added to the slices) and plainly wrong ones, with a per-task number of canonical-looking
samples from 0 to 10. Both sides read the same release file cut to those tasks (evalplus refuses a samples file
that lacks a task of its dataset), so the ground truth is computed afresh for it on each side.

evalplus does not store pass@k: its own `evaluate` is run in a subprocess with `estimate_pass_at_k` wrapped to
record what it returns, so the compared numbers are the ones evalplus prints, at full precision.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.data import decompressed
from harness.evaluation import EvaluateConfig, evaluate
from tests.conftest import read_jsonl, write_jsonl

N = 10
MODEL_SAMPLES = Path(__file__).with_name("data") / "smollm2-samples.jsonl"

UPSTREAM = """
import json, sys
import evalplus.evaluate as ev
recorded = []
original = ev.estimate_pass_at_k
def spy(total, correct, k):
    out = original(total, correct, k)
    recorded.append([k, float(out.mean())])
    return out
ev.estimate_pass_at_k = spy
ev.evaluate(sys.argv[1], samples=sys.argv[2], parallel=int(sys.argv[3]), i_just_wanna_run=False)
half = len(recorded) // 2
print("RESULT" + json.dumps({"base": {f"pass@{k}": v for k, v in recorded[:half]},
                             "plus": {f"pass@{k}": v for k, v in recorded[half:]}}))
"""


def run_upstream(dataset: str, samples: Path, release: Path, cache_home: Path) -> tuple[dict, dict]:
    var = {"humaneval": "HUMANEVAL_OVERRIDE_PATH", "mbpp": "MBPP_OVERRIDE_PATH"}[dataset]
    env = {**os.environ, var: str(release), "XDG_CACHE_HOME": str(cache_home)}
    proc = subprocess.run([sys.executable, "-c", UPSTREAM, dataset, str(samples), str(os.cpu_count() or 1)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(Path(str(samples).replace(".jsonl", "_eval_results.json")).read_text())
    return results, json.loads(proc.stdout.split("RESULT", 1)[1].splitlines()[0])


def mutants(program: str, count: int, seed: int) -> list[str]:
    """Mutants that do not touch a loop or an augmented assignment (those can loop forever: a `timeout` there is
    machine-dependent on both sides, and this test compares statuses exactly)."""
    from plugins.training.variant_mutation import all_mutants

    found, _ = all_mutants(program, ["universal.rules", "python.rules"])
    original = program.splitlines()
    safe = []
    for mutant in found:
        changed = [b for a, b in zip(original, mutant.splitlines(), strict=False) if a != b]
        if not any(re.search(r"\b(while|for)\b|[-+*/]=", line) for line in changed):
            safe.append(mutant)
    random.Random(seed).shuffle(safe)
    return safe[:count]


def build_samples(problems: dict, task_ids: list[str], right: dict, wrong: dict) -> list[dict]:
    """N samples per task: c (c = index mod 11) drawn from `right[task]`, the rest from `wrong[task]` (model
    programs first there),
    cycling (so texts repeat), then shuffled with a fixed seed; tasks interleaved in the file."""
    per_task = {}
    for index, task in enumerate(task_ids):
        c = index % (N + 1)
        good, bad = right[task], wrong[task] or right[task]
        programs = [good[i % len(good)] for i in range(c)] + [bad[i % len(bad)] for i in range(N - c)]
        random.Random(index).shuffle(programs)
        per_task[task] = programs
    return [{"task_id": t, "solution": per_task[t][i]} for i in range(N) for t in task_ids]


# HumanEvalPack's original solution of HumanEval/96 (an O(n^2) prime loop) takes about its whole per-input time
# limit (4 x evalplus's faster canonical solution's time) on plus input 15700 on this machine: on three runs on
# 2026-12-07 it passed in one tool and failed in the other, either way round. Timing noise, not the harness: left out.
AT_THE_TIME_LIMIT = {"HumanEval/96"}


def model_programs(dataset: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in read_jsonl(MODEL_SAMPLES):
        if row["benchmark"] == dataset:
            found.setdefault(row["task_id"], []).append(row["solution"])
    return found


def choose_tasks(release: list[dict], step: int, count: int, model: dict) -> list[str]:
    """Every `step`-th task (the first `count` of them) and every task with a model-written program, in release
    order."""
    chosen = {r["task_id"] for r in release[::step][:count]} | set(model)
    return [r["task_id"] for r in release if r["task_id"] in chosen]


def compare(label: str, upstream: dict, upstream_k: dict, ours: dict) -> None:
    assert list(upstream["eval"]) and set(upstream["eval"]) == set(ours["eval"]), label
    mismatches, timeouts = [], []
    for task, entries in upstream["eval"].items():
        mine = ours["eval"][task]
        assert [e["solution"] for e in mine] == [e["solution"] for e in entries], f"{label} {task}: sample order"
        for index, (theirs, me) in enumerate(zip(entries, mine, strict=True)):
            pair = ((theirs["base_status"], theirs["plus_status"]), (me["base_status"], me["plus_status"]))
            if pair[0] != pair[1]:
                (timeouts if "timeout" in pair[0] + pair[1] else mismatches).append(f"{task}#{index} {pair}")
    print(f"\n{label}: {sum(map(len, upstream['eval'].values()))} samples; timeouts differing: {timeouts or 'none'}")
    assert not mismatches, f"{label}: statuses differ from evalplus: {mismatches}"
    assert not timeouts, f"{label}: a timeout on one side only (machine load?): {timeouts}"
    passed = [sum(e["base_status"] == e["plus_status"] == "pass" for e in entries)
              for entries in ours["eval"].values()]
    assert min(passed) == 0 and max(passed) == N, f"{label}: pass counts should spread from 0 to n: {passed}"
    assert set(upstream_k["base"]) == {"pass@1", "pass@10"}
    # the same estimator on the same counts; evalplus averages its tasks in the order their checks finished, we in
    # release order, so the float sums may differ in the last bit
    for split in ("base", "plus"):
        assert set(ours["pass_at_k"][split]) == set(upstream_k[split])
        for key, value in upstream_k[split].items():
            assert ours["pass_at_k"][split][key] == pytest.approx(value, rel=0, abs=1e-15), (label, split, key)
    assert set(ours["pass_at_k"]["fgit_bench"]["base"]) == {"pass@5"}


def subset_release(rows: list[dict], task_ids: list[str], path: Path) -> Path:
    keep = set(task_ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_jsonl(path, [r for r in rows if r["task_id"] in keep])


def run_ours(dataset: str, samples: Path, data_dir: Path, output: Path) -> dict:
    evaluate(EvaluateConfig(benchmark=dataset, samples=str(samples), output=str(output), sandbox="process",
                            jobs=os.cpu_count() or 1, data_dir=str(data_dir)), quiet=True)
    return json.loads((output / "eval_results.json").read_text())


@pytest.mark.slow  # ~2.8 min on 2 cores: MBPP+'s (~1 min) keeps the chain in the default selection
def test_humaneval_n_samples_agree(tmp_path, shared_data):
    release = read_jsonl(decompressed(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz"))
    problems = {p["task_id"]: p for p in release}
    model = model_programs("humaneval")
    task_ids = choose_tasks(release, 4, 41, model)
    pack = {p["task_id"].replace("Python/", "HumanEval/"): p
            for p in read_jsonl(shared_data / "HumanEvalPack-python.jsonl")}
    right, wrong = {}, {}
    for index, t in enumerate(task_ids):
        canonical = problems[t]["prompt"] + problems[t]["canonical_solution"]
        original = pack[t]["prompt"] + pack[t]["canonical_solution"]
        right[t] = [canonical, original if t not in AT_THE_TIME_LIMIT else canonical + "\n\n", canonical + "\n# checked\n"]
        wrong[t] = [*model.get(t, []), pack[t]["prompt"] + pack[t]["buggy_solution"], *mutants(canonical, 3, index),
                    problems[t]["prompt"] + "    return None\n"]
    data_dir = tmp_path / "data"
    subset_release(release, task_ids, data_dir / "HumanEvalPlus-v0.1.10.jsonl")
    samples = write_jsonl(tmp_path / "he-n10.jsonl", build_samples(problems, task_ids, right, wrong))
    upstream, upstream_k = run_upstream("humaneval", samples, data_dir / "HumanEvalPlus-v0.1.10.jsonl",
                                        tmp_path / "evalplus-cache")
    ours = run_ours("humaneval", samples, data_dir, tmp_path / "ours")
    assert sum(t in model for t in task_ids) >= 15, "model-written programs missing"
    compare("HumanEval+ n=10", upstream, upstream_k, ours)


def test_mbpp_n_samples_agree(tmp_path, shared_data):
    release = read_jsonl(shared_data / "MbppPlus-v0.2.0.jsonl")
    problems = {p["task_id"]: p for p in release}
    model = model_programs("mbpp")
    task_ids = choose_tasks(release, 9, 40, model)
    right, wrong = {}, {}
    for index, t in enumerate(task_ids):
        canonical = problems[t]["prompt"] + "\n" + problems[t]["canonical_solution"]
        right[t] = [canonical, canonical + "\n# checked\n", "# a comment first\n" + canonical]
        wrong[t] = [*model.get(t, []), *mutants(canonical, 4, index), "def nothing():\n    pass\n"]
    data_dir = tmp_path / "data"
    subset_release(release, task_ids, data_dir / "MbppPlus-v0.2.0.jsonl")
    samples = write_jsonl(tmp_path / "mbpp-n10.jsonl", build_samples(problems, task_ids, right, wrong))
    upstream, upstream_k = run_upstream("mbpp", samples, data_dir / "MbppPlus-v0.2.0.jsonl",
                                        tmp_path / "evalplus-cache")
    ours = run_ours("mbpp", samples, data_dir, tmp_path / "ours")
    assert sum(t in model for t in task_ids) >= 8, "model-written programs missing"
    compare("MBPP+ n=10", upstream, upstream_k, ours)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

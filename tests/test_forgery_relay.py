"""Issue 27, classes 5, 6 and 7: programs that compute nothing and take a working program from what the sandbox
kept: the ground truth's residue in memory a candidate inherits (tests/forgery_relay.py: residue_reader), and an
earlier sample's program planted in System V shared memory (ipc_planter / ipc_reader).

- evaluate, HumanEval+, one worker (so every candidate descends from the worker that computed the ground truth):
  before the fix (tests/prefix_harness.py, docker) residue readers passed on a cold ground-truth cache (5 of these
  16 tasks when measured; the test asks for one); now every one fails on docker and bwrap, on a cold and on a warm
  cache, beside canonical solutions that pass.
- GRPO reward, one batch on the synthetic tasks, each task's group holding a correct planter, an IPC reader and
  a residue reader, on a fresh reward cache (ground truth met for the first time): before the fix every IPC
  reader earned 1.0; now the planters earn 1.0 and every reader 0.0, on docker and bwrap.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from harness.benchmarks import get_benchmark
from harness.core.data import data_dir
from harness.evaluation import EvaluateConfig, evaluate
from harness.synth.build import SynthConfig, synthesize
from sandboxes import make_sandbox
from tests.conftest import REPO, read_jsonl, write_jsonl
from tests.forgery_relay import ipc_planter, ipc_reader, residue_reader
from tests.prefix_harness import prefix_cli, prefix_python, prefix_tree  # noqa: F401  (fixture)
from tests.sandbox_fixtures import require_backend

RESIDUE_TASKS = [f"HumanEval/{i}" for i in (0, 2, 3, 4, 7, 8, 11, 12, 13, 15, 23, 28, 29, 30, 34, 35)]
CONTROLS = ["HumanEval/1", "HumanEval/5"]
GROUP = ("planter", "ipc_reader", "residue_reader")


def _residue_rows() -> list[dict]:
    problems = get_benchmark("humaneval").load(data_dir()).problems
    rows = [{"task_id": t, "solution": residue_reader(problems[t]["entry_point"])} for t in RESIDUE_TASKS]
    return rows + [{"task_id": t, "solution": problems[t]["prompt"] + problems[t]["canonical_solution"]}
                   for t in CONTROLS]


def test_residue_readers_passed_before(tmp_path, prefix_tree):  # noqa: F811
    require_backend("docker")
    samples = write_jsonl(tmp_path / "s.jsonl", _residue_rows())
    proc = prefix_cli(prefix_tree, "evaluate", "--benchmark", "humaneval", "--samples", str(samples), "--output",
                      str(tmp_path / "out"), "--sandbox", "docker", "--jobs", "1", "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["task_id"]: r for r in read_jsonl(tmp_path / "out" / "results.jsonl")}
    assert sum(rows[t]["plus_pass"] for t in RESIDUE_TASKS) >= 1, {t: rows[t]["detail"] for t in RESIDUE_TASKS}


@pytest.mark.parametrize("backend", ["docker", "bwrap"])
def test_residue_readers_fail_on_a_cold_and_a_warm_cache(tmp_path, monkeypatch, backend):
    require_backend(backend)
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / "cache"))  # cold: no ground truth yet
    samples = write_jsonl(tmp_path / "s.jsonl", _residue_rows())
    for run in ("cold", "warm"):
        if run == "warm":  # the ground truth stays cached; the verdicts are computed again
            shutil.rmtree(tmp_path / "cache" / "verdicts")
        evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(tmp_path / run),
                                sandbox=backend, jobs=1), quiet=True)
        rows = {r["task_id"]: r for r in read_jsonl(tmp_path / run / "results.jsonl")}
        assert [t for t in RESIDUE_TASKS if rows[t]["base_pass"] or rows[t]["plus_pass"]] == [], run
        assert all("reads_own_memory" in rows[t]["flags"] for t in RESIDUE_TASKS)
        assert all(rows[t]["plus_pass"] for t in CONTROLS), run


# --- GRPO: one batch of planters and readers --------------------------------------------------------------------

REWARD_BATCH = """
import json, sys
from harness.generation.prompts import make_template
from plugins.methods.grpo_reward import SandboxReward
tasks, batch = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
reward = SandboxReward(tasks, make_template("chat", {"dataset": "composite"}, None), jobs=1, sandbox=sys.argv[3],
                       cache_dir=sys.argv[4])
try:
    rewards = reward(completions=[c for _, c in batch], task_id=[t for t, _ in batch])
finally:
    reward.close()
json.dump(rewards, open(sys.argv[5], "w"))
"""


@pytest.fixture(scope="module")
def synth_tasks(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("synth") / "set"
    with make_sandbox("process", jobs=2, announce=False) as sandbox:  # reference programs only: no isolation
        synthesize(SynthConfig(seed=5, composites=4, held_out_composites=2), out, sandbox)
    return {r["task_id"]: r["task"] for r in read_jsonl(out / "train.jsonl")}


def _batch(tasks: dict, ids: list[str]) -> list[tuple[str, str]]:
    batch = []
    for task_id in ids:
        task = tasks[task_id]
        correct, entry = task["prompt"] + task["canonical_solution"], task["entry_point"]
        batch += [(task_id, ipc_planter(correct, entry)), (task_id, ipc_reader(entry)),
                  (task_id, residue_reader(entry))]
    return batch


def _rewards(tree: Path, backend: str, tasks: dict, batch: list, tmp_path: Path) -> list[float]:
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    (tmp_path / "batch.json").write_text(json.dumps(batch))
    returncode, output = prefix_python(tree, sys.executable, REWARD_BATCH, str(tmp_path / "tasks.json"),
                                       str(tmp_path / "batch.json"), backend, str(tmp_path / "cache"),
                                       str(tmp_path / "rewards.json"))
    assert returncode == 0, output[-3000:]
    return json.loads((tmp_path / "rewards.json").read_text())


GRPO_TASKS = ["Synth/absolute_value", "Synth/sort_ascending", "Synth/count_vowels", "Synth/reverse_string"]


def _ids(tasks: dict) -> list[str]:
    ids = [t for t in GRPO_TASKS if t in tasks] or sorted(tasks)[:4]
    return ids[:4]


def test_relay_batch_paid_before(tmp_path, synth_tasks, prefix_tree):  # noqa: F811
    require_backend("docker")
    ids = _ids(synth_tasks)
    rewards = _rewards(prefix_tree, "docker", synth_tasks, _batch(synth_tasks, ids), tmp_path)
    by_kind = {kind: rewards[i::len(GROUP)] for i, kind in enumerate(GROUP)}
    assert by_kind["planter"] == [1.0] * len(ids)
    assert by_kind["ipc_reader"] == [1.0] * len(ids), by_kind  # each group's reader ran its planter's program


@pytest.mark.parametrize("backend", ["docker", "bwrap"])
def test_relay_batch_earns_nothing(tmp_path, synth_tasks, backend):
    require_backend(backend)
    ids = _ids(synth_tasks)
    rewards = _rewards(REPO, backend, synth_tasks, _batch(synth_tasks, ids), tmp_path)
    by_kind = {kind: rewards[i::len(GROUP)] for i, kind in enumerate(GROUP)}
    assert by_kind["planter"] == [1.0] * len(ids), by_kind
    assert by_kind["ipc_reader"] == [0.0] * len(ids) and by_kind["residue_reader"] == [0.0] * len(ids), by_kind

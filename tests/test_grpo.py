"""GRPO: rewards from the sandbox equal `evaluate`'s verdicts, forgeries earn nothing, a tiny CPU run with the
embedded model writes an artifact that generates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.evaluation import EvaluateConfig, evaluate
from harness.generation.prompts import make_template
from harness.synth.build import SynthConfig, synthesize
from plugins.methods.grpo_reward import SandboxReward
from tests.conftest import read_jsonl, run_cli, write_jsonl
from tests.forgeries import FORGERIES, forgery
from tests.forgery_programs import EVALPLUS as EVALPLUS_FORGERIES
from tests.sandbox_fixtures import open_sandbox


@pytest.fixture(scope="module")
def sandbox():
    box = open_sandbox("docker", jobs=2)
    yield box
    box.close()


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory, sandbox) -> Path:
    out = tmp_path_factory.mktemp("synth") / "set"
    synthesize(SynthConfig(seed=5, composites=4, held_out_composites=2), out, sandbox)
    return out


@pytest.fixture(scope="module")
def tasks(synth_set) -> dict[str, dict]:
    return {r["task_id"]: r["task"] for r in read_jsonl(synth_set / "train.jsonl")}


def _reward(tasks, all_or_nothing=False) -> SandboxReward:
    return SandboxReward(tasks, make_template("chat", {"dataset": "composite"}, None), jobs=2, sandbox="docker",
                         all_or_nothing=all_or_nothing)


def _evaluate_each(rows: list[dict], synth_set: Path, tmp_path: Path, sandbox, monkeypatch) -> list[dict]:
    """`evaluate` on every (task_id, solution) row, one samples file per row (a file holds one sample a task)."""
    monkeypatch.setenv("FGIT_BENCH_SYNTH", str(synth_set))
    results = []
    for number, row in enumerate(rows):
        write_jsonl(tmp_path / f"s{number}.jsonl", [{"task_id": row["task_id"], "solution": row["solution"]}])
        evaluate(EvaluateConfig(benchmark="composite", subset="train", samples=str(tmp_path / f"s{number}.jsonl"),
                                output=str(tmp_path / f"e{number}")), sandbox=sandbox, quiet=True)
        results.append(read_jsonl(tmp_path / f"e{number}" / "results.jsonl")[0])
    return results


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_forgeries_get_zero_reward(kind, tasks):
    reward = _reward(tasks)
    try:
        ids = ["Synth/absolute_value", "Synth/sort_ascending"]
        rewards = reward(completions=[forgery(kind, tasks[t]["entry_point"]) for t in ids], task_id=ids)
    finally:
        reward.close()
    assert rewards == [0.0, 0.0]


def _renamed(code: str, entry_point: str) -> str:
    """An issue-13 forgery program with its (single public) entry function renamed to a synthetic task's."""
    names = [n for n in re.findall(r"^def (\w+)\(", code, flags=re.M) if not n.startswith("_")]
    assert len(names) == 1, names
    return re.sub(rf"\b{names[0]}\b", entry_point, code)


def test_verdict_integrity_forgeries_get_zero_reward(tasks):
    """Every evalplus forgery of the verdict-integrity suite (tests/forgery_programs.py: each one passed on the
    pre-issue-13 checker) earns reward 0 on a synthetic task, fraction reward included."""
    ids = ["Synth/absolute_value", "Synth/sort_ascending"]
    completions, task_ids = [], []
    for item in EVALPLUS_FORGERIES:
        for t in ids:
            completions.append(_renamed(item.code, tasks[t]["entry_point"]))
            task_ids.append(t)
    reward = _reward(tasks)
    try:
        rewards = reward(completions=completions, task_id=task_ids)
    finally:
        reward.close()
    earned = {(item.name, t): r for item, t, r in zip([i for i in EVALPLUS_FORGERIES for _ in ids],
                                                       task_ids, rewards, strict=True) if r != 0.0}
    assert not earned


def test_replayed_rewards_equal_evaluate_verdicts(tasks, synth_set, tmp_path, sandbox, monkeypatch):
    ids = ["Synth/absolute_value", "Synth/sort_ascending"]
    completions, task_ids = [], []
    for t in ids:
        task = tasks[t]
        completions += [task["prompt"] + task["canonical_solution"],  # right
                        task["prompt"] + "    return None\n",  # wrong everywhere
                        task["prompt"] + f"    return {task['entry_point']}_ref(*[a for a in [0]])\n",  # NameError
                        forgery("sys_exit_0", task["entry_point"])]
        task_ids += [t] * 4
    log = tmp_path / "rewards.jsonl"
    reward = _reward(tasks)
    reward.log_path = log
    try:
        rewards = reward(completions=completions, task_id=task_ids)
        again = reward(completions=completions, task_id=task_ids)  # from the reward cache
    finally:
        reward.close()
    assert rewards == again
    assert rewards[0] == 1.0 and rewards[4] == 1.0 and rewards[1] < 1.0
    logged = read_jsonl(log)[: len(completions)]
    assert [r["reward"] for r in logged] == rewards
    verdicts = _evaluate_each(logged, synth_set, tmp_path, sandbox, monkeypatch)
    for row, verdict in zip(logged, verdicts, strict=True):
        assert (row["reward"] == 1.0) == bool(verdict["plus_pass"]), (row["solution"], verdict)
        assert (row["base_status"], row["plus_status"]) == (verdict["base_status"], verdict["plus_status"])
    # a partly right program earns the share of the tests it passes (counted here from the task's own outputs)
    task = tasks["Synth/absolute_value"]
    inputs = task["base_input"] + task["plus_input"]
    expected = task["expected_base"] + task["expected_plus"]
    partial = task["prompt"] + "    return n\n"  # right on the non-negative inputs only
    share = sum(n == e for (n,), e in zip(inputs, expected, strict=True)) / len(inputs)
    assert 0 < share < 1
    reward = _reward(tasks)
    try:
        assert reward(completions=[partial], task_id=["Synth/absolute_value"]) == [pytest.approx(share)]
        all_or_nothing = _reward(tasks, all_or_nothing=True)
        assert all_or_nothing(completions=[partial], task_id=["Synth/absolute_value"]) == [0.0]
        all_or_nothing.close()
    finally:
        reward.close()


@pytest.mark.slow  # 6 min on the loaded 2-core machine (model load, 2 × (rollouts + backward), generation)
def test_grpo_run_on_cpu_writes_an_artifact_that_generates(synth_set, tmp_path, sandbox, monkeypatch):
    """Two GRPO steps of 1 prompt × 2 rollouts with the embedded model; its logged rewards are evaluate's
    verdicts on the same completions; the artifact loads and generates."""
    rows = read_jsonl(synth_set / "train.jsonl")
    data = write_jsonl(tmp_path / "train.jsonl", [r for r in rows if r["kind"] == "atom"][:4])
    config = tmp_path / "grpo.toml"
    config.write_text("[grpo]\nnum_generations = 2\nbatch_size = 2\ngradient_accumulation_steps = 1\nmax_steps = 2\n"
                      "max_new_tokens = 16\nlora = true\nlora_layers = [29]\nlearning_rate = 1e-4\n"
                      "reward_jobs = 1\nsandbox = \"docker\"\n")
    out = tmp_path / "artifact"
    env = {"FGIT_BENCH_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    proc = run_cli("train", "--variant", "grpo", "--model", "smollm2", "--data", str(data), "--config", str(config),
                   "--output", str(out), "--benchmarks", "none", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "artifact.json").read_text())
    assert manifest["plugin"] == "grpo" and manifest["training"]["steps"] == 2
    assert manifest["generation_engine"] == "hf" and manifest["kind"] == "adapter"
    logged = read_jsonl(out / "rewards.jsonl")
    assert len(logged) == 2 * 2  # steps × (1 prompt × 2 rollouts per step: batch_size 2)
    steps = [r for r in read_jsonl(out / "train_log.jsonl") if "reward" in r]
    assert len(steps) == 2 and all("reward_seconds" in r and "reward_pass_rate" in r for r in steps)
    for step, row in enumerate(steps):
        this = [r["reward"] for r in logged if r["call"] == step + 1]
        assert row["reward"] == pytest.approx(sum(this) / len(this))
    verdicts = _evaluate_each(logged, synth_set, tmp_path, sandbox, monkeypatch)
    for row, verdict in zip(logged, verdicts, strict=True):
        assert (row["reward"] == 1.0) == bool(verdict["plus_pass"])
        assert (row["base_status"], row["plus_status"]) == (verdict["base_status"], verdict["plus_status"])
    samples = tmp_path / "samples.jsonl"
    proc = run_cli("generate", "--model", str(out), "--benchmark", "composite", "--subset", "train", "--limit", "1",
                   "--max-new-tokens", "8", "--output", str(samples), env={**env, "FGIT_BENCH_SYNTH": str(synth_set)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    [sample] = read_jsonl(samples)
    assert sample["task_id"].startswith("Synth/") and sample["solution"] is not None


def _small_run(synth_set, tmp_path, settings: str, output: str):
    rows = [r for r in read_jsonl(synth_set / "train.jsonl") if r["kind"] == "atom"]
    data = write_jsonl(tmp_path / "train.jsonl", rows[:8])
    config = tmp_path / f"{output}.toml"
    config.write_text(f"[plugins.grpo]\nnum_generations = 2\nmax_new_tokens = 48\n{settings}")
    from tests.generation_support import tiny_model_dir

    return run_cli("train", "--variant", "grpo", "--model", str(tiny_model_dir()), "--data", str(data), "--limit", "4",
                   "--config", str(config), "--output", str(tmp_path / output), "--benchmarks", "none",
                   env={"FGIT_BENCH_PROGRESS": "0"})


def test_fewer_prompts_than_one_generation_batch_is_refused_in_one_line(synth_set, tmp_path):
    """Issue 28 item 9: 4 prompts, 2 rollouts, the default batch (4 × 8 accumulation steps = 16 prompts per
    generation batch): trl's sampler yields no batch at all; this was transformers' "args.max_steps must be set",
    exit 3. Now exit 2 before the model loads, naming the settings that fit."""
    proc = _small_run(synth_set, tmp_path, "", "default-batch")
    assert proc.returncode == 2, proc.stderr[-3000:]
    [line] = [line for line in proc.stderr.splitlines() if line.startswith("fgit-bench")]
    assert line == ("fgit-bench: error: grpo: 4 prompts are fewer than one generation batch takes (16 = batch_size 4 "
                    "× gradient_accumulation_steps 8 / num_generations 2): lower batch_size × "
                    "gradient_accumulation_steps to at most 8 or train on more prompts")
    assert not (tmp_path / "default-batch").exists()


@pytest.mark.slow  # ~40 s on 2 cores (tiny model, 1 step of 4 prompts × 2 rollouts of 48 tokens, docker rewards)
def test_the_settings_the_refusal_names_train(synth_set, tmp_path):
    proc = _small_run(synth_set, tmp_path, "batch_size = 4\ngradient_accumulation_steps = 2\nreward_jobs = 1\n",
                      "fitting-batch")
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((tmp_path / "fitting-batch" / "artifact.json").read_text())
    assert manifest["training"]["steps"] == 1
    assert len(read_jsonl(tmp_path / "fitting-batch" / "rewards.jsonl")) == 8  # 4 prompts × 2 rollouts

"""`--executor ray` against a real Ray cluster on this machine (tests/ray_support.py: a head and two worker nodes,
1 CPU each): HumanEval+ canonical solutions, the forgery programs and (slow) the hostile programs get the same
per-sample verdicts as with the local pool; a worker node removed in the middle of an evaluation changes nothing,
counts nothing twice and is named in the log; GRPO rewards through Ray equal the local ones; a 2-unit grid run on
Ray gives the local leaderboard. One cluster serves the module (it starts in ~12 s)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from harness.core.errors import InfraError
from harness.evaluation import EvaluateConfig, evaluate
from tests.forgery_programs import EVALPLUS
from tests.hostile_programs import PROGRAMS, render
from tests.ray_support import ray_cluster  # noqa: F401  (fixture)
from tests.sandbox_fixtures import humaneval_problems  # noqa: F401  (fixture)

CANONICAL = [f"HumanEval/{i}" for i in range(0, 164, 6)]  # 28 tasks


def rows_of(out: Path) -> dict:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return {(r["task_id"], r.get("sample_index", 0)): r for r in rows}


def statuses(rows: dict) -> dict:
    return {key: (r["base_status"], r["plus_status"]) for key, r in rows.items()}


def hostile_context(tmp: Path) -> dict:
    token = uuid.uuid4().hex
    return {"token": token, "home": str(tmp / "home"), "port": 9, "addresses": ["127.0.0.1"],
            "write_targets": [str(tmp / f"marker-{token}")], "secret_paths": [str(tmp / "secret")],
            "disk_limit": 256 << 20, "daemon_marker": str(tmp / f"daemon-{token}"), "canaries": []}


def write_samples(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def evaluate_both(tmp: Path, samples: Path, tasks: list[str], address: str, monkeypatch) -> tuple[Path, Path]:
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp / "cache"))
    local, remote = tmp / "local", tmp / "ray"
    start = time.monotonic()
    evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(local), jobs=3,
                            tasks=tasks), quiet=True)
    # the verdicts again, not from the cache (the ground truth is shared: the same machine key)
    evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(remote), tasks=tasks,
                            executor="ray", ray_address=address, overwrite=True), quiet=True)
    print(f"\nlocal + ray evaluations: {time.monotonic() - start:.1f}s")
    return local, remote


def check_equal_to_local(rows: list[dict], tmp_path: Path, address: str, monkeypatch) -> dict:
    samples = tmp_path / "samples.jsonl"
    write_samples(samples, rows)
    tasks = sorted({r["task_id"] for r in rows})
    local, remote = evaluate_both(tmp_path, samples, tasks, address, monkeypatch)
    here, there = rows_of(local), rows_of(remote)
    assert statuses(there) == statuses(here)
    # every verdict was produced now, on a node of the cluster, in a sandbox backend there
    assert all("executed_on" in r for r in there.values())
    nodes = {r["executed_on"]["node"] for r in there.values()}
    assert {r["executed_on"]["backend"] for r in there.values()} == {r["sandbox"] for r in here.values()}
    manifest = json.loads((remote / "eval_results.json").read_text())["provenance"]["sandbox"]
    assert manifest["executor"] == "ray"
    assert nodes <= {n["node_id"] for n in manifest["nodes"] if n["jobs"]}
    return {"local": here, "ray": there, "nodes": nodes}


def test_canonical_and_forgery_verdicts_equal_local(ray_cluster, humaneval_problems, tmp_path,  # noqa: F811
                                                    monkeypatch):
    problems = humaneval_problems
    rows = [{"task_id": t, "solution": problems[t]["prompt"] + problems[t]["canonical_solution"]} for t in CANONICAL]
    rows += [{"task_id": f.task_id, "solution": f.code} for f in EVALPLUS if f.benchmark == "humaneval"]
    seen = check_equal_to_local(rows, tmp_path, ray_cluster.address, monkeypatch)
    # the controls: canonical solutions pass, no forgery does
    for task in CANONICAL:
        assert seen["local"][(task, 0)]["plus_status"] == "pass", task
    assert sum(r["plus_pass"] for r in seen["ray"].values()) == len(CANONICAL)
    assert len(seen["nodes"]) == 3  # the head and both workers ran jobs


@pytest.mark.slow
def test_hostile_verdicts_equal_local(ray_cluster, humaneval_problems, tmp_path, monkeypatch):  # noqa: F811
    problems = humaneval_problems
    context = hostile_context(tmp_path)
    rows = [{"task_id": p.task_id, "solution": render(p, problems[p.task_id], context)} for p in PROGRAMS]
    seen = check_equal_to_local(rows, tmp_path, ray_cluster.address, monkeypatch)
    assert not any(r["plus_pass"] for r in seen["ray"].values())  # no hostile program got through


def test_worker_node_removed_mid_evaluation(ray_cluster, humaneval_problems, tmp_path, monkeypatch,  # noqa: F811
                                            capfd):
    problems = humaneval_problems
    tasks = list(problems)[:20]
    rows = [{"task_id": t, "solution": problems[t]["prompt"] + problems[t]["canonical_solution"]} for t in tasks]
    rows += [{"task_id": t, "solution": problems[t]["prompt"] + "    return None\n"} for t in tasks]
    samples = tmp_path / "samples.jsonl"
    write_samples(samples, rows)
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / "cache"))
    local = tmp_path / "local"
    evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(local), jobs=3,
                            tasks=tasks), quiet=True)
    victim = ray_cluster.workers[-1]
    victim_id = victim.node_id
    verdicts = tmp_path / "cache" / "verdicts"
    started = time.time()
    removed = threading.Event()

    def written_now() -> int:
        return sum(1 for p in verdicts.rglob("*.json") if p.stat().st_mtime >= started)

    def remove_when_running() -> None:  # once the run has written a few verdicts of its own
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and written_now() < 8:
            time.sleep(0.05)
        ray_cluster.remove_worker(victim)
        removed.set()

    remover = threading.Thread(target=remove_when_running, daemon=True)
    remover.start()
    remote = tmp_path / "ray"
    try:
        evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(remote), tasks=tasks,
                                executor="ray", ray_address=ray_cluster.address, overwrite=True), quiet=True)
    finally:
        remover.join(timeout=130)
        if not removed.is_set() or len(ray_cluster.workers) < 2:
            ray_cluster.add_worker()  # the next test gets three nodes again
    assert removed.is_set()
    here, there = rows_of(local), rows_of(remote)
    assert statuses(there) == statuses(here)
    assert len(there) == len(rows)  # every sample once
    manifest = json.loads((remote / "eval_results.json").read_text())["provenance"]["sandbox"]
    assert victim_id in manifest["lost_nodes"]
    err = capfd.readouterr().err
    assert f"{victim_id[:12]} lost" in err


def test_bad_address_is_an_infrastructure_error(tmp_path, monkeypatch):
    import ray

    from sandboxes.ray_pool import connect

    if ray.is_initialized():
        ray.shutdown()
    with pytest.raises(InfraError, match="ray: cannot join"):
        connect("127.0.0.1:1")


def test_grpo_rewards_through_ray_equal_local(ray_cluster, tmp_path):  # noqa: F811
    from harness.generation.prompts import make_template
    from harness.synth.build import SynthConfig, synthesize
    from harness.synth.store import read_tasks
    from plugins.methods.grpo_reward import SandboxReward
    from sandboxes import make_sandbox

    with make_sandbox("auto", jobs=2, announce=False) as box:
        synthesize(SynthConfig(seed=5, composites=3, held_out_composites=1), tmp_path / "synth", box)
    tasks = {r["task_id"]: r["task"] for r in read_tasks(tmp_path / "synth", "train.jsonl")}
    completions, ids = [], []
    for task_id, task in tasks.items():  # what a batch of rollouts looks like: right, wrong, partly right
        first = task["prompt"].split("(", 1)[1].split(")", 1)[0].split(",")[0].split(":")[0].strip()
        for body in (task["canonical_solution"], "    return None\n", f"    return {first}\n"):
            completions.append("```python\n" + task["prompt"] + body + "```")
            ids.append(task_id)
    template = make_template("chat", {"dataset": "composite"}, None)
    rewards = {}
    for executor in ("local", "ray"):
        reward = SandboxReward(tasks, template, jobs=3, cache_dir=tmp_path / f"cache-{executor}",
                               executor=executor, ray_address=ray_cluster.address)
        try:
            rewards[executor] = reward(completions=completions, task_id=ids)
            described = reward.describe()
        finally:
            reward.close()
    assert rewards["ray"] == rewards["local"]
    assert rewards["local"].count(1.0) >= len(tasks)  # the references earn the full reward (the test can fail)
    assert min(rewards["local"]) < 1.0
    assert described["executor"] == "ray" and sum(n["jobs"] for n in described["nodes"]) > 0


def test_two_unit_grid_on_ray_gives_the_local_leaderboard(ray_cluster, tmp_path):  # noqa: F811
    from tests.conftest import run_cli
    from tests.generation_support import tiny_model_dir
    from tests.run_support import (
        TINY_SFT,
        break_solution,
        canonical_samples,
        leaderboard_numbers,
        run_config,
        write_samples,
    )

    rows = canonical_samples("humaneval", 4)
    write_samples(tmp_path / "replay" / "base-humaneval.jsonl", rows)
    write_samples(tmp_path / "replay" / "sft-humaneval.jsonl", [break_solution(rows[1]), *rows[:1], *rows[2:]])
    config = run_config(tmp_path / "grid.toml", model=str(tiny_model_dir()), variants=["base", "sft"],
                        replay=str(tmp_path / "replay" / "{plugin}-{benchmark}.jsonl"), benchmarks={"humaneval": 4},
                        plugins={"sft": TINY_SFT}, training_limit=4)
    env = {"OMP_NUM_THREADS": "1", "FGIT_BENCH_PROGRESS": "0", "FGIT_BENCH_CACHE": str(tmp_path / "cache")}
    local = run_cli("run", "--config", str(config), "--output", str(tmp_path / "local"), env=env)
    assert local.returncode == 0, local.stderr[-3000:]
    # a cache of its own: every stage runs again, on the cluster
    remote = run_cli("run", "--config", str(config), "--output", str(tmp_path / "ray"), "--executor", "ray",
                     "--ray-address", ray_cluster.address, env={**env, "FGIT_BENCH_CACHE": str(tmp_path / "c2")})
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert "executor ray: 3 node(s)" in remote.stderr
    assert leaderboard_numbers(tmp_path / "ray") == leaderboard_numbers(tmp_path / "local")
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    local_manifest = json.loads((tmp_path / "local" / "manifest.json").read_text())
    assert manifest["config_hash"] == local_manifest["config_hash"]
    for stage in ("sft/train.stage.json", "sft/humaneval/generate.stage.json"):  # ran as Ray tasks
        assert json.loads((tmp_path / "ray" / stage).read_text())["info"]["executed_on"]["executor"] == "ray", stage


def _explode():
    raise RuntimeError("payload broke in transit")


class Unloadable:
    """A payload that arrives broken on the node (unpickling it raises there): an infrastructure failure."""

    def __reduce__(self):
        return (_explode, ())


def test_infrastructure_errors_are_retried_then_reported_never_a_result(ray_cluster, capfd):  # noqa: F811
    from sandboxes.pool import JobFeed
    from sandboxes.ray_pool import RETRIES, LostJobs, RaySandbox

    box = RaySandbox("auto", address=ray_cluster.address, announce=False)
    got = {}
    try:
        feed = JobFeed()
        feed.put("good", "ping", 41, 60.0)
        feed.put("broken", "ping", Unloadable(), 60.0)
        feed.close()
        with pytest.raises(LostJobs) as caught:
            for key, result in box.run_feed(feed):
                got[key] = result
    finally:
        box.close()
    assert set(got) == {"good"} and got["good"].error is None and got["good"].value == 41
    assert caught.value.keys == ["broken"]
    assert f"job 'broken' failed {RETRIES} times" in capfd.readouterr().err

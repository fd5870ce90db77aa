"""`fgit-bench run` and `fgit-bench merge` for real: a tiny Llama trained by the sft plugin, replayed samples,
evaluation in the process sandbox, the leaderboard at the end.

The replayed samples make the expected scores known independently of the code under test: canonical solutions
pass, the ones replaced by a raising function fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import (
    TINY_SFT,
    break_solution,
    canonical_samples,
    leaderboard_numbers,
    run_config,
    write_samples,
)

TASKS = {"humaneval": 8, "mbpp": 6}
BROKEN = {"base": {"humaneval": [], "mbpp": []}, "sft": {"humaneval": [1, 4, 6], "mbpp": [2]}}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Replay files per variant and benchmark, and a run config with variants base and sft."""
    root = tmp_path_factory.mktemp("run-setup")
    for variant, broken in BROKEN.items():
        for benchmark, limit in TASKS.items():
            rows = canonical_samples(benchmark, limit)
            rows = [break_solution(r) if i in broken[benchmark] else r for i, r in enumerate(rows)]
            write_samples(root / "replay" / f"{variant}-{benchmark}.jsonl", rows)
    model = tiny_model_dir()
    config = run_config(root / "run.toml", model=str(model), variants=["base", "sft"],
                        replay=str(root / "replay" / "{variant}-{benchmark}.jsonl"), benchmarks=TASKS,
                        plugins={"sft": TINY_SFT})
    return {"root": root, "config": config}


def _run(config: Path, output: Path, *extra: str, env: dict | None = None):
    return run_cli("run", "--config", str(config), "--output", str(output), *extra, env=env)


@pytest.fixture(scope="module")
def reference_run(setup):
    output = setup["root"] / "reference"
    result = _run(setup["config"], output)
    assert result.returncode == 0, result.stderr[-3000:]
    return output, result


def _passes(run_dir: Path, variant: str, benchmark: str) -> list[bool]:
    return [r["base_pass"] for r in read_jsonl(run_dir / variant / benchmark / "eval" / "results.jsonl")]


def test_run_trains_generates_evaluates_and_prints_the_leaderboard(reference_run):
    run_dir, result = reference_run
    for variant, broken in BROKEN.items():
        for benchmark, limit in TASKS.items():
            expected = [i not in broken[benchmark] for i in range(limit)]
            assert _passes(run_dir, variant, benchmark) == expected, (variant, benchmark)
    artifact = json.loads((run_dir / "sft" / "artifact" / "artifact.json").read_text())
    assert artifact["plugin"] == "sft" and artifact["kind"] in ("merged", "adapter")
    assert json.loads((run_dir / "base" / "artifact" / "artifact.json").read_text())["kind"] == "base"
    # the leaderboard: both variants, pass@1 with intervals, paired statistics against Base
    assert "| Base |" in result.stdout and "| Standard-SFT |" in result.stdout, result.stdout
    assert "McNemar" in result.stdout or "p =" in result.stdout or "p-value" in result.stdout.lower()
    board = leaderboard_numbers(run_dir)
    assert board["variants"]["sft"]["HumanEval"]["passed"] == TASKS["humaneval"] - 3
    assert board["variants"]["base"]["MBPP"]["passed"] == TASKS["mbpp"]
    for name in ("leaderboard.md", "leaderboard.html"):
        assert (run_dir / name).stat().st_size > 0


def test_manifest_records_provenance(reference_run):
    run_dir, _ = reference_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["datasets"]["humaneval"]["hash"] and manifest["datasets"]["mbpp"]["tasks"] == TASKS["mbpp"]
    assert len(manifest["model"]["hash"]) >= 16
    assert set(manifest["artifacts"]) == {"base", "sft"} and manifest["artifacts"]["sft"]["artifact"]
    assert manifest["sandbox"]["humaneval"]["backend"] == "process"
    assert manifest["environment"]["versions"]["evalplus"]
    assert manifest["config"]["generation"]["backend"] == "replay"
    stages = {(s["variant"], s["benchmark"], s["stage"].split(": ")[-1]) for s in manifest["stages"]}
    assert ("sft", None, "train") in stages and ("base", "mbpp", "evaluate") in stages
    assert all(s["seconds"] >= 0 for s in manifest["stages"])


def test_second_run_with_nothing_changed_only_checks_hashes(setup, reference_run):
    run_dir, _ = reference_run
    before = leaderboard_numbers(run_dir)
    started = time.perf_counter()
    result = _run(setup["config"], run_dir)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"] and all(s["cached"] for s in manifest["stages"]), manifest["stages"]
    assert "running" not in result.stderr
    assert leaderboard_numbers(run_dir) == before
    print(f"second run with nothing changed: {seconds:.1f}s")


def test_adding_a_variant_computes_only_that_variant(setup, tmp_path):
    output = tmp_path / "grow"
    first = _run(setup["config"], output, "--variants", "base")
    assert first.returncode == 0, first.stderr[-2000:]
    assert not (output / "sft").exists()
    second = _run(setup["config"], output)
    assert second.returncode == 0, second.stderr[-2000:]
    stages = json.loads((output / "manifest.json").read_text())["stages"]
    assert {s["variant"] for s in stages if not s["cached"]} == {"sft"}
    assert all(s["cached"] for s in stages if s["variant"] == "base")


def test_sigkill_midway_then_rerun_gives_the_same_leaderboard(setup, reference_run, tmp_path):
    """A fresh cache, so the killed run is really working; killed with SIGKILL (no cleanup code runs)."""
    output = tmp_path / "killed"
    env = {**os.environ, "FGIT_BENCH_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen([sys.executable, "-m", "harness.app.cli", "run", "--config", str(setup["config"]),
                                "--output", str(output)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    trigger = output / "base" / "mbpp" / "samples.jsonl"  # base's MBPP evaluation is about to start
    deadline = time.monotonic() + 600
    while not trigger.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (output / "manifest.json").exists()
    resumed = _run(setup["config"], output, env={"FGIT_BENCH_CACHE": str(tmp_path / "cache")})
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    stages = json.loads((output / "manifest.json").read_text())["stages"]
    assert any(s["cached"] for s in stages) and not all(s["cached"] for s in stages)
    assert leaderboard_numbers(output) == leaderboard_numbers(reference_run[0])
    for variant in BROKEN:
        for benchmark, limit in TASKS.items():
            ids = [r["task_id"] for r in read_jsonl(output / variant / benchmark / "eval" / "results.jsonl")]
            assert len(ids) == len(set(ids)) == limit  # nothing counted twice


def test_shards_merge_into_the_unsharded_result(setup, reference_run, tmp_path):
    output = tmp_path / "sharded"
    for shard in ("1/2", "2/2"):
        result = _run(setup["config"], output, "--shard", shard)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "merge" in result.stderr and not (output / "leaderboard.json").exists()
    half = read_jsonl(output / "sft" / "humaneval" / "shards" / "1-of-2" / "eval" / "results.jsonl")
    assert [r["task_id"] for r in half] == [f"HumanEval/{i}" for i in range(0, TASKS["humaneval"], 2)]
    merged = run_cli("merge", str(output))
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert leaderboard_numbers(output) == leaderboard_numbers(reference_run[0])
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["shards"] == ["1-of-2", "2-of-2"]


def test_merge_refuses_a_missing_shard(setup, tmp_path):
    output = tmp_path / "partial"
    result = _run(setup["config"], output, "--shard", "1/3", "--variants", "base")
    assert result.returncode == 0, result.stderr[-2000:]
    merged = run_cli("merge", str(output))
    assert merged.returncode == 2
    assert "shard(s) 2, 3 of 3 missing" in merged.stderr and merged.stderr.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["--variants", "base,sfft"], "did you mean"),
    (["--profile", "smok"], "unknown profile"),
    (["--shard", "3/2"], "--shard"),
    (["--shard", "x"], "--shard"),
    (["--variants", "base,base"], "twice"),
])
def test_bad_input_is_one_line_and_exit_2(setup, tmp_path, args, message):
    result = _run(setup["config"], tmp_path / "bad", *args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_unknown_config_key_is_bad_input(tmp_path):
    config = tmp_path / "typo.toml"
    config.write_text('modle = "smollm2"\n')
    result = run_cli("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.returncode == 2 and "modle" in result.stderr and result.stderr.count("\n") == 1, result.stderr

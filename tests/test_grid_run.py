"""Grids for real: `fgit-bench run` with a 2×2 sweep of FGit (α × learning-rate schedule) on a tiny Llama that
is also the teacher, replayed samples, evaluation in the process sandbox, the grid leaderboard at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import break_solution, canonical_samples, run_config, write_samples

TASKS = {"humaneval": 4}
TINY_FGIT = {"max_steps": 1, "batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 256,
             "learning_rate": 1e-4, "variants": {"n_candidates": 1, "max_new_tokens": 24, "batch_size": 4}}
SWEEPS = """
[[sweep]]
variant = "fgit"
key = "loss.alpha"
values = [1.5, 3.0]

[[sweep]]
variant = "fgit"
key = "training.shared.lr_scheduler"
values = ["constant", "cosine"]
"""
GRID = [f"fgit[loss.alpha={a},training.shared.lr_scheduler={s}]" for a in ("1.5", "3.0")
        for s in ("constant", "cosine")]
ENV = {"OMP_NUM_THREADS": "1", "FGIT_BENCH_PROGRESS": "0"}


@pytest.fixture(scope="module")
def grid_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    rows = canonical_samples("humaneval", TASKS["humaneval"])
    write_samples(root / "replay" / "base-humaneval.jsonl", rows)
    write_samples(root / "replay" / "fgit-humaneval.jsonl", [break_solution(rows[1]), *rows[:1], *rows[2:]])
    config = run_config(root / "grid.toml", model=str(tiny_model_dir()), variants=["base", "fgit"],
                        replay=str(root / "replay" / "{plugin}-{benchmark}.jsonl"), benchmarks=TASKS,
                        plugins={}, training_limit=4)
    text = config.read_text() + "\n[plugins.fgit]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in TINY_FGIT.items() if not isinstance(v, dict))
    text += "variants = { n_candidates = 1, max_new_tokens = 24, batch_size = 4 }\n" + SWEEPS
    config.write_text(text)
    return root, config


@pytest.fixture(scope="module")
def grid_run(grid_setup):
    root, config = grid_setup
    output = root / "run"
    result = run_cli("run", "--config", str(config), "--output", str(output), env=ENV)
    assert result.returncode == 0, result.stderr[-4000:]
    return output, result


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_a_two_by_two_sweep_trains_four_instances_sharing_the_teacher_variants(grid_run):
    run_dir, result = grid_run
    manifest = _manifest(run_dir)
    assert sorted(manifest["instances"]) == sorted(["base", *GRID])
    for name in GRID:
        artifact = json.loads((run_dir / name / "artifact" / "artifact.json").read_text())
        assert artifact["plugin"] == "fgit"
        alpha = 1.5 if "alpha=1.5" in name else 3.0
        schedule = "cosine" if "cosine" in name else "constant"
        assert artifact["config"]["loss"]["alpha"] == alpha and artifact["config"]["lr_scheduler"] == schedule
        assert manifest["instances"][name]["settings"]["loss.alpha"] == alpha
        assert manifest["instances"][name]["axes"] == {"loss.alpha": alpha, "training.shared.lr_scheduler": schedule}
    keys = {json.loads((run_dir / n / "artifact" / "artifact.json").read_text())["cache_key"] for n in GRID}
    assert len(keys) == 4
    caches = [json.loads((run_dir / n / "train.stage.json").read_text())["info"]["pairs"]["variants"]["cache"] for n in GRID]
    examples = caches[0]["hits"] + caches[0]["misses"]
    assert examples > 0
    # the teacher variants were generated once: every later instance found all of them in the variant cache
    assert sum(c["misses"] for c in caches) <= examples
    assert sum(c["misses"] == 0 and c["hits"] == examples for c in caches) >= 3, caches
    # identical replayed solutions of different instances are judged once (verdict cache): the log says so
    assert manifest["stage_counts"]["shared"] >= 3, manifest["stage_counts"]
    assert "served from work shared" in result.stderr
    passes = [r["base_pass"] for r in read_jsonl(run_dir / GRID[0] / "humaneval" / "eval" / "results.jsonl")]
    assert passes == [True, False, True, True]


def test_one_more_alpha_computes_only_the_new_instances(grid_setup, grid_run):
    root, config = grid_setup
    run_dir, _ = grid_run
    result = run_cli("run", "--config", str(config), "--output", str(run_dir),
                     "--sweep", "fgit:loss.alpha=1.5,3,2", env=ENV)
    assert result.returncode == 0, result.stderr[-4000:]
    stages = _manifest(run_dir)["stages"]
    new = {f"fgit[loss.alpha=2.0,training.shared.lr_scheduler={s}]" for s in ("constant", "cosine")}
    assert {s["variant"] for s in stages if not s["cached"]} == new
    assert {s["variant"] for s in stages} == {"base", *GRID, *new}

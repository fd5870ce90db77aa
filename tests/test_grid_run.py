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


def _mde(differences: list[float]) -> float:
    """Miller (2024): (z_0.975 + z_0.8) · sqrt(ω² / n), ω² the population variance of the per-task differences."""
    from statistics import NormalDist, pvariance

    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    return z * (pvariance(differences) / len(differences)) ** 0.5


def test_the_grid_leaderboard_has_settings_sweep_tables_and_plots(grid_run):
    run_dir, result = grid_run
    board = json.loads((run_dir / "leaderboard.json").read_text())
    instances = {i["name"]: i for i in board["instances"]}
    assert instances[GRID[0]]["plugin"] == "fgit" and instances[GRID[0]]["settings"]["loss.alpha"] == 1.5
    assert instances[GRID[0]]["settings"]["lr_scheduler"] == "constant" and instances["base"]["settings"] == {}
    assert list(board["grid"]["axes"]) == ["loss.alpha", "training.shared.lr_scheduler"]
    rows = [r for r in board["grid"]["axes"]["loss.alpha"] if r["metric"] == "HumanEval"]
    assert sorted(r["name"] for r in rows) == sorted(GRID)
    for row in rows:  # replayed: every FGit instance loses HumanEval/1, which Base solves
        assert row["delta"] == pytest.approx(-0.25) and row["p_value"] == pytest.approx(1.0)
        assert row["p_holm"] == pytest.approx(1.0) and row["mde"] == pytest.approx(_mde([0, -1, 0, 0]))
    assert "## Sweep `loss.alpha` against Base" in result.stdout
    assert "## Sweep `training.shared.lr_scheduler` against Base" in result.stdout
    html = (run_dir / "leaderboard.html").read_text()
    assert 'aria-label="pass@1 on HumanEval against loss.alpha"' in html
    assert 'aria-label="training curve loss"' in html and 'aria-label="training curve learning_rate"' in html
    # FGit's own statistics, as logged (its weight statistics are logged over paired rows only and this tiny
    # teacher makes no usable pair: their curves are checked in tests/test_grid_stats.py)
    assert 'aria-label="training curve fgit_pairs"' in html


def test_the_leaderboard_page_loads_in_a_real_browser_and_shows_the_plots(grid_run, tmp_path):
    from tests.browser_support import load, png_distinct_bytes, screenshot

    run_dir, _ = grid_run
    page = run_dir / "leaderboard.html"
    dom, console = load(page, tmp_path)
    assert console == [], console
    assert dom.count("<svg") >= 2 + 2 * 2 + 3, dom.count("<svg")  # bars per metric, axis plots, curves
    assert dom.count("<polyline") >= 4 and "against loss.alpha" in dom
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    shown = png_distinct_bytes(screenshot(page, tmp_path, "board.png"))
    empty = png_distinct_bytes(screenshot(blank, tmp_path, "blank.png"))
    assert empty < 16 and shown > 4 * empty, (shown, empty)


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeds")
    rows = canonical_samples("humaneval", TASKS["humaneval"])
    write_samples(root / "replay" / "base-humaneval.jsonl", rows)
    write_samples(root / "replay" / "sft@seed=0-humaneval.jsonl", [rows[0], break_solution(rows[1]), *rows[2:]])
    write_samples(root / "replay" / "sft@seed=1-humaneval.jsonl",
                  [rows[0], break_solution(rows[1]), break_solution(rows[2]), rows[3]])
    config = run_config(root / "seeds.toml", model=str(tiny_model_dir()), variants=["base", "sft"],
                        replay=str(root / "replay" / "{variant}-{benchmark}.jsonl"), benchmarks=TASKS,
                        plugins={"sft": {"max_steps": 1, "batch_size": 2, "gradient_accumulation_steps": 1,
                                         "max_length": 256}})
    config.write_text("seeds = [0, 1]\n" + config.read_text())
    output = root / "run"
    result = run_cli("run", "--config", str(config), "--output", str(output), env=ENV)
    assert result.returncode == 0, result.stderr[-4000:]
    return output, result


def test_seeds_give_per_seed_artifacts_and_cells_with_a_spread(seeds_run):
    run_dir, result = seeds_run
    artifacts = {s: json.loads((run_dir / f"sft@seed={s}" / "artifact" / "artifact.json").read_text())
                 for s in (0, 1)}
    assert [artifacts[s]["config"]["seed"] for s in (0, 1)] == [0, 1]
    assert artifacts[0]["cache_key"] != artifacts[1]["cache_key"]
    assert not (run_dir / "base@seed=0").exists()  # base has no seed: one unit
    board = json.loads((run_dir / "leaderboard.json").read_text())
    cell = next(c for c in board["grid"]["cells"] if c["name"] == "sft" and c["metric"] == "HumanEval")
    assert cell["seeds"] == 2 and cell["pass_at_1"] == pytest.approx(0.625)
    assert cell["spread"] == pytest.approx(0.125 * 2 ** 0.5)  # sd of 0.75 and 0.5
    assert "62.5 ± 17.7 (sd over 2 seeds)" in result.stdout
    row = next(c for c in board["grid"]["comparisons"] if c["name"] == "sft" and c["reference"] == "base"
               and c["metric"] == "HumanEval")
    assert row["test"] == "bootstrap tasks×seeds" and row["delta"] == pytest.approx(-0.375)


def test_the_gate_compares_per_instance_name(grid_run, tmp_path):
    run_dir, _ = grid_run
    baseline = json.loads((run_dir / "leaderboard.json").read_text())
    name = GRID[0]
    tasks = baseline["variants"][name]["HumanEval"]["tasks"]
    assert tasks["HumanEval/1"] is False
    # a baseline in which this one instance also solved HumanEval/1: only it differs, by one task (not significant)
    tasks["HumanEval/1"] = True
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline))
    result = run_cli("gate", "--baseline", str(path), "--current", str(run_dir), "--max-drop", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split(" | ")[0].lstrip("| "): line for line in result.stdout.splitlines()
            if line.startswith("| ") and " | HumanEval | " in line}
    assert set(rows) == {"Base", *GRID}, rows
    assert "| 1 | 0 |" in rows[name] and rows[name].endswith("| ok |")
    assert all("| 0 | 0 |" in rows[other] for other in GRID[1:])


@pytest.mark.slow
def test_a_sharded_grid_merges_into_the_unsharded_result(grid_setup, grid_run, tmp_path):
    from tests.run_support import leaderboard_numbers

    _, config = grid_setup
    output = tmp_path / "sharded"
    for shard in ("1/2", "2/2"):
        result = run_cli("run", "--config", str(config), "--output", str(output), "--shard", shard, env=ENV)
        assert result.returncode == 0, result.stderr[-3000:]
    merged = run_cli("merge", str(output))
    assert merged.returncode == 0, merged.stderr[-2000:]
    numbers, reference = leaderboard_numbers(output), leaderboard_numbers(grid_run[0])
    assert numbers["variants"] == {k: v for k, v in reference["variants"].items() if k in numbers["variants"]}
    assert set(numbers["variants"]) == {"base", *GRID}


def test_one_more_alpha_computes_only_the_new_instances(grid_setup, grid_run):
    """Last in the file: it grows the shared run directory by two instances."""
    root, config = grid_setup
    run_dir, _ = grid_run
    result = run_cli("run", "--config", str(config), "--output", str(run_dir),
                     "--sweep", "fgit:loss.alpha=1.5,3,2", env=ENV)
    assert result.returncode == 0, result.stderr[-4000:]
    stages = _manifest(run_dir)["stages"]
    new = {f"fgit[loss.alpha=2.0,training.shared.lr_scheduler={s}]" for s in ("constant", "cosine")}
    assert {s["variant"] for s in stages if not s["cached"]} == new
    assert {s["variant"] for s in stages} == {"base", *GRID, *new}

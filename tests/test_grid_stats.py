"""Grid statistics against independent computations: the two-level (tasks × seeds) bootstrap against a plain
loop over index draws, Miller's minimum detectable effect and Holm's adjustment against the formulas by hand,
cells over seeds against per-seed rates computed here."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from leaderboards.grid import build_grid
from leaderboards.grid_stats import holm, minimum_detectable_effect, seeded_bootstrap
from leaderboards.stats import paired_bootstrap


def _constructed(seed: int = 3, tasks: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    difficulty = rng.random(tasks)
    variant = rng.random((tasks, 3)) < (difficulty[:, None] * 0.9 + 0.1)  # 3 seeds, a little better
    reference = rng.random((tasks, 2)) < difficulty[:, None] * 0.8  # 2 seeds
    return variant, reference


def _naive_bootstrap(variant, reference, resamples: int, seed: int) -> np.ndarray:
    """The definition, one resample at a time: draw task indices (shared), seed indices per side."""
    rng = np.random.default_rng(seed)
    n, kv, kr = variant.shape[0], variant.shape[1], reference.shape[1]
    out = np.empty(resamples)
    for b in range(resamples):
        tasks = rng.integers(0, n, n)
        sv, sr = rng.integers(0, kv, kv), rng.integers(0, kr, kr)
        out[b] = variant[np.ix_(tasks, sv)].mean() - reference[np.ix_(tasks, sr)].mean()
    return out


def test_two_level_bootstrap_matches_the_definition():
    variant, reference = _constructed()
    delta, low, high, p = seeded_bootstrap(variant, reference, resamples=20_000, seed=1)
    assert delta == pytest.approx(variant.mean() - reference.mean(), abs=1e-12)
    naive = _naive_bootstrap(variant.astype(float), reference.astype(float), 20_000, seed=99)
    n_low, n_high = np.quantile(naive, [0.025, 0.975])
    assert low == pytest.approx(n_low, abs=0.015) and high == pytest.approx(n_high, abs=0.015)
    n_p = min(1.0, 2 * min(np.mean(naive <= 0), np.mean(naive >= 0)))
    assert p == pytest.approx(n_p, abs=0.01)
    # a task-only bootstrap of the seed means is narrower: the seeds' own variance is what it leaves out
    means = variant.mean(axis=1) - reference.mean(axis=1)
    task_only = np.quantile([np.mean(np.random.default_rng(b).choice(means, means.size)) for b in range(4000)],
                            [0.025, 0.975])
    assert high - low > task_only[1] - task_only[0]


def test_one_seed_each_is_the_paired_task_bootstrap():
    variant, reference = _constructed(seed=5, tasks=60)
    _, low, high, _ = seeded_bootstrap(variant[:, :1], reference[:, :1], resamples=20_000, seed=2)
    _, p_low, p_high = paired_bootstrap(variant[:, 0], reference[:, 0], resamples=20_000, seed=7)
    assert low == pytest.approx(p_low, abs=0.02) and high == pytest.approx(p_high, abs=0.02)


def test_minimum_detectable_effect_is_millers_formula():
    n, wins, losses = 100, 10, 5
    d = np.array([1.0] * wins + [-1.0] * losses + [0.0] * (n - wins - losses))
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    omega2 = (wins + losses) / n - ((wins - losses) / n) ** 2
    assert minimum_detectable_effect(d) == pytest.approx(z * math.sqrt(omega2 / n), rel=1e-9)
    # no discordant task: floored at one discordant task's variance, never 0
    assert minimum_detectable_effect(np.zeros(20)) == pytest.approx(z * math.sqrt((1 / 20 - 1 / 400) / 20))
    assert minimum_detectable_effect(np.zeros(400)) < minimum_detectable_effect(np.zeros(20))


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.2 → ×4, ×3, ×2, ×1 = 0.04, 0.09, 0.08→0.09 (monotone), 0.2
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    adjusted = holm([0.5, math.nan, 0.01])
    assert math.isnan(adjusted[1]) and adjusted[0] == pytest.approx(0.5) and adjusted[2] == pytest.approx(0.02)


def _table(outcomes: dict[str, list[bool]]) -> pd.DataFrame:
    rows = [{"variant": v, "benchmark": "humaneval", "metric": "HumanEval", "task_id": f"HumanEval/{i}",
             "passed": bool(p), "status": "pass" if p else "fail", "detail": "", "excluded": False}
            for v, passes in outcomes.items() for i, p in enumerate(passes)]
    return pd.DataFrame(rows)


def test_cells_over_seeds_show_the_mean_and_the_spread():
    seeds = {0: [1, 1, 0, 0, 1, 0, 1, 0], 1: [1, 1, 1, 0, 1, 0, 1, 1], 2: [0, 1, 0, 0, 1, 0, 0, 0]}
    outcomes = {"base": [1, 0, 0, 0, 1, 0, 1, 0], **{f"fgit@seed={s}": [bool(x) for x in v] for s, v in seeds.items()}}
    manifest = {"instances": {"base": {"name": "base", "plugin": "base", "model": "m", "seed": None},
                              **{f"fgit@seed={s}": {"name": "fgit", "plugin": "fgit", "model": "m", "seed": s,
                                                    "axes": {}, "settings": {}} for s in seeds}}}
    grid = build_grid(_table(outcomes), manifest, resamples=4000, seed=0)
    assert grid.is_grid
    cell = grid.cells.set_index("name").loc["fgit"]
    rates = [sum(v) / 8 for v in seeds.values()]
    assert cell["seeds"] == 3 and cell["pass_at_1"] == pytest.approx(np.mean(rates))
    assert cell["spread"] == pytest.approx(np.std(rates, ddof=1))
    row = grid.comparisons.set_index(["name", "reference"]).loc[("fgit", "base")]
    assert row["test"] == "bootstrap tasks×seeds" and row["seeds"] == "3/1"
    assert row["delta"] == pytest.approx(np.mean(rates) - 3 / 8)
    assert row["delta_low"] <= row["delta"] <= row["delta_high"]


def test_fgit_weight_statistics_become_training_curves(tmp_path):
    """The tiny-model grid run logs no weight statistics (its teacher makes no usable pair; FGit logs them over
    paired rows only), so the curves of the weight statistics are checked on a constructed log."""
    from leaderboards.grid import load_curves
    from leaderboards.grid_plots import curve_plot

    log = tmp_path / "fgit" / "artifact" / "train_log.jsonl"
    log.parent.mkdir(parents=True)
    rows = [{"step": 1, "loss": 2.0, "learning_rate": 1e-4, "fgit_pairs": 2, "fgit_weight_mean": 1.4},
            {"step": 2, "loss": 1.5, "learning_rate": 5e-5, "fgit_pairs": 2, "fgit_weight_mean": 1.7},
            {"step": 2, "train_loss": 1.75}]  # the summary line: no curve point
    log.write_text("".join(f"{json.dumps(r)}\n" for r in rows) + '{"step": 3, "lo')  # and a line cut by a kill
    curves = load_curves(tmp_path)
    assert curves == {"fgit": {"loss": [(1, 2.0), (2, 1.5)], "learning_rate": [(1, 1e-4), (2, 5e-5)],
                               "fgit_pairs": [(1, 2.0), (2, 2.0)], "fgit_weight_mean": [(1, 1.4), (2, 1.7)]}}
    manifest = {"instances": {"fgit": {"name": "fgit", "plugin": "fgit", "model": "m", "seed": None}}}
    grid = build_grid(_table({"fgit": [True, False]}), manifest, resamples=10, seed=0, curves=curves)
    svg = curve_plot(grid, "fgit_weight_mean")
    assert 'aria-label="training curve fgit_weight_mean"' in svg and svg.count("<circle") == 2

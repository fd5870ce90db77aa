"""Issue 26, Build 4: the resampling calibration of the gate and the paired tests, against cases with known answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leaderboards.calibration import calibrate, simulate, task_probabilities

REPO = Path(__file__).resolve().parent.parent


def test_task_probabilities_are_the_mean_outcome_over_series():
    series = [{"a": True, "b": False, "c": True}, {"a": True, "b": True}, {"a": False, "b": False, "c": True}]
    assert task_probabilities(series).tolist() == pytest.approx([2 / 3, 1 / 3, 1.0])


@pytest.mark.parametrize("n_samples", [1, 3])
def test_identical_outcome_tables_are_never_rejected(n_samples):
    """Deterministic tasks (p_t 0 or 1): both arms identical in every replicate, so no test may ever reject."""
    p = np.array([1.0] * 30 + [0.0] * 10)
    for row in calibrate(p, 400, n_samples, effects_pp=(0.0,), trials=200, seed=1):
        assert row.gate.rejections == 0 and row.paired.rejections == 0 and row.gate.trials == 200


def test_a_planted_effect_flips_exactly_that_many_samples():
    rng = np.random.default_rng(0)
    p = np.array([1.0] * 3 + [0.0])
    for effect, tasks, n, expected in ((-20.0, 400, 1, -80), (20.0, 400, 1, 80), (-5.0, 100, 4, -20)):
        reference, current, short = simulate(p, tasks, n, effect, rng)
        assert not short and int(current.sum() - reference.sum()) == expected
        assert current.min() >= 0 and current.max() <= n
    reference, current, short = simulate(np.array([0.0]), 10, 1, -20.0, rng)  # nothing passes: nothing to lose
    assert short and current.sum() == reference.sum() == 0


def test_a_20_point_loss_on_400_tasks_is_caught():
    """Known answer: 80 of 400 tasks lost (±sampling noise at p_t = 0.5) → McNemar p ≈ 0; power ≈ 1."""
    for p in (np.array([1.0, 1.0, 1.0, 0.0]), np.full(5, 0.5)):
        (row,) = calibrate(p, 400, 1, effects_pp=(-20.0,), trials=200, seed=2)
        assert row.gate.rate >= 0.99 and row.paired.rate >= 0.99


def test_a_gain_never_fires_the_gate_but_the_paired_test_sees_it():
    (row,) = calibrate(np.array([1.0, 0.0]), 400, 1, effects_pp=(20.0,), trials=100, seed=3)
    assert row.gate.rejections == 0 and row.paired.rate >= 0.99


def test_the_a_a_false_alarm_rate_stays_within_alpha():
    """Every task a coin flip (the noisiest null): exact McNemar's size is at most α, so the Monte-Carlo
    interval of the false-alarm rate must reach below 5%; the gate (one-sided, a drop > 1 pp) fires less often."""
    (row,) = calibrate(np.full(7, 0.5), 200, 1, effects_pp=(0.0,), trials=1500, seed=4)
    assert 0.0 < row.paired.rate and row.paired.interval[0] <= 0.05
    assert row.gate.rejections <= row.paired.rejections
    assert row.gate.interval[0] <= 0.025


def test_bad_probabilities_are_refused():
    for bad in (np.array([]), np.array([1.5]), np.array([[0.5]])):
        with pytest.raises(ValueError):
            calibrate(bad, 10, trials=1)


def test_the_bench_script_prints_the_table():
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "bench_gate_calibration.py"), "--trials", "20",
                           "--metrics", "MBPP+"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| MBPP+")]
    assert len(lines) == 15  # 3 designs × (A/A + 4 losses)
    assert any("| 378 × 1 |" in line and "| A/A |" in line for line in lines)

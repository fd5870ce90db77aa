"""Calibration of the gate and the paired tests by resampling a real run's per-task outcomes (issue 26, Build 4).

What it estimates, for one metric and a design of T tasks × n samples per task:
- the false-alarm rate of an A/A comparison: two arms drawn from the same per-task pass probabilities, so any
  rejection is a false alarm; the target is ≤ the nominal α within Monte-Carlo error;
- the power against a planted effect of d percentage points: the same two arms, then round(d/100 · T · n) of the
  current arm's passing (a loss) or failing (a gain) samples, chosen at random, flipped.

The null model. Task t is solved with probability p_t, estimated from the run: for n > 1 its per-sample pass rate,
for greedy runs (n = 1) its pass rate over all variants of the run (as `leaderboards.power` does: the variants of one
run are near-identical models, so the spread across them is the run-to-run instability a second unit would show).
One replicate draws T tasks with replacement from the run's tasks (so a slice of 8 tasks can be scaled to the 164 of
full HumanEval+), then both arms independently: n Bernoulli(p_t) samples per task. Where every p_t is 0 or 1 (a
deterministic model, greedy decoding) the two arms are identical and nothing can ever be rejected: that is the
right answer for a greedy A/A pair of identical units.

The decisions measured are the project's own code: the gate's `compare_series` (a drop > max_drop_pp with p < α;
McNemar for n = 1, the paired task bootstrap for n > 1) and the leaderboard's paired test (two-sided, p < α; exact
McNemar for n = 1, the paired task bootstrap otherwise). A rate's Monte-Carlo interval is the 95% Wilson interval
of rejections / trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from leaderboards.binomial import mcnemar_exact, wilson_interval
from leaderboards.defaults import DEFAULT_ALPHA, DEFAULT_MAX_DROP_PP
from leaderboards.passk_stats import rate_compare

EFFECTS_PP = (2.0, 5.0, 10.0, 20.0)
RATE_RESAMPLES = 1000  # bootstrap resamples per replicate where n > 1 (its p only needs to resolve α)


@dataclass(frozen=True)
class Rate:
    """A Monte-Carlo rejection rate with its 95% Wilson interval."""

    rejections: int
    trials: int

    @property
    def rate(self) -> float:
        return self.rejections / self.trials if self.trials else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.rejections, self.trials)

    def __str__(self) -> str:
        low, high = self.interval
        return f"{100 * self.rate:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


@dataclass(frozen=True)
class CalibrationRow:
    effect_pp: float  # 0: A/A; negative: a planted loss; positive: a planted gain
    tasks: int
    n_samples: int
    gate: Rate  # the gate fired (a loss larger than allowed, significant)
    paired: Rate  # the paired test rejected (two-sided, p < α)
    shortfall: int = 0  # replicates where fewer samples than asked could be flipped (all were flipped)


def task_probabilities(series: list[dict[str, bool | float]]) -> np.ndarray:
    """p_t of every task scored by at least one series (one metric's series of one run): the mean outcome/rate."""
    tasks = sorted({t for s in series for t in s})
    return np.array([np.mean([float(s[t]) for s in series if t in s]) for t in tasks], dtype=float)


def simulate(p: np.ndarray, tasks: int, n_samples: int, effect_pp: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """(reference, current, short): per-task pass counts of two arms; `short` when the planted effect needed more
    samples than could be flipped (then all of them were)."""
    chosen = np.asarray(p, dtype=float)[rng.integers(len(p), size=tasks)]
    reference = rng.binomial(n_samples, chosen)
    current = rng.binomial(n_samples, chosen)
    flips = int(round(abs(effect_pp) / 100.0 * tasks * n_samples))
    short = False
    if flips:
        # the samples that can move: passing ones for a loss, failing ones for a gain
        movable = current if effect_pp < 0 else n_samples - current
        slots = np.repeat(np.arange(tasks), movable)
        if flips > slots.size:
            short, flips = True, slots.size
        picked = np.bincount(rng.choice(slots, size=flips, replace=False), minlength=tasks)
        current = current - picked if effect_pp < 0 else current + picked
    return reference, current, short


def decide(reference: np.ndarray, current: np.ndarray, n_samples: int, alpha: float, max_drop_pp: float,
           resamples: int = RATE_RESAMPLES, seed: int = 0) -> tuple[bool, bool]:
    """(gate fired, paired test rejected) for per-task pass counts of the two arms, as the gate and the
    leaderboard decide them."""
    from leaderboards.gate import compare_series

    if n_samples == 1:
        ids = [f"t{i:05d}" for i in range(reference.size)]
        row = compare_series("a", "m", dict(zip(ids, map(bool, reference), strict=True)),
                             dict(zip(ids, map(bool, current), strict=True)), max_drop_pp, alpha)
        losses = int(np.count_nonzero((reference == 1) & (current == 0)))
        wins = int(np.count_nonzero((reference == 0) & (current == 1)))
        return row.regression, mcnemar_exact(losses, wins) < alpha
    ref, cur = reference / n_samples, current / n_samples
    p = rate_compare(cur, ref, resamples, seed)[3]
    drop = 100.0 * (ref.mean() - cur.mean())
    return round(drop, 9) > max_drop_pp and p < alpha, p < alpha


def calibrate(p: np.ndarray, tasks: int, n_samples: int = 1, effects_pp=(0.0, *(-e for e in EFFECTS_PP)),
              trials: int = 2000, seed: int = 0, alpha: float = DEFAULT_ALPHA,
              max_drop_pp: float = DEFAULT_MAX_DROP_PP, resamples: int = RATE_RESAMPLES) -> list[CalibrationRow]:
    """One row per effect (0 = A/A; −d a planted loss of d points; +d a planted gain) over `trials` replicates."""
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any((p < 0) | (p > 1)):
        raise ValueError("per-task pass probabilities must be a non-empty vector in [0, 1]")
    if tasks < 1 or n_samples < 1 or trials < 1:
        raise ValueError("tasks, n_samples and trials must be at least 1")
    rows = []
    for index, effect in enumerate(effects_pp):
        rng = np.random.default_rng([seed, index])
        gate = paired = short = 0
        for trial in range(trials):
            reference, current, was_short = simulate(p, tasks, n_samples, effect, rng)
            fired, rejected = decide(reference, current, n_samples, alpha, max_drop_pp, resamples, seed + trial)
            gate += fired
            paired += rejected
            short += was_short
        rows.append(CalibrationRow(float(effect), tasks, n_samples, Rate(gate, trials), Rate(paired, trials), short))
    return rows

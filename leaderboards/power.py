"""Power planning for pass@k designs (issue 25, Build 5): the minimum detectable effect of a paired comparison of
two variants on T tasks with n samples per task and S training seeds per variant, or the n·S needed for an effect.

The model. Variant A solves task t with probability p_t, B with q_t; with n samples each (pooled over S seeds, so
n·S samples per side) the per-task difference of observed pass rates d̂_t has E[d̂_t²] = (p_t − q_t)² +
[p_t(1 − p_t) + q_t(1 − q_t)] / (n·S). Averaged over tasks: τ² + s²/(n·S), with τ² = mean (p_t − q_t)² (how much
the variants really differ task by task: more samples do not shrink it) and s² = mean [p(1 − p) + q(1 − q)]
(sampling noise: more samples do). The paired test's minimum detectable effect at level α with power 1 − β
(Miller 2024, §5): MDE = (z_{1−α/2} + z_{1−β}) · sqrt((τ² + s²/(n·S)) / T). Treating seeds like extra samples is
the optimistic side of the model (a seed also moves p_t); `--seeds` > 1 should be read with that in mind.

Estimates from a run, over every pair (Base, variant) of one metric:
- n > 1: s²_t = the unbiased Bernoulli variances p̂(1 − p̂)·n/(n − 1) of both sides, τ² = max(0, mean d̂² − s²/n);
- n = 1: d̂ ∈ {−1, 0, 1} and mean d̂² is the discordance D = τ² + s², which one sample cannot split; s² is taken
  as 2·p̄_t(1 − p̄_t) with p̄_t the task's pass rate over all variants of the run, τ² = max(0, D − s²).
Without a run: the conservative default s² = 0.5 (every task at p = q = 0.5) and τ² = 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leaderboards.table import comparable

DEFAULT_S2, DEFAULT_TAU2 = 0.5, 0.05


@dataclass(frozen=True)
class Variance:
    s2: float  # sampling variance per task at one sample per side
    tau2: float  # variance of the true per-task differences
    source: str


def z_total(alpha: float = 0.05, power: float = 0.8) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2) + norm.ppf(power))


def mde(variance: Variance, tasks: int, n: int, seeds: int = 1, alpha: float = 0.05, power: float = 0.8) -> float:
    return z_total(alpha, power) * math.sqrt((variance.tau2 + variance.s2 / (n * seeds)) / tasks)


def samples_needed(variance: Variance, tasks: int, effect: float, alpha: float = 0.05,
                   power: float = 0.8) -> int | None:
    """The smallest n·S with MDE ≤ effect; None when even infinitely many samples cannot (the τ² floor)."""
    room = (effect / z_total(alpha, power)) ** 2 * tasks - variance.tau2
    if room <= 0:
        return None
    return max(1, math.ceil(variance.s2 / room - 1e-12))


def estimate(table: pd.DataFrame, metric: str, reference: str = "base") -> Variance:
    """s² and τ² from a run's long table (one metric), over the pairs (reference, other variant)."""
    part = comparable(table)
    part = part.loc[part["metric"] == metric]
    if part.empty:
        raise ValueError(f"no results for {metric}")
    wide = part.pivot(index="task_id", columns="variant", values="passed").astype(float)
    n = int(part["n_samples"].max()) if "n_samples" in part else 1
    others = [v for v in wide.columns if v != reference]
    if reference not in wide.columns or not others:
        raise ValueError(f"{metric}: the run needs {reference} and at least one other variant")
    s2s, tau2s = [], []
    pooled = wide.mean(axis=1)
    for other in others:
        both = wide[[reference, other]].dropna()
        d2 = float(np.mean((both[other] - both[reference]) ** 2))
        if n > 1:
            within = both * (1 - both) * n / (n - 1)
            s2 = float(within.sum(axis=1).mean())
            tau2 = max(0.0, d2 - s2 / n)
        else:
            s2 = float(np.mean(2 * pooled.loc[both.index] * (1 - pooled.loc[both.index])))
            tau2 = max(0.0, d2 - s2)
        s2s.append(s2)
        tau2s.append(tau2)
    return Variance(float(np.mean(s2s)), float(np.mean(tau2s)),
                    f"{metric}, {len(wide)} tasks × {n} sample(s), {reference} vs {', '.join(others)}")

"""Statistics of runs with n samples per task (issue 25, Build 3).

- pass@1 is the mean per-task pass rate c/n (the unbiased estimator at k = 1); its 95% interval is the percentile
  bootstrap over tasks (a task is the unit that was sampled from the benchmark; a Wilson interval over n × tasks
  samples would treat a task's samples as independent and be too narrow).
- pass@k for k ≤ n (harness.core.passk.curve_ks: powers of two, 5, 10, 25, 100 and n): the mean over tasks of evalplus's
  unbiased per-task estimate, with the same task bootstrap.
- Paired comparisons use the per-task pass rates: the paired bootstrap over tasks (both sides drawn with the same
  tasks), Δ = difference of mean rates, p by inverting it (leaderboards.grid_stats.seeded_bootstrap with one column
  per side); McNemar's test needs one binary outcome per task and is used only where n = 1.
- The minimum detectable effect is computed for the design that ran: from the per-task differences of pass rates,
  whose variance already holds the sampling noise of n samples per task (Miller 2024, §5).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.core import passk
from leaderboards.grid_stats import CHUNK, seeded_bootstrap


def sampled(group: pd.DataFrame) -> bool:
    """Several samples per task in this (part of a) table."""
    return "n_samples" in group and bool((group["n_samples"].fillna(1) > 1).any())


def task_bootstrap(values: np.ndarray, resamples: int, seed: int, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of per-task values, tasks drawn with replacement."""
    values = np.asarray(values, dtype=float)
    n = values.size
    if n == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size)
        means.append(counts @ values / n)
    means = np.concatenate(means)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(low), float(high))


def per_task_estimates(group: pd.DataFrame, k: int) -> np.ndarray:
    return passk.estimate(group["n_samples"].astype(int), group["correct"].astype(int), k)


def pass_at_k_frame(table: pd.DataFrame, resamples: int, seed: int) -> pd.DataFrame:
    """One row per (variant, metric, k) with k ≤ the smallest n of the series: tasks, n, pass@k, its interval."""
    rows = []
    for (variant, metric), group in table.groupby(["variant", "metric"], sort=False):
        if not sampled(group):
            continue
        n_min = int(group["n_samples"].min())
        for k in passk.curve_ks(n_min):
            values = per_task_estimates(group, k)
            low, high = task_bootstrap(values, resamples, seed)
            rows.append({"variant": variant, "metric": metric, "k": k, "tasks": len(group), "n": n_min,
                         "pass_at_k": float(values.mean()), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["variant", "metric", "k", "tasks", "n", "pass_at_k", "ci_low", "ci_high"])


def rate_compare(variant: np.ndarray, reference: np.ndarray, resamples: int, seed: int,
                 confidence: float = 0.95) -> tuple[float, float, float, float, int, int]:
    """(Δ, low, high, p, wins, losses) on per-task pass rates; wins/losses: tasks whose rate rose/fell."""
    variant = np.asarray(variant, dtype=float)
    reference = np.asarray(reference, dtype=float)
    delta, low, high, p = seeded_bootstrap(variant[:, None], reference[:, None], resamples, seed, confidence)
    return delta, low, high, p, int(np.count_nonzero(variant > reference)), int(np.count_nonzero(variant < reference))

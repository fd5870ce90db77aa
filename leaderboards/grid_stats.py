"""Statistics for grids: comparisons that account for tasks and training seeds, Holm adjustment, minimum
detectable effects.

Why these:
- With several training seeds a variant's pass@1 varies for two reasons: which tasks the benchmark happens to hold,
  and which training run (seed) produced the model. A task-only bootstrap of one seed ignores the second; averaging
  seeds first and bootstrapping tasks ignores it too. The two-level bootstrap below resamples both: each resample
  draws n tasks with replacement (the same draw for both sides: the comparison stays paired over tasks) and,
  independently for each side, k seeds with replacement (a seed is one whole training run, so it is drawn for all
  tasks at once). Δ* is the difference of the means over the drawn tasks and seeds. The interval is the percentile
  interval of Δ*, and the p-value inverts it: two-sided p = min(1, 2·min(P*(Δ* ≤ 0), P*(Δ* ≥ 0))). With one seed
  on each side it is the paired task bootstrap of leaderboards.stats (where the exact McNemar test is used).
- Holm's step-down adjustment controls the family-wise error over the rows of one table without assuming the
  comparisons are independent (they share the reference); statsmodels implements it.
- Minimum detectable effect at 80% power (Miller 2024, "Adding Error Bars to Evals", §5 power analysis): for a
  paired comparison on n tasks with per-task differences d (variance ω²), a two-sided test at level α detects an
  effect of MDE = (z_{1−α/2} + z_{power}) · sqrt(ω² / n). For one seed per side d ∈ {−1, 0, 1} and
  ω² = (wins + losses)/n − Δ², i.e. the observed discordance. With no discordant task ω² is 0 and the formula
  would claim any effect detectable; we floor ω² at one discordant task's worth (1/n − 1/n²), so a table that
  cannot rank anything says so.
"""

from __future__ import annotations

import math

import numpy as np

from leaderboards.defaults import DEFAULT_RESAMPLES, DEFAULT_SEED

CHUNK = 1000  # resamples per vectorized block: keeps memory at CHUNK × tasks


def seeded_bootstrap(variant: np.ndarray, reference: np.ndarray, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(Δ, low, high, p) for outcome matrices variant[task, seed] and reference[task, seed] (same task rows)."""
    variant = np.asarray(variant, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if variant.ndim != 2 or reference.ndim != 2 or variant.shape[0] != reference.shape[0]:
        raise ValueError("outcomes must be two matrices [task, seed] with the same tasks")
    n, kv, kr = variant.shape[0], variant.shape[1], reference.shape[1]
    if n == 0 or kv == 0 or kr == 0:
        return (math.nan, math.nan, math.nan, math.nan)
    delta = float(variant.mean() - reference.mean())
    rng = np.random.default_rng(seed)
    deltas = []
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        task_counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size)  # (size, n): how often each task is drawn
        seeds_v = rng.multinomial(kv, np.full(kv, 1.0 / kv), size=size) / kv  # (size, kv): seed weights
        seeds_r = rng.multinomial(kr, np.full(kr, 1.0 / kr), size=size) / kr
        per_task = seeds_v @ variant.T - seeds_r @ reference.T  # (size, n): seed-weighted difference per task
        deltas.append(np.einsum("bt,bt->b", task_counts, per_task) / n)
    deltas = np.concatenate(deltas)
    alpha = 1.0 - confidence
    low, high = np.quantile(deltas, [alpha / 2.0, 1.0 - alpha / 2.0])
    p = min(1.0, 2.0 * min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0))))
    return (delta, float(low), float(high), p)


def minimum_detectable_effect(differences: np.ndarray, alpha: float = 0.05, power: float = 0.8) -> float:
    """Miller (2024) paired power analysis: the smallest |Δ| a two-sided level-α test detects with `power`, given
    the per-task differences (each task's variant mean minus reference mean over seeds)."""
    from scipy.stats import norm

    d = np.asarray(differences, dtype=float)
    n = d.size
    if n == 0:
        return math.nan
    variance = float(np.mean(d * d) - np.mean(d) ** 2)  # population variance: ω² = discordance − Δ² for 0/1
    variance = max(variance, 1.0 / n - 1.0 / (n * n))
    return float((norm.ppf(1.0 - alpha / 2.0) + norm.ppf(power)) * math.sqrt(variance / n))


def holm(p_values) -> list[float]:
    """Holm-adjusted p-values (statsmodels); NaN entries stay NaN and are not counted in the family."""
    from statsmodels.stats.multitest import multipletests

    values = [float(p) for p in p_values]
    present = [i for i, p in enumerate(values) if not math.isnan(p)]
    out = [math.nan] * len(values)
    if present:
        adjusted = multipletests([values[i] for i in present], method="holm")[1]
        for i, p in zip(present, adjusted, strict=True):
            out[i] = float(p)
    return out


def seed_spread(rates: list[float]) -> float:
    """Sample standard deviation of per-seed pass@1 (NaN for one seed)."""
    return float(np.std(rates, ddof=1)) if len(rates) > 1 else math.nan

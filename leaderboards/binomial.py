"""Statistics for greedy pass@1: Wilson intervals, paired bootstrap intervals of Δpass@1, exact McNemar tests.

Why these:
- pass@1 of one variant is a binomial proportion over tasks. The Wilson score interval keeps its coverage for
  small task slices and for rates near 0 or 1, where the normal (Wald) interval collapses to a point.
- Two variants are scored on the same tasks, so their difference is paired: per task the outcome difference is
  -1, 0 or +1. Resampling tasks (the paired bootstrap) gives an interval for Δpass@1 that uses the pairing; the
  exact McNemar test (a binomial test on the discordant tasks) gives its p-value. Both ignore tasks where the two
  variants agree, as they should: those carry no information about the difference.

The three tests live here, below the tables that use them (leaderboards.stats, leaderboards.grid, leaderboards.gate).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from leaderboards.defaults import DEFAULT_RESAMPLES, DEFAULT_SEED


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(passed: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion passed/n (no continuity correction)."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= passed <= n:
        raise ValueError(f"passed={passed} must lie in [0, n={n}]")
    z = _z(confidence)
    p = passed / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n))
    # Mathematically the lower bound is 0 at passed=0 and the upper bound 1 at passed=n: drop the rounding noise.
    low = 0.0 if passed == 0 else max(0.0, centre - half)
    high = 1.0 if passed == n else min(1.0, centre + half)
    return (low, high)


def mcnemar_exact(losses: int, wins: int) -> float:
    """Exact two-sided McNemar p-value: under H0 the discordant tasks split Binomial(b + c, 1/2).

    p = min(1, 2 · Σ_{k ≤ min(b, c)} C(b + c, k) / 2^(b + c)); integer arithmetic, one rounding at the end.
    """
    if losses < 0 or wins < 0:
        raise ValueError("discordant counts must be non-negative")
    n = losses + wins
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(losses, wins) + 1))
    return min(1.0, (2 * tail) / (1 << n))


def paired_bootstrap(
    variant: np.ndarray,
    reference: np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(Δ, low, high): observed Δpass@1 and its percentile paired-bootstrap interval.

    Resampling n tasks with replacement only changes how many of them fall in each outcome class
    (d = −1, 0, +1), and those counts are Multinomial(n, observed class frequencies). Drawing the counts
    directly is the same bootstrap distribution as drawing n indices, in O(resamples) memory.
    """
    variant = np.asarray(variant, dtype=bool)
    reference = np.asarray(reference, dtype=bool)
    if variant.shape != reference.shape or variant.ndim != 1:
        raise ValueError("paired outcomes must be two 1-d arrays of the same length")
    n = variant.size
    if n == 0:
        return (math.nan, math.nan, math.nan)
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    wins = int(np.count_nonzero(variant & ~reference))
    losses = int(np.count_nonzero(~variant & reference))
    delta = (wins - losses) / n
    frequencies = np.array([losses, n - wins - losses, wins], dtype=float) / n
    counts = np.random.default_rng(seed).multinomial(n, frequencies, size=resamples)
    deltas = (counts[:, 2] - counts[:, 0]) / n
    alpha = 1.0 - confidence
    low, high = np.quantile(deltas, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (delta, float(low), float(high))

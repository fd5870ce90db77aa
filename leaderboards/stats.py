"""Statistics for greedy pass@1: Wilson intervals, paired bootstrap intervals of Δpass@1, exact McNemar tests.

Why these:
- pass@1 of one variant is a binomial proportion over tasks. The Wilson score interval keeps its coverage for
  small task slices and for rates near 0 or 1, where the normal (Wald) interval collapses to a point.
- Two variants are scored on the same tasks, so their difference is paired: per task the outcome difference is
  -1, 0 or +1. Resampling tasks (the paired bootstrap) gives an interval for Δpass@1 that uses the pairing; the
  exact McNemar test (a binomial test on the discordant tasks) gives its p-value. Both ignore tasks where the two
  variants agree, as they should: those carry no information about the difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from leaderboards.defaults import DEFAULT_RESAMPLES, DEFAULT_SEED
from leaderboards.grid_stats import holm, minimum_detectable_effect
from leaderboards.table import comparable, order_metrics, order_variants

REFERENCES = ("base", "sft")


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


@dataclass(frozen=True)
class PairedResult:
    """Variant vs reference on the tasks both were scored on. delta = pass@1(variant) − pass@1(reference)."""

    n: int
    wins: int  # variant passes, reference fails
    losses: int  # variant fails, reference passes
    delta: float
    low: float
    high: float
    p_value: float


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


def paired_compare(
    variant: np.ndarray,
    reference: np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> PairedResult:
    variant = np.asarray(variant, dtype=bool)
    reference = np.asarray(reference, dtype=bool)
    delta, low, high = paired_bootstrap(variant, reference, resamples, seed, confidence)
    wins = int(np.count_nonzero(variant & ~reference))
    losses = int(np.count_nonzero(~variant & reference))
    return PairedResult(variant.size, wins, losses, delta, low, high, mcnemar_exact(losses, wins))


def pass_at_1_frame(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row per (variant, metric): n, passed, pass_at_1, ci_low, ci_high (Wilson), excluded tasks dropped."""
    table = comparable(table)
    rows = []
    for (variant, metric), group in table.groupby(["variant", "metric"], sort=False):
        n = len(group)
        passed = int(group["passed"].sum())
        low, high = wilson_interval(passed, n, confidence)
        rows.append(
            {
                "variant": variant,
                "metric": metric,
                "n": n,
                "passed": passed,
                "pass_at_1": passed / n,
                "ci_low": low,
                "ci_high": high,
            }
        )
    frame = pd.DataFrame(rows, columns=["variant", "metric", "n", "passed", "pass_at_1", "ci_low", "ci_high"])
    return _sorted(frame, ["variant", "metric"])


def outcome_matrix(table: pd.DataFrame, metric: str) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(task ids, variants, passed[task, variant], scored[task, variant]) for one metric, as numpy arrays."""
    wide = table.loc[table["metric"] == metric].pivot(index="task_id", columns="variant", values="passed")
    scored = wide.notna().to_numpy(bool)
    passed = wide.fillna(False).to_numpy(bool) & scored
    return list(wide.index), list(wide.columns), passed, scored


def paired_frame(
    table: pd.DataFrame,
    references: tuple[str, ...] = REFERENCES,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every variant against each reference present, per metric: Δpass@1, bootstrap interval, McNemar p.

    Against Standard-SFT the Base row is left out: it is the Base-vs-SFT row with the sign flipped.
    """
    table = comparable(table)
    columns = [
        "variant",
        "reference",
        "metric",
        "n",
        "wins",
        "losses",
        "delta",
        "delta_low",
        "delta_high",
        "p_value",
        "p_holm",
        "mde",
    ]
    rows = []
    variants = order_variants(table["variant"].unique())
    metrics = order_metrics(table["metric"].unique())
    matrices = {metric: outcome_matrix(table, metric) for metric in metrics}
    for reference in references:
        if reference not in variants:
            continue
        earlier = set(references[: references.index(reference)])
        for metric in metrics:
            _, columns_present, passed, scored = matrices[metric]
            if reference not in columns_present:
                continue
            ref = columns_present.index(reference)
            for variant in variants:
                if variant == reference or variant in earlier or variant not in columns_present:
                    continue
                col = columns_present.index(variant)
                both = scored[:, col] & scored[:, ref]
                if not both.any():
                    continue
                result = paired_compare(passed[both, col], passed[both, ref], resamples, seed, confidence)
                rows.append(
                    {
                        "variant": variant,
                        "reference": reference,
                        "metric": metric,
                        "n": result.n,
                        "wins": result.wins,
                        "losses": result.losses,
                        "delta": result.delta,
                        "delta_low": result.low,
                        "delta_high": result.high,
                        "p_value": result.p_value,
                        "mde": minimum_detectable_effect(
                            passed[both, col].astype(float) - passed[both, ref].astype(float)),
                    }
                )
    frame = pd.DataFrame(rows, columns=columns)
    for reference in frame["reference"].unique():  # the family: one paired table (one reference)
        chosen = frame["reference"] == reference
        frame.loc[chosen, "p_holm"] = holm(frame.loc[chosen, "p_value"])
    return frame


def relative_improvement(pass_frame: pd.DataFrame, reference: str = "base") -> pd.DataFrame:
    """variant × metric: (pass@1 − pass@1 of the reference) / pass@1 of the reference; NaN where undefined."""
    wide = pass_frame.pivot(index="variant", columns="metric", values="pass_at_1")
    if reference not in wide.index:
        return pd.DataFrame()
    base = wide.loc[reference].where(wide.loc[reference] > 0)
    return (wide - base) / base


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if frame.empty:
        return frame.reset_index(drop=True)
    ranks = {
        "variant": {v: i for i, v in enumerate(order_variants(frame["variant"].unique()))},
        "metric": {m: i for i, m in enumerate(order_metrics(frame["metric"].unique()))},
    }
    order = frame[keys].apply(lambda column: column.map(ranks[column.name]))
    return frame.loc[order.sort_values(keys, kind="stable").index].reset_index(drop=True)


@dataclass
class Leaderboard:
    """Everything a renderer needs: the long table and the statistics computed from it."""

    table: pd.DataFrame  # long table, excluded tasks still present (flagged)
    pass_at_1: pd.DataFrame
    paired: pd.DataFrame
    relative: pd.DataFrame  # vs Base; empty when the run has no Base
    variants: list[str]
    metrics: list[str]
    resamples: int
    seed: int
    provenance: dict
    grid: object = None  # leaderboards.grid.GridBoard: instances, seeds, sweep axes, training curves

    def notes(self) -> list[str]:
        """Caveats a reader must see: excluded tasks, variants scored on different task sets."""
        notes = []
        usable = comparable(self.table)
        flagged = self.table.loc[self.table["excluded"]].groupby("metric")["task_id"].nunique()
        for metric in self.metrics:
            if metric in flagged.index:
                notes.append(
                    f"{metric}: {int(flagged[metric])} task(s) excluded (ground truth fails, or a hotfix variant "
                    "trained on it): "
                    "not counted for any variant"
                )
        for metric in self.metrics:
            sizes = self.pass_at_1.loc[self.pass_at_1["metric"] == metric].set_index("variant")["n"]
            if sizes.nunique() > 1:
                detail = ", ".join(f"{v}={int(n)}" for v, n in sizes.items())
                notes.append(
                    f"{metric}: variants were scored on different numbers of tasks ({detail}); "
                    "paired statistics use the shared tasks only"
                )
            missing = [v for v in self.variants if v not in set(sizes.index)]
            if missing and not usable.loc[usable["metric"] == metric].empty:
                notes.append(f"{metric}: no results for {', '.join(missing)}")
        from leaderboards.notes import resolution_notes

        return notes + resolution_notes(self.provenance.get("manifest") or {})


def build_leaderboard(
    table: pd.DataFrame,
    provenance: dict | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    curves: dict | None = None,
) -> Leaderboard:
    from leaderboards.grid import build_grid

    pass_frame = pass_at_1_frame(table)
    provenance = dict(provenance or {})
    return Leaderboard(
        table=table,
        pass_at_1=pass_frame,
        paired=paired_frame(table, REFERENCES, resamples, seed),
        relative=relative_improvement(pass_frame) if not pass_frame.empty else pd.DataFrame(),
        variants=order_variants(table["variant"].unique()),
        metrics=order_metrics(table["metric"].unique()),
        resamples=resamples,
        seed=seed,
        provenance=provenance,
        grid=build_grid(table, provenance.get("manifest") or {}, resamples, seed, curves),
    )

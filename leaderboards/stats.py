"""The Leaderboard of a run: pass@1 with Wilson intervals, paired Δpass@1 against the references, relative gains.

The tests themselves (why Wilson, the paired bootstrap and exact McNemar): leaderboards.binomial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leaderboards import naming
from leaderboards.binomial import mcnemar_exact, paired_bootstrap, wilson_interval
from leaderboards.defaults import DEFAULT_RESAMPLES, DEFAULT_SEED
from leaderboards.grid import build_grid
from leaderboards.grid_stats import holm, minimum_detectable_effect
from leaderboards.passk_stats import pass_at_k_frame, rate_compare, sampled, task_bootstrap
from leaderboards.table import comparable, order_metrics, order_variants

REFERENCES = ("base", "sft")


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


def pass_at_1_frame(table: pd.DataFrame, confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                    seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """One row per (variant, metric): n, passed, pass_at_1, ci_low, ci_high (Wilson), excluded tasks dropped.
    With n samples per task: pass@1 the mean pass rate, `passed` the sum of rates, the task-bootstrap interval."""
    table = comparable(table)
    rows = []
    for (variant, metric), group in table.groupby(["variant", "metric"], sort=False):
        n = len(group)
        if sampled(group):
            passed = float(group["passed"].sum())
            low, high = task_bootstrap(group["passed"].to_numpy(float), resamples, seed, confidence)
        else:
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
    """(task ids, variants, passed[task, variant], scored[task, variant]) for one metric, as numpy arrays
    (pass rates as floats where the metric has n samples per task)."""
    chosen = table.loc[table["metric"] == metric]
    wide = chosen.pivot(index="task_id", columns="variant", values="passed")
    scored = wide.notna().to_numpy(bool)
    if sampled(chosen):
        return list(wide.index), list(wide.columns), wide.fillna(0.0).to_numpy(float) * scored, scored
    passed = wide.fillna(False).to_numpy(bool) & scored
    return list(wide.index), list(wide.columns), passed, scored


def paired_frame(
    table: pd.DataFrame,
    references: tuple[str, ...] = REFERENCES,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
    plugin_of: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Every variant against each reference present, per metric: Δpass@1, bootstrap interval, McNemar p.

    Against Standard-SFT the Base row is left out: it is the Base-vs-SFT row with the sign flipped. `plugin_of`:
    unit → its plugin (the manifest's instances), so a named instance of a planted control is a control too.
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
                if passed.dtype == bool:
                    result = paired_compare(passed[both, col], passed[both, ref], resamples, seed, confidence)
                else:  # per-task pass rates: the paired task bootstrap and its inverted p (no McNemar)
                    delta, low, high, p, wins, losses = rate_compare(passed[both, col], passed[both, ref],
                                                                     resamples, seed, confidence)
                    result = PairedResult(int(both.sum()), wins, losses, delta, low, high, p)
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
    plugin_of = plugin_of or {}
    controls = frame["variant"].map(
        lambda v: naming.current().control(plugin_of.get(v, v)) is not None).astype(bool)
    for reference in frame["reference"].unique():  # the family: one paired table (one reference); planted
        for control in (False, True):  # controls (issue 26) form their own, never one with real methods
            chosen = (frame["reference"] == reference) & (controls == control)
            if chosen.any():
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
    pass_at_k: pd.DataFrame | None = None  # n samples per task: (variant, metric, k) → pass@k with its interval

    def notes(self) -> list[str]:
        """Caveats a reader must see: excluded tasks, variants scored on different task sets (the plugins' own
        footnotes come with their `Report`, leaderboards.sections)."""
        notes = []
        usable = comparable(self.table)
        flagged = self.table.loc[self.table["excluded"]].groupby("metric")["task_id"].nunique()
        for metric in self.metrics:
            if metric in flagged.index:
                notes.append(
                    f"{metric}: {int(flagged[metric])} task(s) excluded (ground truth fails, or a variant trained "
                    "on it): not counted for any variant"
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
        return notes


def build_leaderboard(
    table: pd.DataFrame,
    provenance: dict | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    curves: dict | None = None,
) -> Leaderboard:
    pass_frame = pass_at_1_frame(table, resamples=resamples, seed=seed)
    provenance = dict(provenance or {})
    grid = build_grid(table, provenance.get("manifest") or {}, resamples, seed, curves)
    plugin_of = {unit: info["plugin"] for unit, info in grid.instances.items()}
    return Leaderboard(
        table=table,
        pass_at_1=pass_frame,
        pass_at_k=pass_at_k_frame(comparable(table), resamples, seed),
        paired=paired_frame(table, REFERENCES, resamples, seed, plugin_of=plugin_of),
        relative=relative_improvement(pass_frame) if not pass_frame.empty else pd.DataFrame(),
        variants=order_variants(table["variant"].unique()),
        metrics=order_metrics(table["metric"].unique()),
        resamples=resamples,
        seed=seed,
        provenance=provenance,
        grid=grid,
    )

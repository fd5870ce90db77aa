"""FGit weight statistics over paired rows only: per-step means for the training log, a histogram for the artifact.

Rows without an incorrect variant (unpaired = "sft") have w = 1 and no p̄ by construction; averaging over them, as
a plain batch mean does, pulls every statistic toward "no weighting". Here a row counts only when it has a variant,
and P = p̄_c / (p̄_c + p̄_ĉ) only when both sides have error-sensitive tokens (the edge cases have no P).
"""

from __future__ import annotations

import math

HISTOGRAM_BINS = 10


def _histogram(values: list[float], low: float, high: float, bins: int = HISTOGRAM_BINS) -> dict:
    """Counts in `bins` equal bins over [low, high] (the last bin closed); values outside are clamped in."""
    counts = [0] * bins
    width = (high - low) / bins if high > low else 1.0
    for value in values:
        counts[min(bins - 1, max(0, int((value - low) / width)))] += 1
    return {"low": low, "high": high, "counts": counts}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class WeightStats:
    """Collects (P, w, weighted tokens, p̄_c, p̄_ĉ) of every paired row a loss call sees."""

    def __init__(self, cfg):
        self.cfg = cfg
        self._step: dict[str, list[float]] = self._empty()
        self._all: dict[str, list[float]] = self._empty()
        self.rows_seen = 0

    @staticmethod
    def _empty() -> dict[str, list[float]]:
        return {"P": [], "weight": [], "tokens": [], "p_correct": [], "p_incorrect": []}

    def add(self, out) -> None:
        """One `FGitLossOutput`: its detached per-row values (the loss itself is not touched)."""
        paired = out.paired.tolist() if out.paired is not None else [True] * len(out.weights)
        weights = out.weights.float().tolist()
        tokens = out.weighted_tokens.tolist() if out.weighted_tokens is not None else [0] * len(weights)
        p_c = out.p_correct.float().tolist() if out.p_correct is not None else None
        p_i = out.p_incorrect.float().tolist() if out.p_incorrect is not None else None
        self.rows_seen += len(weights)
        for row, is_paired in enumerate(paired):
            if not is_paired:
                continue
            for bucket in (self._step, self._all):
                bucket["weight"].append(weights[row])
                bucket["tokens"].append(float(tokens[row]))
                if p_c is not None and p_c[row] > 0 and p_i[row] > 0:
                    bucket["p_correct"].append(p_c[row])
                    bucket["p_incorrect"].append(p_i[row])
                    bucket["P"].append(p_c[row] / (p_c[row] + p_i[row]))

    @staticmethod
    def _means(bucket: dict[str, list[float]]) -> dict:
        below = [p < 0.5 for p in bucket["P"]]
        return {"pairs": len(bucket["weight"]), "pairs_with_P": len(bucket["P"]),
                "weight_mean": _mean(bucket["weight"]), "P_mean": _mean(bucket["P"]),
                "share_P_below_half": _mean([float(b) for b in below]),
                "weighted_tokens_mean": _mean(bucket["tokens"]),
                "p_correct_mean": _mean(bucket["p_correct"]), "p_incorrect_mean": _mean(bucket["p_incorrect"])}

    def step_logs(self) -> dict:
        """`fgit_*` means over the paired rows since the last call (None-valued entries are left out), then reset."""
        logs = {f"fgit_{k}": v for k, v in self._means(self._step).items() if v is not None}
        self._step = self._empty()
        return logs

    def summary(self) -> dict:
        """The whole run's statistics with histograms of P, the weight and the weighted-token counts."""
        alpha = float(self.cfg.alpha)
        low = min(1.0, alpha / 2) if self.cfg.weight_formula == "C" else 1.0
        tokens = self._all["tokens"]
        return {
            "rows_seen": self.rows_seen, "over": "paired rows only", **self._means(self._all),
            "histograms": {
                "P": _histogram(self._all["P"], 0.0, 1.0),
                "weight": _histogram(self._all["weight"], low, max(alpha, low + 1e-9)),
                "weighted_tokens": _histogram(tokens, 0.0, float(max(tokens, default=0.0)) or 1.0,
                                              bins=min(HISTOGRAM_BINS, max(1, int(math.ceil(max(tokens, default=1.0)))))),
            },
        }

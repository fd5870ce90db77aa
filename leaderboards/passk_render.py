"""The pass@k table (Markdown and HTML) and the pass@k-against-k curves (inline SVG, log k axis) of a run with n
samples per task (issue 25, Build 3)."""

from __future__ import annotations

import math
from html import escape

from leaderboards.formatting import PALETTE, percent
from leaderboards.table import variant_label

CURVE_W, CURVE_H, CURVE_LEFT, CURVE_TOP = 320, 160, 40, 24


def passk_rows(board) -> tuple[list[str], list[list[str]]]:
    """Per (variant, metric): tasks × n and pass@k in % with its 95% task-bootstrap interval, for every k ≤ n."""
    frame = board.pass_at_k
    if frame is None or frame.empty:
        return [], []
    ks = sorted(int(k) for k in frame["k"].unique())
    header = ["Variant", "Metric", "Tasks × n"] + [f"pass@{k}" for k in ks]
    rows = []
    for variant in board.variants:
        for metric in board.metrics:
            part = frame.loc[(frame["variant"] == variant) & (frame["metric"] == metric)]
            if part.empty:
                continue
            by_k = {int(r.k): r for r in part.itertuples(index=False)}
            first = next(iter(by_k.values()))
            cells = [variant_label(variant), metric, f"{first.tasks} × {first.n}"]
            for k in ks:
                r = by_k.get(k)
                cells.append("–" if r is None else f"{percent(r.pass_at_k)} [{percent(r.ci_low)}, {percent(r.ci_high)}]")
            rows.append(cells)
    return header, rows


def diversity_rows(board) -> tuple[list[str], list[list[str]]]:
    """Per (variant, metric) with n samples: mean over tasks of the distinct programs among the n, of the distinct
    correct ones, and of the mean pairwise edit similarity (harness/diversity.py)."""
    from leaderboards.passk_stats import sampled
    from leaderboards.table import comparable

    table = comparable(board.table)
    if table.empty or not sampled(table) or "distinct" not in table:
        return [], []
    header = ["Variant", "Metric", "n", "Distinct programs", "Distinct correct", "Pairwise similarity"]
    rows = []
    for variant in board.variants:
        for metric in board.metrics:
            part = table.loc[(table["variant"] == variant) & (table["metric"] == metric)]
            if part.empty or part["distinct"].isna().all():
                continue
            similarity = part["similarity"].dropna()
            rows.append([variant_label(variant), metric, str(int(part["n_samples"].max())),
                         f"{part['distinct'].astype(float).mean():.2f}",
                         f"{part['distinct_correct'].astype(float).mean():.2f}",
                         "–" if similarity.empty else f"{similarity.astype(float).mean():.3f}"])
    return header, rows


DIVERSITY_NOTE = ("Means over tasks. Distinct: programs that differ after QuixBugs' exact-match normaliser "
                  "(whitespace, comments, docstrings ignored); distinct correct: those among the passing samples; "
                  "pairwise similarity: 1 − Levenshtein distance / longer length, over all pairs of a task's n.")


PASSK_NOTE = ("pass@k: evalplus's unbiased estimator 1 − C(n−c, k)/C(n, k) per task, averaged over tasks (k ≤ n "
              "only); pass@1 is the mean per-task pass rate. Intervals: percentile bootstrap over tasks. Paired "
              "rows compare per-task pass rates (paired task bootstrap, its inverted p; McNemar only where n = 1).")


def _x(k: int, k_max: int) -> float:
    span = math.log10(max(k_max, 2))
    return CURVE_LEFT + (CURVE_W - CURVE_LEFT - 10) * (math.log10(k) / span if span else 0.0)


def _y(value: float) -> float:
    return CURVE_TOP + CURVE_H * (1.0 - value)


def passk_curve(board, metric: str) -> str:
    """Inline SVG: pass@k against k (log axis) per variant, with a whisker for each point's 95% interval."""
    frame = board.pass_at_k
    if frame is None or frame.empty:
        return ""
    part = frame.loc[frame["metric"] == metric]
    if part.empty:
        return ""
    k_max = int(part["k"].max())
    height = CURVE_TOP + CURVE_H + 40
    out = [f'<svg role="img" aria-label="pass@k on {escape(metric)}" width="{CURVE_W}" height="{height + 16 * len(board.variants)}" '
           f'viewBox="0 0 {CURVE_W} {height + 16 * len(board.variants)}">',
           f'<text x="{CURVE_W / 2:.0f}" y="14" text-anchor="middle" font-size="13" font-weight="bold">'
           f"{escape(metric)} pass@k (%)</text>"]
    for tick in (0, 25, 50, 75, 100):
        y = _y(tick / 100)
        out.append(f'<line x1="{CURVE_LEFT}" x2="{CURVE_W - 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{CURVE_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{tick}</text>')
    for k in sorted(int(k) for k in part["k"].unique()):
        x = _x(k, k_max)
        out.append(f'<text x="{x:.1f}" y="{CURVE_TOP + CURVE_H + 14}" text-anchor="middle" font-size="10">{k}</text>')
    out.append(f'<text x="{CURVE_W / 2:.0f}" y="{CURVE_TOP + CURVE_H + 28}" text-anchor="middle" font-size="10">'
               "k (log scale)</text>")
    for index, variant in enumerate(board.variants):
        points = part.loc[part["variant"] == variant].sort_values("k")
        if points.empty:
            continue
        colour = PALETTE[index % len(PALETTE)]
        xy = [(_x(int(r.k), k_max), r) for r in points.itertuples(index=False)]
        out.append(f'<polyline class="passk-curve" data-variant="{escape(variant)}" fill="none" stroke="{colour}" '
                   f'stroke-width="2" points="{" ".join(f"{x:.1f},{_y(r.pass_at_k):.1f}" for x, r in xy)}"/>')
        for x, r in xy:
            tip = (f"{variant_label(variant)} pass@{int(r.k)}: {percent(r.pass_at_k)}% "
                   f"[{percent(r.ci_low)}, {percent(r.ci_high)}]")
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_y(r.ci_low):.1f}" y2="{_y(r.ci_high):.1f}" '
                       f'stroke="{colour}"/>')
            out.append(f'<circle cx="{x:.1f}" cy="{_y(r.pass_at_k):.1f}" r="3" fill="{colour}">'
                       f"<title>{escape(tip)}</title></circle>")
        y = height + 16 * index
        out.append(f'<rect x="{CURVE_LEFT}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{CURVE_LEFT + 14}" y="{y + 1}" font-size="10">{escape(variant_label(variant))}</text>')
    out.append("</svg>")
    return "".join(out)

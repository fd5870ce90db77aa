"""The grid sections of the leaderboard (Markdown and HTML): the instances with their settings, cells over seeds,
one table per sweep axis with Holm-adjusted p-values and minimum detectable effects; in HTML also a line plot per
axis and the training curves (leaderboards.grid_plots)."""

from __future__ import annotations

import math
from html import escape

from leaderboards.formatting import (
    DASH,
    REFERENCE_TITLES,
    html_table,
    markdown_table,
    p_value_text,
    percent,
    signed_pp,
)
from leaderboards.grid_plots import axis_plot, curve_plot


def _value(value) -> str:
    return value if isinstance(value, str) else str(value)


def instance_rows(grid) -> tuple[list[str], list[list[str]]]:
    header = ["Instance", "Plugin", "Model", "Seed", "Settings (differing from the plugin's defaults)"]
    rows = []
    for unit, info in grid.instances.items():
        chained = [f"from={info['from']}"] if info.get("from") else []  # the unit it trained from
        settings = ", ".join(chained + [f"{k}={_value(v)}" for k, v in sorted(info["settings"].items())]) or DASH
        rows.append([unit, info["plugin"], str(info["model"] or DASH),
                     DASH if info["seed"] is None else str(info["seed"]), settings])
    return header, rows


def cell_text(pass_at_1: float, spread: float, low: float, high: float, seeds: int) -> str:
    text = percent(pass_at_1)
    if seeds > 1:
        text += f" ± {percent(spread)} (sd over {seeds} seeds)"
    return text + f" [{percent(low)}, {percent(high)}]"


def _several_models(grid) -> bool:
    return len({model for _, model in grid.groups}) > 1


def cell_rows(grid) -> tuple[list[str], list[list[str]]]:
    metrics = list(dict.fromkeys(grid.cells["metric"]))
    models = _several_models(grid)
    header = ["Instance"] + (["Model"] if models else []) + metrics
    lookup = {(r.name, r.model, r.metric): r for r in grid.cells.itertuples(index=False)}
    rows = []
    for name, model in grid.groups:
        cells = [name] + ([str(model or DASH)] if models else [])
        for metric in metrics:
            r = lookup.get((name, model, metric))
            cells.append(DASH if r is None else cell_text(r.pass_at_1, r.spread, r.low, r.high, r.seeds))
        rows.append(cells)
    return header, rows


def axis_rows(grid, axis: str, reference: str = "base") -> tuple[list[str], list[list[str]]]:
    table = grid.axis_table(axis, reference)
    if table.empty:
        return [], []
    others = []
    for entry in table["others"]:
        others += [k for k in entry if k not in others]
    models = _several_models(grid)
    header = (["Metric", axis] + others + ["Instance"] + (["Model"] if models else []) + ["Seeds", "pass@1 (%)",
              f"Δ vs {REFERENCE_TITLES.get(reference, reference)} (pp)", "95% CI (pp)", "p", "Holm p", "MDE (pp)"])
    rows = []
    for r in table.itertuples(index=False):
        rows.append([r.metric, _value(r.value)] + [_value(r.others.get(k, DASH)) for k in others] + [
            r.name, *([str(r.model or DASH)] if models else []), r.seeds,
            cell_text(r.pass_at_1, r.spread, r.low, r.high, int(r.seeds.split("/")[0])),
            signed_pp(r.delta), f"[{signed_pp(r.delta_low)}, {signed_pp(r.delta_high)}]",
            f"{p_value_text(r.p_value)} ({r.test})", p_value_text(r.p_holm),
            DASH if math.isnan(r.mde) else f"{100 * r.mde:.1f}"])
    return header, rows


STATISTICS_NOTE = (
    "Cells: mean pass@1 over seeds ± the standard deviation across seeds, [95% interval: Wilson for one seed, "
    "a bootstrap over tasks and seeds for several]. Δ: for one seed per side the paired task bootstrap and the exact "
    "McNemar p; for several seeds a two-level bootstrap (tasks shared by both sides, seeds drawn per side) and its "
    "inverted two-sided p. Holm p: adjusted over the rows of the table (statsmodels). MDE: minimum detectable effect "
    "at 80% power and α = 0.05 from the task count and the observed per-task variance of the difference "
    "(Miller 2024, \"Adding Error Bars to Evals\"): a |Δ| below it is not evidence either way."
)


def grid_markdown(board) -> list[str]:
    grid = board.grid
    if grid is None or not grid.is_grid:
        return []
    parts = ["## Variant instances", "", markdown_table(*instance_rows(grid)), "",
             "## pass@1 (%) per instance over seeds", "", markdown_table(*cell_rows(grid)), ""]
    for axis in grid.axes:
        for reference in REFERENCE_TITLES:
            header, rows = axis_rows(grid, axis, reference)
            if rows:
                parts += [f"## Sweep `{axis}` against {REFERENCE_TITLES[reference]}", "",
                          markdown_table(header, rows), ""]
    parts += [STATISTICS_NOTE, ""]
    return parts


def grid_html(board) -> list[str]:
    grid = board.grid
    if grid is None or not grid.is_grid:
        return []
    body = ["<h2>Variant instances</h2>", html_table(*instance_rows(grid)),
            "<h2>pass@1 per instance over seeds</h2>", html_table(*cell_rows(grid))]
    for axis in grid.axes:
        metrics = list(dict.fromkeys(grid.axis_table(axis)["metric"])) if not grid.axis_table(axis).empty else []
        body.append(f"<h2>Sweep <code>{escape(axis)}</code></h2>")
        body.append('<div class="charts">' + "".join(axis_plot(grid, axis, m) for m in metrics) + "</div>")
        for reference in REFERENCE_TITLES:
            header, rows = axis_rows(grid, axis, reference)
            if rows:
                body += [f"<h3>against {escape(REFERENCE_TITLES[reference])}</h3>", html_table(header, rows)]
    if grid.curves:
        series = sorted({s for curves in grid.curves.values() for s in curves},
                        key=lambda s: (s != "loss", s != "learning_rate", s))
        body.append("<h2>Training curves per instance</h2>")
        body.append('<div class="charts">' + "".join(curve_plot(grid, s) for s in series) + "</div>")
    body.append(f"<p>{escape(STATISTICS_NOTE)}</p>")
    return body

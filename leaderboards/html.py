"""A self-contained HTML leaderboard: tables, inline SVG pass@1 charts with 95% intervals, win/loss vs Base.

No scripts, fonts, stylesheets or images are fetched: the page works offline and as a CI artifact.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from leaderboards.formatting import PALETTE, REFERENCE_TITLES, html_table, percent
from leaderboards.grid_render import grid_html
from leaderboards.passk_render import DIVERSITY_NOTE, PASSK_NOTE, diversity_rows, passk_curve, passk_rows
from leaderboards.passk_stats import sampled
from leaderboards.render import (
    decoding_words,
    flag_rows,
    interval_rows,
    interval_words,
    main_table_rows,
    paired_rows,
    provenance_line,
    repair_rows,
)
from leaderboards.sections import Report
from leaderboards.stats import Leaderboard
from leaderboards.table import comparable, sort_tasks, variant_label

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 80em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
td.win { background: #c8e6c9; } td.loss { background: #ffcdd2; }
td.pass { color: #2e7d32; } td.fail { color: #999; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""
PLOT_TOP, PLOT_HEIGHT, BAR_WIDTH, BAR_STEP, LEFT = 24, 150, 38, 64, 44


def _y(value: float) -> float:
    return PLOT_TOP + PLOT_HEIGHT * (1.0 - value)


def bar_chart(board: Leaderboard, metric: str) -> str:
    """Inline SVG: one bar per variant (pass@1), a whisker for its 95% Wilson interval."""
    frame = board.pass_at_1.loc[board.pass_at_1["metric"] == metric]
    colours = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(board.variants)}
    width = LEFT + BAR_STEP * max(len(frame), 1) + 10
    height = PLOT_TOP + PLOT_HEIGHT + 70
    parts = [
        f'<svg role="img" aria-label="pass@1 on {escape(metric)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" font-size="13" font-weight="bold">'
        f"{escape(metric)} pass@1 (%)</text>",
    ]
    for tick in (0, 25, 50, 75, 100):
        y = _y(tick / 100)
        parts.append(f'<line x1="{LEFT}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{tick}</text>')
    for i, r in enumerate(frame.itertuples(index=False)):
        x = LEFT + 10 + i * BAR_STEP
        top = _y(r.pass_at_1)
        label = variant_label(r.variant)
        tip = (
            f"{label}: {percent(r.pass_at_1)}% ({r.passed}/{r.n}), "
            f"95% CI [{percent(r.ci_low)}, {percent(r.ci_high)}]"
        )
        parts.append(
            f'<rect x="{x}" y="{top:.1f}" width="{BAR_WIDTH}" height="{PLOT_TOP + PLOT_HEIGHT - top:.1f}" '
            f'fill="{colours[r.variant]}"><title>{escape(tip)}</title></rect>'
        )
        mid = x + BAR_WIDTH / 2
        low, high = _y(r.ci_low), _y(r.ci_high)
        parts.append(f'<line x1="{mid}" x2="{mid}" y1="{low:.1f}" y2="{high:.1f}" stroke="#000"/>')
        for y in (low, high):
            parts.append(f'<line x1="{mid - 6}" x2="{mid + 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="#000"/>')
        parts.append(
            f'<text x="{mid}" y="{high - 4:.1f}" text-anchor="middle" font-size="10">'
            f"{percent(r.pass_at_1)}</text>"
        )
        # Slanted labels: "Mutation-based" is wider than a bar step.
        y = PLOT_TOP + PLOT_HEIGHT + 12
        parts.append(
            f'<text x="{mid}" y="{y}" text-anchor="end" font-size="10" transform="rotate(-35 {mid} {y})">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def win_loss_matrix(board: Leaderboard, metric: str) -> str:
    """Tasks where some variant's outcome differs from Base: rows tasks, columns variants."""
    table = comparable(board.table)
    if sampled(table.loc[table["metric"] == metric]):
        return ""  # pass rates: the paired table compares them; a pass/fail matrix would hide them
    wide = table.loc[table["metric"] == metric].pivot(index="task_id", columns="variant", values="passed")
    others = [v for v in board.variants if v != "base" and v in wide.columns]
    if "base" not in wide.columns or not others:
        return ""
    wide = wide.loc[wide["base"].notna()]
    differs = pd.Series(False, index=wide.index)
    for variant in others:
        known = wide[variant].notna()
        differs |= known & (wide[variant] != wide["base"])
    header = ["Task", "Base"] + [variant_label(v) for v in others]
    counts = ["wins / losses", ""]
    for variant in others:
        known = wide.loc[wide[variant].notna()]
        passed, base_passed = known[variant].astype(bool), known["base"].astype(bool)
        wins, losses = int((passed & ~base_passed).sum()), int((~passed & base_passed).sum())
        counts.append(f"{wins} / {losses}")
    rows, classes = [counts], [[""] * len(header)]
    for task in sort_tasks(wide.index[differs]):
        base = bool(wide.at[task, "base"])
        row, css = [task, "pass" if base else "fail"], ["", "pass" if base else "fail"]
        for variant in others:
            value = wide.at[task, variant]
            if pd.isna(value):
                row.append("–")
                css.append("")
            elif bool(value) == base:
                row.append("pass" if base else "fail")
                css.append("pass" if base else "fail")
            else:
                row.append("win" if value else "loss")
                css.append("win" if value else "loss")
        rows.append(row)
        classes.append(css)
    intro = (
        f"<p>{int(differs.sum())} of {len(wide)} tasks differ from Base on {escape(metric)} "
        "(win: only the variant passes; loss: only Base passes; tasks where all agree are omitted).</p>"
    )
    return intro + html_table(header, rows, classes)


def render_html(board: Leaderboard, report: Report | None = None) -> str:
    """The page; `report`: the sections and footnotes the variants' plugins add (leaderboards.sections)."""
    report = report or Report()
    source = escape(str(board.provenance.get("source", "")))
    body = [
        "<h1>fgit-bench leaderboard</h1>",
        f"<p>{escape(provenance_line(board))}</p>",
        '<p><a href="explorer.html">Task explorer</a>: every task of a pair of variants, programs, diff and failing '
        "input (written beside this page by <code>fgit-bench run</code> and <code>fgit-bench explore</code>).</p>",
        f"<h2>pass@1 (%, {escape(decoding_words(board))}), paper layout</h2>",
        html_table(*main_table_rows(board)),
    ]
    header, rows = repair_rows(board)
    if rows:
        body += ["<h2>Program repair (%, greedy): exact match and plausible</h2>", html_table(header, rows)]
    body += [
        f"<h2>pass@1 with 95% {interval_words(board)}</h2>",
        '<div class="charts">' + "".join(bar_chart(board, m) for m in board.metrics) + "</div>",
        html_table(*interval_rows(board)),
    ]
    header, rows = passk_rows(board)
    if rows:
        body += ["<h2>pass@k from n samples per task, 95% intervals</h2>",
                 '<div class="charts">' + "".join(passk_curve(board, m) for m in board.metrics) + "</div>",
                 html_table(header, rows), f"<p>{escape(PASSK_NOTE)}</p>"]
    header, rows = diversity_rows(board)
    if rows:
        body += ["<h2>Diversity of the n samples</h2>", html_table(header, rows), f"<p>{escape(DIVERSITY_NOTE)}</p>"]
    for reference, title in REFERENCE_TITLES.items():
        header, rows = paired_rows(board, reference)
        if rows:
            body += [f"<h2>Paired against {escape(title)}</h2>", html_table(header, rows)]
    if not board.paired.empty:
        body.append(
            f"<p>Δ: paired percentile bootstrap over tasks ({board.resamples} resamples, seed "
            f"{board.seed}); p: exact two-sided McNemar test on the discordant tasks; Holm p: adjusted over the "
            "rows of the table; MDE: minimum detectable effect at 80% power (Miller 2024).</p>"
        )
    body += grid_html(board)
    matrices = [(m, win_loss_matrix(board, m)) for m in board.metrics]
    if any(html for _, html in matrices):
        body.append("<h2>Per-task wins and losses against Base</h2>")
        for metric, html in matrices:
            if html:
                body += [f"<h3>{escape(metric)}</h3>", html]
    header, rows = flag_rows(board)
    if rows:
        body += ["<h2>Gaming flags (static scan of the samples; verdicts unchanged)</h2>", html_table(header, rows)]
    for section in report.sections:
        if section.rows:
            body += [f"<h2>{escape(section.title)}</h2>", html_table(section.header, section.rows)]
    notes = board.notes() + report.footnotes
    if notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>fgit-bench leaderboard {source}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )

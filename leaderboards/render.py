"""Render a Leaderboard as Markdown, CSV or LaTeX (HTML: leaderboards.html; JSON: leaderboards.baseline).

The main table follows the paper: HumanEval (+), MBPP (+), BCB full, BCB hard, one row per variant, pass@1 in
percent, plus the average relative improvement over Base.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from leaderboards.formatting import DASH, REFERENCE_TITLES, markdown_table, p_value_text, percent, signed_pp
from leaderboards.grid_render import grid_markdown
from leaderboards.passk_render import DIVERSITY_NOTE, PASSK_NOTE, diversity_rows, passk_rows
from leaderboards.passk_stats import sampled
from leaderboards.sections import Report, Section
from leaderboards.stats import Leaderboard
from leaderboards.table import field_metric_names, variant_label

# (column label, base metric, plus metric or None); always shown, in the paper's order.
PAPER_COLUMNS = [
    ("HumanEval (+)", "HumanEval", "HumanEval+"),
    ("MBPP (+)", "MBPP", "MBPP+"),
    ("BCB full", "BCB-full", None),
    ("BCB hard", "BCB-hard", None),
]


@dataclass(frozen=True)
class MainColumn:
    label: str
    base: str
    plus: str | None


def main_columns(board: Leaderboard) -> list[MainColumn]:
    """The paper's columns, then one column per other benchmark present (its plus metric in parentheses)."""
    columns = [MainColumn(*spec) for spec in PAPER_COLUMNS]
    covered = {m for c in columns for m in (c.base, c.plus) if m}
    for metric in board.metrics:
        if metric in covered or metric in field_metric_names() or (metric.endswith("+") and metric[:-1] in board.metrics):
            continue
        plus = metric + "+" if metric + "+" in board.metrics else None
        columns.append(MainColumn(f"{metric} (+)" if plus else metric, metric, plus))
    return columns


def _pass_lookup(board: Leaderboard) -> dict[tuple[str, str], tuple]:
    return {(r.variant, r.metric): r for r in board.pass_at_1.itertuples(index=False)}


def average_relative(board: Leaderboard, variant: str) -> float:
    """Mean over metrics of (pass@1 − Base) / Base, over the metrics both have and Base scores above 0."""
    if board.relative.empty or variant not in board.relative.index or variant == "base":
        return math.nan
    values = board.relative.loc[variant].drop(labels=list(field_metric_names()), errors="ignore").dropna()
    return float(values.mean()) if len(values) else math.nan


def main_table_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paper-layout table (strings, pass@1 in %)."""
    lookup = _pass_lookup(board)
    columns = main_columns(board)
    header = ["Variant"] + [c.label for c in columns] + ["Avg. rel. vs Base"]
    rows = []
    for variant in board.variants:
        cells = [variant_label(variant)]
        for column in columns:
            base = lookup.get((variant, column.base))
            text = percent(base.pass_at_1) if base is not None else DASH
            if column.plus:
                plus = lookup.get((variant, column.plus))
                text += f" ({percent(plus.pass_at_1) if plus is not None else DASH})"
            cells.append(text)
        relative = average_relative(board, variant)
        cells.append(DASH if math.isnan(relative) else f"{100 * relative:+.1f}%")
        rows.append(cells)
    return header, rows


def _interval_rows(board: Leaderboard, metrics: list[str], counts: bool) -> tuple[list[str], list[list[str]]]:
    """Per variant, each of `metrics` in % with its Wilson interval (and passed/n with `counts`); no rows without
    metrics."""
    lookup = _pass_lookup(board)
    header = ["Variant"] + metrics
    rows = []
    for variant in board.variants if metrics else []:
        cells = [variant_label(variant)]
        for metric in metrics:
            r = lookup.get((variant, metric))
            text = DASH if r is None else f"{percent(r.pass_at_1)} [{percent(r.ci_low)}, {percent(r.ci_high)}]"
            cells.append(text + (f" ({r.passed}/{r.n})" if counts and r is not None else ""))
        rows.append(cells)
    return header, rows


def repair_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """The program-repair block: per variant, each repair metric (exact match, plausible) in % with its Wilson
    interval; no rows when the run has no repair benchmark."""
    return _interval_rows(board, [m for m in board.metrics if m in field_metric_names()], counts=True)


def interval_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    # the repair block has its own
    return _interval_rows(board, [m for m in board.metrics if m not in field_metric_names()], counts=False)


def paired_rows(board: Leaderboard, reference: str) -> tuple[list[str], list[list[str]]]:
    test = "bootstrap p" if sampled(board.table) else "McNemar p"  # pass rates of n samples: no McNemar
    header = ["Metric", "Variant", "Tasks", "Wins", "Losses", "Δpass@1 (pp)", "95% CI (pp)", test,
              "Holm p", "MDE (pp)"]
    rows = []
    frame = board.paired.loc[board.paired["reference"] == reference]
    for r in frame.itertuples(index=False):
        rows.append(
            [
                r.metric,
                variant_label(r.variant),
                str(r.n),
                str(r.wins),
                str(r.losses),
                signed_pp(r.delta),
                f"[{signed_pp(r.delta_low)}, {signed_pp(r.delta_high)}]",
                p_value_text(r.p_value),
                p_value_text(r.p_holm),
                DASH if math.isnan(r.mde) else f"{100 * r.mde:.1f}",
            ]
        )
    return header, rows


def provenance_line(board: Leaderboard) -> str:
    source = board.provenance.get("source", "?")
    digest = board.provenance.get("manifest_sha256")
    counts = board.pass_at_1.groupby("metric", sort=False)["n"].max()
    tasks = ", ".join(f"{m} {int(counts[m])}" for m in board.metrics if m in counts.index)
    manifest = f"manifest sha256 {digest[:12]}" if digest else "no manifest"
    return f"Run `{source}` ({manifest}); tasks scored: {tasks}."


def flag_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Per variant: samples with a static gaming flag (harness/flags.py), of all samples, and which flags. One
    sample per (benchmark, task); verdicts are not changed by flags, so a gaming variant shows up here even when
    its tricks fail. No rows when nothing is flagged."""
    table = board.table
    if table.empty or "flags" not in table.columns or not (table["flags"].fillna("") != "").any():
        return [], []
    samples = table.drop_duplicates(["variant", "benchmark", "task_id"])
    rows = []
    for variant in board.variants:
        mine = samples.loc[samples["variant"] == variant, "flags"].fillna("")
        counts: dict[str, int] = {}
        for flags in mine:
            for flag in filter(None, flags.split(",")):
                counts[flag] = counts.get(flag, 0) + 1
        kinds = ", ".join(f"{flag} {n}" for flag, n in sorted(counts.items())) or DASH
        rows.append([variant_label(variant), str(int((mine != "").sum())), str(len(mine)), kinds])
    return ["Variant", "Flagged samples", "Samples", "Flags"], rows


def decoding_words(board: Leaderboard) -> str:
    """How pass@1 was measured: greedy, or the mean pass rate of n samples per task."""
    if not sampled(board.table):
        return "greedy"
    return f"mean pass rate of n = {int(board.table['n_samples'].max())} samples per task"


def interval_words(board: Leaderboard) -> str:
    return "task-bootstrap intervals" if sampled(board.table) else "Wilson intervals"


def section_markdown(section: Section) -> list[str]:
    """A plugin's section (leaderboards.sections.Section): its title, table and note; nothing without rows."""
    if not section.rows:
        return []
    return [f"## {section.title}", "", markdown_table(section.header, section.rows), "",
            *([section.note, ""] if section.note else [])]


def render_markdown(board: Leaderboard, report: Report | None = None) -> str:
    """The leaderboard page; `report`: the sections and footnotes the variants' plugins add (the application layer
    asks them, leaderboards.sections)."""
    report = report or Report()
    parts = [
        "# fgit-bench leaderboard",
        "",
        provenance_line(board),
        "",
        f"## pass@1 (%, {decoding_words(board)}), paper layout",
        "",
        markdown_table(*main_table_rows(board)),
        "",
        "Avg. rel. vs Base: mean over metrics of (pass@1 − Base) / Base, as in the paper's headline.",
        "",
    ]
    header, rows = repair_rows(board)
    if rows:
        parts += ["## Program repair (%, greedy): exact match and plausible, 95% Wilson intervals", "",
                  markdown_table(header, rows), "",
                  "exact: the program equals the reference fix up to whitespace, blank lines and comments; "
                  "plausible: it passes the task's tests. Paired statistics for both are below.", ""]
    header, rows = interval_rows(board)
    if rows:
        parts += [f"## pass@1 (%) with 95% {interval_words(board)}", "", markdown_table(header, rows), ""]
    header, rows = passk_rows(board)
    if rows:
        parts += ["## pass@k (%) from n samples per task, 95% intervals", "", markdown_table(header, rows), "",
                  PASSK_NOTE, ""]
    header, rows = diversity_rows(board)
    if rows:
        parts += ["## Diversity of the n samples", "", markdown_table(header, rows), "", DIVERSITY_NOTE, ""]
    for reference, title in REFERENCE_TITLES.items():
        header, rows = paired_rows(board, reference)
        if rows:
            parts += [f"## Paired against {title}", "", markdown_table(header, rows), ""]
    if not board.paired.empty:
        parts += [
            f"Δ: paired percentile bootstrap over tasks ({board.resamples} resamples, seed {board.seed}); "
            "wins/losses: tasks only the variant / only the reference passes; p: exact two-sided McNemar; "
            "Holm p: adjusted over the rows of the table; MDE: minimum detectable effect at 80% power, α = 0.05 "
            "(Miller 2024), from the task count and the observed discordance."
            + (" With n samples per task: Δ of mean pass rates, wins/losses: tasks whose rate rose/fell, p: the "
               "paired task bootstrap inverted (McNemar needs one outcome per task), MDE from the per-task rate "
               "differences (the design that ran)." if sampled(board.table) else ""),
            "",
        ]
    header, rows = flag_rows(board)
    if rows:
        parts += ["## Gaming flags (static scan of the samples; verdicts unchanged)", "",
                  markdown_table(header, rows), ""]
    for section in report.sections:
        parts += section_markdown(section)
    parts += grid_markdown(board)
    notes = board.notes() + report.footnotes
    if notes:
        parts += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(parts)


CSV_COLUMNS = ["variant", "label", "metric", "n", "passed", "pass_at_1", "ci_low", "ci_high", "rel_vs_base"]
_PAIRED_FIELDS = ["n", "wins", "losses", "delta", "delta_low", "delta_high", "p_value", "p_holm", "mde"]


def render_csv(board: Leaderboard) -> str:
    """One row per (variant, metric): pass@1, Wilson interval, relative gain and the paired statistics."""
    paired = {(r["variant"], r["reference"], r["metric"]): r for r in board.paired.to_dict("records")}
    header = CSV_COLUMNS + [f"{field}_vs_{ref}" for ref in REFERENCE_TITLES for field in _PAIRED_FIELDS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in board.pass_at_1.itertuples(index=False):
        relative = math.nan
        if (
            not board.relative.empty
            and r.variant in board.relative.index
            and r.metric in board.relative.columns
        ):
            relative = board.relative.loc[r.variant, r.metric]
        row = [
            r.variant,
            variant_label(r.variant),
            r.metric,
            r.n,
            r.passed,
            f"{r.pass_at_1:.6f}",
            f"{r.ci_low:.6f}",
            f"{r.ci_high:.6f}",
            "" if math.isnan(relative) else f"{relative:.6f}",
        ]
        for ref in REFERENCE_TITLES:
            found = paired.get((r.variant, ref, r.metric))
            for field in _PAIRED_FIELDS:
                value = found[field] if found else ""
                row.append(f"{value:.6g}" if isinstance(value, float) else value)
        writer.writerow(row)
    return out.getvalue()


_TEX_ESCAPES = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    DASH: "--",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def render_tex(board: Leaderboard) -> str:
    """The paper-layout table as a booktabs tabular (needs \\usepackage{booktabs})."""
    header, rows = main_table_rows(board)
    lines = [
        r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}",
        r"\toprule",
        " & ".join(tex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(tex_escape(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)

"""Text helpers every leaderboard renderer shares (Markdown, HTML, the grid's tables and charts): number formats,
table markup, the colours and the reference titles. It imports no renderer, so every renderer may import it."""

from __future__ import annotations

import math
from html import escape

DASH = "–"
REFERENCE_TITLES = {"base": "Base", "sft": "Standard-SFT"}
PALETTE = ["#7f7f7f", "#1f77b4", "#ff7f0e", "#9467bd", "#2ca02c", "#d62728", "#8c564b", "#e377c2", "#17becf"]


def percent(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100 * value:.{digits}f}"


def signed_pp(value: float) -> str:
    return DASH if math.isnan(value) else f"{100 * value:+.1f}"


def p_value_text(p: float) -> str:
    if math.isnan(p):
        return DASH
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: list[str], rows: list[list[str]], classes: list[list[str]] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            css = classes[i][j] if classes else ""
            attr = f' class="{css}"' if css else ""
            cells.append(f"<td{attr}>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

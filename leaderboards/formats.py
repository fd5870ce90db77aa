"""Every leaderboard output format by name: the CLI's `--format` and the files a run publishes. Importing this
module costs nothing (the renderers and pandas load on first use): the CLI reads FORMATS to build its parser."""

from __future__ import annotations

FORMATS = ("csv", "html", "json", "md", "tex")


def render(board, fmt: str, report=None) -> str:
    """`board` in `fmt`; `report` (leaderboards.sections.Report): the plugins' sections and footnotes, shown by the
    pages (md, html), not by the data formats (csv, tex, json)."""
    from leaderboards.baseline import dumps, leaderboard_to_json
    from leaderboards.html import render_html
    from leaderboards.render import render_csv, render_markdown, render_tex

    if fmt == "md":
        return render_markdown(board, report)
    if fmt == "html":
        return render_html(board, report)
    renderers = {"csv": render_csv, "tex": render_tex, "json": lambda b: dumps(leaderboard_to_json(b))}
    return renderers[fmt](board)

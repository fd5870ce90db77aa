"""Every leaderboard output format by name: the CLI's `--format` and the files a run publishes. Importing this
module costs nothing (the renderers and pandas load on first use): the CLI reads FORMATS to build its parser."""

from __future__ import annotations

FORMATS = ("csv", "html", "json", "md", "tex")


def render(board, fmt: str) -> str:
    from leaderboards.baseline import dumps, leaderboard_to_json
    from leaderboards.html import render_html
    from leaderboards.render import render_csv, render_markdown, render_tex

    renderers = {"md": render_markdown, "csv": render_csv, "html": render_html, "tex": render_tex,
                 "json": lambda b: dumps(leaderboard_to_json(b))}
    return renderers[fmt](board)

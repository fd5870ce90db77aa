"""Write a run's leaderboard next to it (md, html, json: the gate's baseline format) and return the Markdown."""

from __future__ import annotations

from pathlib import Path

from harness import atomic


def publish_leaderboard(run_dir: Path) -> str:
    from leaderboards.baseline import dumps, leaderboard_to_json, run_provenance
    from leaderboards.html import render_html
    from leaderboards.render import render_markdown
    from leaderboards.stats import build_leaderboard
    from leaderboards.table import load_run

    board = build_leaderboard(load_run(run_dir), run_provenance(run_dir))
    markdown = render_markdown(board)
    atomic.write_text(run_dir / "leaderboard.md", markdown)
    atomic.write_text(run_dir / "leaderboard.html", render_html(board))
    atomic.write_text(run_dir / "leaderboard.json", dumps(leaderboard_to_json(board)))
    return markdown

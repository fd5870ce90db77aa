"""Write a run's leaderboard next to it (md, html, json: the gate's baseline format) and the task explorer, and
return the Markdown."""

from __future__ import annotations

from pathlib import Path

from harness.core import atomic


def publish_leaderboard(run_dir: Path) -> str:
    from harness.app.reports import run_leaderboard
    from leaderboards.explorer import write_explorer
    from leaderboards.formats import render

    board, report = run_leaderboard(run_dir)  # with the sections and footnotes of the run's plugins
    texts = {fmt: render(board, fmt, report) for fmt in ("md", "html", "json")}
    for fmt, text in texts.items():
        atomic.write_text(run_dir / f"leaderboard.{fmt}", text)
    write_explorer(run_dir)  # explorer.html + explorer/ beside leaderboard.html, which links to it
    return texts["md"]

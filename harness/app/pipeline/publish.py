"""Write a run's leaderboard next to it (md, html, json: the gate's baseline format) and return the Markdown."""

from __future__ import annotations

from pathlib import Path

from harness.core import atomic


def publish_leaderboard(run_dir: Path) -> str:
    from leaderboards.baseline import run_provenance
    from leaderboards.formats import render
    from leaderboards.grid import load_curves
    from leaderboards.stats import build_leaderboard
    from leaderboards.table import load_run

    board = build_leaderboard(load_run(run_dir), run_provenance(run_dir), curves=load_curves(run_dir))
    texts = {fmt: render(board, fmt) for fmt in ("md", "html", "json")}
    for fmt, text in texts.items():
        atomic.write_text(run_dir / f"leaderboard.{fmt}", text)
    return texts["md"]

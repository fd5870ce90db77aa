"""The task explorer (issue 30): explorer.html beside leaderboard.html, with its data under explorer/<benchmark>/
(index.js, chunk-N.js). A static page that works from file:// and offline: script and style inline, data loaded
lazily by <script src> (see leaderboards/explorer_js.py), for a benchmark and a pair of variants the discordant tasks
first; per task the prompt, each variant's programs with their verdicts, a diff, the first failing input with
expected and actual output, and the gaming flags.

Written by `fgit-bench run` with the leaderboard and by `fgit-bench explore RUN_DIR [--output DIR]`."""

from __future__ import annotations

import json
import shutil
from html import escape
from pathlib import Path

from harness.core import atomic
from leaderboards.explorer_data import collect, manifest_for_page, split
from leaderboards.explorer_js import SCRIPT, STYLE

PAGE = "explorer.html"
DATA_DIR = "explorer"
FILTERS = [("all", "all tasks"), ("discordant", "won or lost"), ("won", "won"), ("lost", "lost"),
           ("both-pass", "both pass"), ("both-fail", "both fail")]


def _js(value) -> str:
    """JSON that is safe inside a <script> element and a .js file (no `</script>`, no HTML comment openers)."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def data_file(bench: str, part: str, data) -> str:
    return f"FGIT_EXPLORER.add({_js(bench)},{_js(part)},{_js(data)});\n"


def render_page(meta: dict) -> str:
    options = "".join(f'<option value="{v}">{escape(t)}</option>' for v, t in FILTERS)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>fgit-bench task explorer {escape(meta['run'])}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>Task explorer: {escape(meta['run'])}</h1>\n"
        '<p><a href="leaderboard.html">leaderboard</a> · each task as two variants solved it: verdict, programs, '
        "diff, first failing input.</p>\n"
        '<header><label>benchmark <select id="bench"></select></label>'
        '<label>pair <select id="pair"></select></label>'
        '<label>variant <select id="va"></select></label><label>vs <select id="vb"></select></label>'
        f'<label>show <select id="filter">{options}</select></label>'
        '<label><input type="checkbox" id="flagged"> flagged only</label></header>\n'
        '<p id="summary"></p>\n<div id="main"><ul id="tasks"></ul><div id="detail"></div></div>\n'
        f'<script type="application/json" id="explorer-meta">{_js(meta)}</script>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def write_explorer(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write explorer.html and explorer/ into `output` (default: the run directory); returns the page's path.
    The data folder is built beside and swapped in whole, so a reader never mixes two runs' chunks."""
    run_dir = Path(run_dir)
    output = Path(output) if output is not None else run_dir
    benchmarks = collect(run_dir)
    meta = manifest_for_page(run_dir, benchmarks)
    output.mkdir(parents=True, exist_ok=True)
    staging = output / f".{DATA_DIR}.new"
    shutil.rmtree(staging, ignore_errors=True)
    for entry in meta["benchmarks"]:
        index, chunks = split(benchmarks[entry["key"]])
        folder = staging / entry["dir"]
        atomic.write_text(folder / "index.js", data_file(entry["key"], "index", index))
        for number, chunk in enumerate(chunks):
            atomic.write_text(folder / f"chunk-{number}.js", data_file(entry["key"], f"chunk-{number}", chunk))
    final, old = output / DATA_DIR, output / f".{DATA_DIR}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.mkdir(parents=True, exist_ok=True)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    page = output / PAGE
    atomic.write_text(page, render_page(meta))
    return page

"""`fgit-bench explore RUN_DIR [--output DIR]`: the task explorer (explorer.html + explorer/) of a run directory, as
`fgit-bench run` writes it beside leaderboard.html; a static page that works from file:// and offline."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explore", help="write the task explorer (explorer.html) of a run directory",
                              description=__doc__)
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory holding <variant>/<benchmark>/eval/results.jsonl")
    p.add_argument("--output", "-o", metavar="DIR", help="write explorer.html and explorer/ here (default: RUN_DIR)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.core import outdir
    from leaderboards.explorer import write_explorer

    with outdir.reading(args.run_dir):  # a run being written is refused: exit 2
        page = write_explorer(args.run_dir, args.output)
    print(f"written: {page}")
    return 0

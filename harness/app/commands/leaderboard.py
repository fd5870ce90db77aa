"""`fgit-bench leaderboard RUN_DIR`: pass@1 with intervals and paired statistics, as md, csv, html, tex or json."""

from __future__ import annotations

import argparse
import sys

from harness.core import atomic
from harness.core.errors import BadInput
from leaderboards.defaults import DEFAULT_RESAMPLES, DEFAULT_SEED
from leaderboards.formats import FORMATS, render


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        help="render a run directory as a leaderboard (pass@1, 95%% intervals, paired Δ vs Base and SFT)",
        description=__doc__,
    )
    p.add_argument(
        "run_dir", metavar="RUN_DIR", help="run directory holding <variant>/<benchmark>/eval/results.jsonl"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="md",
        help="md (default), csv, html (self-contained), tex, or json (the gate's baseline format)",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help="paired bootstrap resamples")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (fixed: reruns agree)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.resamples < 1:
        raise BadInput(f"--resamples must be at least 1, got {args.resamples}")
    from harness.app.reports import run_leaderboard
    from harness.core import outdir

    with outdir.reading(args.run_dir):  # a run being written (through any name of it) is refused: exit 2
        board, report = run_leaderboard(args.run_dir, args.resamples, args.seed)  # report: plugins' sections, notes
    text = render(board, args.format, report)
    if args.output:
        atomic.write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0

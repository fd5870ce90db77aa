"""`fgit-bench gate`: exit 1 when a variant's pass@1 drops by more than allowed and significantly (McNemar)."""

from __future__ import annotations

import argparse
import sys

from leaderboards.defaults import DEFAULT_ALPHA, DEFAULT_MAX_DROP_PP


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gate",
        help="regression gate: compare a run with a baseline (exit 0 fine, 1 regression or incomplete run, 2 bad input)",
        description=__doc__,
    )
    p.add_argument(
        "--baseline",
        required=True,
        metavar="FILE",
        help="baseline: `fgit-bench leaderboard --format json` export, or a run directory",
    )
    p.add_argument("--current", required=True, metavar="RUN_DIR", help="the run to check")
    p.add_argument(
        "--max-drop",
        type=float,
        default=DEFAULT_MAX_DROP_PP,
        metavar="PP",
        help=f"allowed pass@1 drop in percentage points (default {DEFAULT_MAX_DROP_PP:g})",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=DEFAULT_ALPHA,
        help=f"significance level of the exact McNemar test (default {DEFAULT_ALPHA:g})",
    )
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report here")
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="a series or task of the baseline missing from the current run is a warning, not a failure",
    )
    p.add_argument(
        "--allow-design-change",
        action="store_true",
        help="compare even when the current run's n samples per task, temperature or top-p differ from the baseline's",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leaderboards.gate import append_step_summary, run_gate  # pandas: only when the gate runs

    report = run_gate(args.baseline, args.current, args.max_drop, args.alpha, args.allow_missing,
                      args.allow_design_change)
    if report.missing:
        kind = "warning" if args.allow_missing else "error"
        print(f"fgit-bench: {kind}: the current run is incomplete, missing {report.missing_summary()}",
              file=sys.stderr)
    markdown = report.markdown
    sys.stdout.write(markdown)
    append_step_summary(markdown)
    if args.junit:
        report.write_junit(args.junit)
    return report.exit_code

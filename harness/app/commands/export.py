"""`fgit-bench export inspect RUN_DIR [--output DIR]`: a run's samples as Inspect AI eval logs (one per variant and
benchmark), written by inspect_ai's own log API so that `inspect view --log-dir DIR` shows them."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="export a run directory to another tool's format (inspect)",
                              description=__doc__)
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    q = kinds.add_parser("inspect", help="Inspect AI eval logs, one per (variant, benchmark)", description=__doc__)
    q.add_argument("run_dir", metavar="RUN_DIR", help="run directory holding <variant>/<benchmark>/eval/results.jsonl")
    q.add_argument("--output", "-o", metavar="DIR", help="write the .eval logs here (default: RUN_DIR/inspect)")
    q.add_argument("--format", choices=("eval", "json"), default="eval", dest="log_format",
                   help="Inspect's log format: eval (its default, compressed) or json")
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.app.inspect_export import export_inspect
    from harness.core import outdir

    with outdir.reading(args.run_dir):
        written = export_inspect(args.run_dir, args.output, args.log_format)
    for path in written:
        print(f"written: {path}")
    return 0

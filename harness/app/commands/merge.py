"""`fgit-bench merge RUN_DIR [--from DIR ...]`: join the shards of a sharded run, then print its leaderboard."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from harness.core.errors import EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("merge", help="join the shards of a run (run --shard i/n) into one run directory")
    p.add_argument("run_dir", metavar="RUN_DIR", help="where the merged run goes (and where shards may already be)")
    p.add_argument("--from", dest="sources", nargs="*", default=[], metavar="DIR",
                   help="other shard run directories (e.g. copied back from other machines)")
    p.set_defaults(func=run)


def run(args) -> int:
    from harness.app.pipeline.merge import merge_run
    from harness.app.pipeline.publish import publish_leaderboard
    from harness.core import outdir

    run_dir = Path(args.run_dir)
    with outdir.locked(run_dir), contextlib.ExitStack() as sources:
        for source in {outdir.resolved(s): s for s in args.sources}.values():  # other shards: none being written
            if outdir.resolved(source) != outdir.resolved(run_dir):
                sources.enter_context(outdir.reading(source))
        counts = merge_run(run_dir, [Path(s) for s in args.sources])
        for name, tasks in counts.items():
            print(f"merged {name}: {tasks} tasks", file=sys.stderr)
        sys.stdout.write(publish_leaderboard(run_dir))
    return EXIT_OK

"""`fgit-bench run`: the comparison — train every variant, generate, evaluate, print the leaderboard.

    fgit-bench run [--profile smoke|methods|paper] [--config run.toml] [--output RUN_DIR] [--shard i/n]

Settings come from the profile (default smoke when no --config is given), then the TOML file, then the flags.
Every stage is cached: a second run with nothing changed only re-checks hashes; a killed run resumes; adding a
variant computes only that variant.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness import outdir
from harness.errors import EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="the comparison run: train, generate, evaluate every variant; leaderboard",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default=None, help="packaged settings: smoke (CPU, minutes), methods (every method on CPU) or paper (GPU)")
    p.add_argument("--config", default=None, help="TOML file with RunConfig fields ([generation], [training], "
                   "[[benchmarks]], [plugins.<variant>] tables) on top of the profile")
    p.add_argument("--output", default=None, help="run directory (default runs/<profile or config name>)")
    p.add_argument("--model", default=None, help="base model (overrides the config): smollm2, a dir, a .gguf")
    p.add_argument("--variants", default=None, help="comma-separated variants (overrides the config)")
    p.add_argument("--sandbox", default=None, help="auto | docker | bwrap | process (overrides the config)")
    p.add_argument("--jobs", type=int, default=None, help="parallel sandbox workers (overrides the config)")
    p.add_argument("--data-dir", default=None, help="benchmark release files (default $FGIT_BENCH_DATA, ../shared/data)")
    p.add_argument("--shard", default=None, help="i/n: generate and evaluate every n-th task only; join with merge")
    p.set_defaults(func=run)


def _overrides(args) -> dict:
    pairs = {"model": args.model, "sandbox": args.sandbox, "jobs": args.jobs, "data_dir": args.data_dir,
             "variants": [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None}
    return {k: v for k, v in pairs.items() if v is not None}


def run(args) -> int:
    from harness.pipeline.config import load_run_config
    from harness.pipeline.run import Shard

    profile = args.profile or (None if args.config else "smoke")
    config = load_run_config(profile, args.config, _overrides(args))
    shard = Shard.parse(args.shard) if args.shard else None
    name = profile or Path(args.config).stem
    run_dir = Path(args.output or Path("runs") / name)
    with outdir.locked(run_dir):  # a second `run` into this directory gets exit 2 "RUN_DIR is in use by pid N"
        return _run(config, run_dir, shard, profile)


def _run(config, run_dir: Path, shard, profile) -> int:
    from harness.pipeline.publish import publish_leaderboard
    from harness.pipeline.run import ComparisonRun

    result = ComparisonRun(config, run_dir, shard=shard, profile=profile).run()
    done = sum(not s["cached"] for s in result.stages)
    print(f"fgit-bench run: {len(result.stages)} stages ({done} run now, {len(result.stages) - done} cached) in "
          f"{result.seconds:.1f}s; run directory {run_dir}", file=sys.stderr)
    if shard:
        print(f"fgit-bench run: shard {shard.index}/{shard.count} done; when every shard is, run "
              f"`fgit-bench merge {run_dir}`", file=sys.stderr)
        return EXIT_OK
    sys.stdout.write(publish_leaderboard(run_dir))
    return EXIT_OK

"""`fgit-bench run`: the comparison — train every variant, generate, evaluate, print the leaderboard.

    fgit-bench run [--profile NAME] [--config run.toml] [--output RUN_DIR] [--sweep V:KEY=A,B] [--limit N]
                   [--shard i/n]

Settings come from the profile (default smoke when no --config is given), then the TOML file, then the flags.
Every stage is cached: a second run with nothing changed only re-checks hashes; a killed run resumes; adding a
variant computes only that variant.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from harness.core import outdir
from harness.core.errors import EXIT_OK, BadInput


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
    p.add_argument("--sweep", action="append", default=[], metavar="VARIANT:KEY=V1,V2",
                   help="sweep a setting, like a [[sweep]] table: fgit:loss.alpha=1.5,2,3 or "
                   "'*:training.shared.lr_scheduler=constant,cosine' (repeatable: sweeps multiply)")
    p.add_argument("--limit", type=int, default=None, help="a small slice: the first N tasks of every benchmark "
                   "and at most N training rows (on top of the config's own slices)")
    p.add_argument("--cache-dir", default=None, help="cache root for every stage (default $FGIT_BENCH_CACHE or "
                   "~/.cache/fgit-bench)")
    p.add_argument("--shard", default=None, help="i/n: generate and evaluate every n-th task only; join with merge")
    p.add_argument("--overwrite", action="store_true",
                   help="when the run has finished, remove from the output directory the units it did not produce "
                        "(left by a run of another configuration; without this the leaderboard refuses them)")
    p.add_argument("--executor", choices=("local", "ray"), default=None,
                   help="local | ray: checks on every node of a Ray cluster, train/generate stages as Ray tasks "
                   "(overrides [execution] executor)")
    p.add_argument("--ray-address", default=None, help="the Ray cluster (overrides [execution] ray_address; "
                   "default $RAY_ADDRESS)")
    p.set_defaults(func=run)


def _overrides(args) -> dict:
    pairs = {"model": args.model, "sandbox": args.sandbox, "jobs": args.jobs, "data_dir": args.data_dir,
             "variants": [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None}
    out = {k: v for k, v in pairs.items() if v is not None}
    execution = {k: v for k, v in (("executor", getattr(args, "executor", None)),
                                   ("ray_address", getattr(args, "ray_address", None))) if v is not None}
    if execution:
        out["execution"] = execution
    if args.model:
        out["models"] = None  # one model named on the command line replaces a config's list of models
    return out


def _apply_limit(config, limit: int | None) -> None:
    if limit is None:
        return
    if limit < 1:
        raise BadInput("--limit must be at least 1")
    for spec in config.benchmarks:
        spec.limit = min(spec.limit, limit) if spec.limit else limit
    config.training.limit = min(config.training.limit, limit) if config.training.limit else limit


def run(args) -> int:
    from harness.app.pipeline.config import load_run_config
    from harness.app.pipeline.grid import parse_sweep_option
    from harness.app.pipeline.run import ComparisonRun, Shard

    profile = args.profile or (None if args.config else "smoke")
    config = load_run_config(profile, args.config, _overrides(args))
    _apply_limit(config, args.limit)
    sweeps = [parse_sweep_option(text) for text in args.sweep]
    shard = Shard.parse(args.shard) if args.shard else None
    name = profile or Path(args.config).stem
    run_dir = Path(args.output or Path("runs") / name)
    # planned before the lock: unknown variants, bad sweeps and chains are exit 2 with nothing written
    comparison = ComparisonRun(config, run_dir, shard=shard, profile=profile, sweeps=sweeps)
    if config.tracking.mlflow and "MLFLOW_TRACKING_URI" not in os.environ:
        # transformers' own MLflow callback ([training.shared] report_to = ["mlflow"]) logs where the run does
        os.environ["MLFLOW_TRACKING_URI"] = config.tracking.mlflow
    with outdir.locked(run_dir):  # a second `run` into this directory gets exit 2 "RUN_DIR is in use by pid N"
        code = _run(comparison, run_dir, shard, args.overwrite)
    if config.tracking.mlflow and not shard:
        from harness.app.tracking import log_run

        print(f"fgit-bench run: logged to MLflow {config.tracking.mlflow} (run {log_run(run_dir, config.tracking)})",
              file=sys.stderr)
    return code


def _run(comparison, run_dir: Path, shard, overwrite: bool) -> int:
    from harness.app.pipeline.manifest import MANIFEST, stage_counts
    from harness.app.pipeline.occupancy import remove_other_units
    from harness.app.pipeline.publish import publish_leaderboard

    result = comparison.run()
    if overwrite:
        name = f"manifest.shard-{shard.label}.json" if shard else MANIFEST
        manifest = json.loads((run_dir / name).read_text(encoding="utf-8"))
        for gone in remove_other_units(run_dir, manifest):
            print(f"fgit-bench run: --overwrite: removed {gone} (another configuration's)", file=sys.stderr)
    counts = stage_counts(result.stages)
    print(f"fgit-bench run: {counts['total']} stages ({counts['ran']} run now, {counts['shared']} of them served "
          f"from work shared with another variant or run; {counts['up_to_date']} up to date) in "
          f"{result.seconds:.1f}s; run directory {run_dir}", file=sys.stderr)
    if shard:
        print(f"fgit-bench run: shard {shard.index}/{shard.count} done; when every shard is, run "
              f"`fgit-bench merge {run_dir}`", file=sys.stderr)
        return EXIT_OK
    sys.stdout.write(publish_leaderboard(run_dir))
    return EXIT_OK

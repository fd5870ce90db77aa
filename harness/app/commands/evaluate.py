"""`fgit-bench evaluate`: score a samples file on a benchmark in a sandbox (greedy pass@1, or pass@k from any
number of samples per task)."""

from __future__ import annotations

import os


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="score a samples file (evalplus format) in a sandbox")
    p.add_argument("--benchmark", required=True, help="a registered benchmark: humaneval, mbpp, bigcodebench, ... "
                   "(a typo lists them all)")
    p.add_argument("--samples", required=True, help="JSONL with task_id and solution or completion; any number of "
                   "samples per task (pass@k with evalplus's estimator)")
    p.add_argument("--output", required=True, help="directory for eval_results.json and results.jsonl")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel sandbox workers")
    p.add_argument("--sandbox", default="auto", help="auto | docker | bwrap | process")
    p.add_argument("--tasks", type=lambda s: [t.strip() for t in s.split(",") if t.strip()], default=None,
                   help="comma-separated task ids (a subset)")
    p.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    p.add_argument("--overwrite", action="store_true", help="recompute every verdict")
    p.add_argument("--data-dir", default=None, help="release files (default: $FGIT_BENCH_DATA, ../shared/data)")
    p.add_argument("--cache-dir", default=None, help="cache root (default $FGIT_BENCH_CACHE or ~/.cache/fgit-bench)")
    p.add_argument("--subset", default=None, help="bigcodebench: full (1140 tasks, default) | hard (148)")
    p.add_argument("--split", default=None, help="bigcodebench: complete (default) | instruct")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local: this machine's sandbox pool | ray: every node of a Ray cluster, each in its own "
                   "sandbox (README: 'Past one machine on Ray')")
    p.add_argument("--ray-address", default=None, help="the Ray cluster's address (default: $RAY_ADDRESS)")
    p.set_defaults(func=run)


def run(args) -> int:
    from harness.evaluation import EvaluateConfig, evaluate

    cfg = EvaluateConfig(benchmark=args.benchmark, samples=args.samples, output=args.output, jobs=args.jobs,
                         sandbox=args.sandbox, tasks=args.tasks, limit=args.limit, overwrite=args.overwrite,
                         data_dir=args.data_dir, subset=args.subset, split=args.split,
                         executor=args.executor, ray_address=args.ray_address)
    evaluate(cfg)
    return 0

"""`fgit-bench variants-check`: the paper's check of its incorrect variants on HumanEval+/MBPP+.

    fgit-bench variants-check --benchmark humaneval|mbpp [--source teacher|mutation] [--teacher M] [--limit N]
                              [--output DIR] [--embedding auto|unixcoder|char-ngram] [--n-candidates K]

Variants of the canonical solutions from the source, run against the benchmark's tests in the sandbox; prints the
share really incorrect, the mean similarity (naming the embedding used), the shares unparsable/identical, beside
the paper's figures (94.1%, 0.95); writes DIR/pairs.jsonl and DIR/report.json (plugins.training.variant_check).
"""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("variants-check", help="make incorrect variants of canonical solutions and check "
                              "that they really fail the benchmark's tests", description=__doc__.split("\n\n")[0])
    p.add_argument("--benchmark", required=True, help="humaneval | mbpp")
    p.add_argument("--source", default="teacher", help="variant source: teacher (default) | mutation")
    p.add_argument("--teacher", default=None, help="teacher model (default: the embedded smollm2)")
    p.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    p.add_argument("--output", default="runs/variants-check", help="directory for pairs.jsonl and report.json")
    p.add_argument("--embedding", default="auto", help="auto | unixcoder | char-ngram | lm-mean")
    p.add_argument("--embedding-model", default=None, help="embedding model directory or hub id")
    p.add_argument("--n-candidates", type=int, default=3, help="candidates per task (paper: 3)")
    p.add_argument("--temperature", type=float, default=0.8, help="teacher sampling temperature (paper: 0.8)")
    p.add_argument("--max-new-tokens", type=int, default=512, help="teacher: at most this many new tokens")
    p.add_argument("--sandbox", default="auto", help="auto | docker | bwrap | process")
    p.add_argument("--jobs", type=int, default=2, help="parallel sandbox workers")
    p.add_argument("--data-dir", default=None, help="release files (default: $FGIT_BENCH_DATA, ../shared/data)")
    p.set_defaults(func=run)


def run(args) -> int:
    from harness.core.config import from_dict
    from harness.core.errors import BadInput
    from plugins.training.variant_check import check_variants, format_report
    from plugins.training.variants import VariantConfig

    if args.limit is not None and args.limit < 1:
        raise BadInput("--limit must be at least 1")
    config = from_dict(VariantConfig, {"n_candidates": args.n_candidates, "temperature": args.temperature,
                                       "max_new_tokens": args.max_new_tokens, "embedding": args.embedding,
                                       "embedding_model": args.embedding_model})
    result = check_variants(args.benchmark, args.source, config, Path(args.output), limit=args.limit,
                            teacher=args.teacher, sandbox=args.sandbox, jobs=args.jobs, data_dir=args.data_dir)
    print(format_report(result))
    print(f"  written: {Path(args.output) / 'pairs.jsonl'}, {Path(args.output) / 'report.json'}")
    return 0

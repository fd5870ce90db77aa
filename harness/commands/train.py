"""`fgit-bench train`: run one training variant alone and write its artifact.

    fgit-bench train --variant sft --model smollm2 --data evol.jsonl.gz --output runs/sft [--config cfg.toml]
                     [--limit N] [--benchmarks humaneval,mbpp,bigcodebench|none]

The config TOML holds one table per variant ([sft], [dpo], [fgit] ...); a missing table means the defaults.
The artifact is cached by content (plugins.artifact_cache): an identical second call returns it at once.
Multi-GPU: `accelerate launch -m harness.cli train ...` or `torchrun --nproc_per_node N -m harness.cli train ...`.
"""

from __future__ import annotations

import sys

from harness.errors import BadInput

_ALL_BENCHMARKS = "humaneval,mbpp,bigcodebench"


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train one variant (sft, dpo, fgit, sed-sft, gem, dft, hotfix, ...) and write its model artifact",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", required=True, help="training plugin: base, sft, dpo, mutation, fgit, sed-sft, gem, dft, hotfix")
    p.add_argument("--model", default="smollm2", help="base model: smollm2, a directory, a .gguf file, a hub id")
    p.add_argument("--data", help="training data: .jsonl/.jsonl.gz/.json/.parquet, a saved HF dataset or a hub id")
    p.add_argument("--output", required=True, help="artifact directory to create (hard links into the cache)")
    p.add_argument("--config", help="TOML file; the table named like the variant configures it")
    p.add_argument("--limit", type=int, help="train on the first N clean rows")
    p.add_argument("--benchmarks", default=_ALL_BENCHMARKS,
                   help=f"decontaminate against these (comma-separated; 'none' to skip; default {_ALL_BENCHMARKS})")
    p.add_argument("--instruction-field", help="instruction column (default: detected)")
    p.add_argument("--response-field", help="response column (default: detected)")
    p.add_argument("--split", default="train", help="dataset split for Hugging Face datasets")
    p.add_argument("--cache-dir", help="cache root (default $FGIT_BENCH_CACHE or ~/.cache/fgit-bench)")
    p.set_defaults(func=run)


def run(args) -> int:
    import plugins  # noqa: F401  (registers every plugin)
    from harness.config import load_toml
    from harness.models import resolve_model
    from plugins.artifact_cache import cache_root, train_cached
    from plugins.base import PLUGINS
    from plugins.training_data import prepare_training_set

    plugin_cls = PLUGINS.get(args.variant)
    config_class = plugin_cls.config_class
    config = load_toml(config_class, args.config, table=args.variant) if args.config else config_class()
    spec = resolve_model(args.model)
    examples, extra = [], {}
    if getattr(plugin_cls, "needs_data", True):
        if not args.data:
            raise BadInput(f"variant {args.variant!r} trains on data: give --data")
        examples, report = prepare_training_set(
            args.data, limit=args.limit, benchmarks=args.benchmarks.split(","),
            instruction_field=args.instruction_field, response_field=args.response_field, split=args.split,
            cache_dir=cache_root(args.cache_dir))
        extra["data_report.json"] = report
        dropped = len(report["decontamination"]["dropped"])
        print(f"data: {report['rows_used']} rows ({report['rows_with_python']} with Python, {dropped} dropped by "
              f"decontamination against {','.join(report['decontamination']['benchmarks']) or 'nothing'})",
              file=sys.stderr)
    elif args.data or args.limit:
        print(f"{args.variant}: --data/--limit not used (this variant's data come from its config)", file=sys.stderr)
    path, cached = train_cached(args.variant, spec, examples, config, output=args.output,
                                cache_dir=args.cache_dir, extra_files=extra)
    print(f"{args.variant}: {'cached' if cached else 'trained'} artifact at {path}")
    return 0

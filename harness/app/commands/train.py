"""`fgit-bench train`: run one training variant alone and write its artifact.

    fgit-bench train --variant sft --model smollm2 --data evol.jsonl.gz --output runs/sft [--config run.toml]
                     [--limit N] [--benchmarks humaneval,mbpp,bigcodebench|none] [--data-dir D] [--cache-dir C]

The config file has `fgit-bench run`'s layout: `[plugins.<variant>]` configures the variant, `[training.shared]`
is applied where the plugin has the field; a missing table means the defaults (`fgit-bench plugins` lists every
setting). The artifact is cached by content (plugins.training.artifact_cache): an identical second call returns it at once.
Multi-GPU: `accelerate launch -m harness.app.cli train ...` or `torchrun --nproc_per_node N -m harness.app.cli train ...`.
"""

from __future__ import annotations

import sys

from harness.core.errors import BadInput


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train one variant (sft, dpo, fgit, sed-sft, gem, dft, hotfix, ...) and write its model artifact",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", required=True, help="training plugin (fgit-bench plugins lists them)")
    p.add_argument("--model", default="smollm2", help="base model: smollm2, a directory, a .gguf file, a hub id")
    p.add_argument("--data", help="training data: .jsonl/.jsonl.gz/.json/.parquet, a saved HF dataset or a hub id "
                   "(default: the config's [training] data)")
    p.add_argument("--output", required=True, help="artifact directory to create (hard links into the cache)")
    p.add_argument("--config", help="TOML file in `run`'s layout: [plugins.<variant>], [training.shared]")
    p.add_argument("--limit", type=int, help="train on the first N clean rows")
    p.add_argument("--benchmarks", default=None,
                   help="decontaminate against these (comma-separated; 'none' to skip; default: the config's "
                        "[[benchmarks]], else humaneval, mbpp, bigcodebench: the benchmarks that declare "
                        "decontaminate_by_default)")
    p.add_argument("--instruction-field", help="instruction column (default: detected)")
    p.add_argument("--response-field", help="response column (default: detected)")
    p.add_argument("--split", default="train", help="dataset split for Hugging Face datasets")
    p.add_argument("--data-dir", help="benchmark release files and training data (default $FGIT_BENCH_DATA, "
                   "../shared/data)")
    p.add_argument("--cache-dir", help="cache root (default $FGIT_BENCH_CACHE or ~/.cache/fgit-bench)")
    p.add_argument("--executor", choices=("local", "ray"), default=None,
                   help="grpo: where reward batches are checked (default: the config's, else local)")
    p.add_argument("--ray-address", default=None, help="grpo --executor ray: the cluster (default $RAY_ADDRESS)")
    p.set_defaults(func=run)


def _benchmarks(args, config) -> list[str]:
    if args.benchmarks is not None:
        return args.benchmarks.split(",")
    if config.benchmarks:
        return [spec.name for spec in config.benchmarks]
    from harness.benchmarks import BENCHMARKS, benchmark_names

    return [name for name in benchmark_names() if BENCHMARKS.get(name).decontaminate_by_default]


def run(args) -> int:
    from harness.app.pipeline.config import RunConfig, check_plugin_tables, plugin_config, training_data_path
    from harness.core.config import from_dict, read_toml
    from harness.core.data import cache_root
    from harness.models import resolve_model
    from plugins.api import PLUGINS
    from plugins.training.artifact_cache import train_cached
    from plugins.training.training_data import prepare_training_set

    plugin_cls = PLUGINS.get(args.variant)
    run_config = from_dict(RunConfig, read_toml(args.config), where=args.config) if args.config else RunConfig()
    check_plugin_tables(run_config, [plugin_cls])
    config = plugin_config(run_config, args.variant, plugin_cls)
    if getattr(args, "executor", None) or getattr(args, "ray_address", None):
        import dataclasses

        if not hasattr(config, "executor"):
            raise BadInput(f"--executor: variant {args.variant!r} runs no sandboxed checks (grpo does)")
        config = dataclasses.replace(config, **{k: v for k, v in (("executor", args.executor),
                                                                 ("ray_address", args.ray_address)) if v})
    spec = resolve_model(args.model)
    examples, extra = [], {}
    if plugin_cls.needs_data:
        data = args.data or (str(training_data_path(run_config.training.data)) if args.config else None)
        if not data:
            raise BadInput(f"variant {args.variant!r} trains on data: give --data")
        examples, report = prepare_training_set(
            data, limit=args.limit, benchmarks=_benchmarks(args, run_config),
            instruction_field=args.instruction_field, response_field=args.response_field, split=args.split,
            cache_dir=cache_root())
        extra["data_report.json"] = report
        dropped = len(report["decontamination"]["dropped"])
        print(f"data: {report['rows_used']} rows ({report['rows_with_python']} with Python, {dropped} dropped by "
              f"decontamination against {','.join(report['decontamination']['benchmarks']) or 'nothing'})",
              file=sys.stderr)
    elif args.data or args.limit:
        print(f"{args.variant}: --data/--limit not used (this variant's data come from its config)", file=sys.stderr)
    path, cached = train_cached(args.variant, spec, examples, config, output=args.output, extra_files=extra)
    print(f"{args.variant}: {'cached' if cached else 'trained'} artifact at {path}")
    return 0

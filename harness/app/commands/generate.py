"""`fgit-bench generate`: samples (greedy by default, or n per task sampled) for a benchmark, cached and resumable, with provenance on every row."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.core.atomic import write_json, write_jsonl
from harness.core.errors import EXIT_INFRA, EXIT_OK, BadInput


def register(subparsers) -> None:
    from harness.generation.base import DecodingConfig

    defaults = DecodingConfig()
    p = subparsers.add_parser("generate", help="generate samples (evalplus/bigcodebench format): greedy, or --n-samples N sampled")
    p.add_argument("--model", default=None, help="smollm2 (default), a model dir, a .gguf, an adapter/artifact dir, "
                   "a hub id; for --backend openai the endpoint's model name")
    p.add_argument("--benchmark", required=True, help="a registered benchmark: humaneval, mbpp, bigcodebench, ... (a typo lists them all)")
    p.add_argument("--subset", default=None, help="benchmark option (bigcodebench: full | hard; composite: full | test | atoms-held-out | train)")
    p.add_argument("--split", default=None, help="benchmark option (bigcodebench: complete | instruct)")
    p.add_argument("--data-dir", default=None, help="release files (default: $FGIT_BENCH_DATA, ../shared/data)")
    p.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    p.add_argument("--tasks", default=None, help="comma-separated task ids (HumanEval/0 or just 0)")
    p.add_argument("--backend", default="hf", help="hf, vllm, openai or replay")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    p.add_argument("--batch-mode", default=None, choices=["plain", "invariant"],
                   help="invariant (default for hf/vllm): outputs independent of batching; plain: ordinary batches")
    p.add_argument("--n-samples", type=int, default=defaults.n_samples,
                   help="samples per task (pass@k); each is cached on its own (default 1)")
    p.add_argument("--temperature", type=float, default=defaults.temperature,
                   help="0 (default): greedy; > 0: sampling, sample i of a task seeded from (seed, task, i)")
    p.add_argument("--top-p", type=float, default=defaults.top_p, help="nucleus sampling mass (default 1)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="sampling seed (default 0)")
    p.add_argument("--prompt-style", default="auto", choices=["auto", "direct", "chat", "seq2seq"],
                   help="auto: chat template if the model has one, else direct completion (causal models) or "
                        "source→target (encoder–decoder models)")
    p.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--check-batch-invariance", action="store_true",
                   help="generate at batch 1 and at --batch-size, report every task whose output differs")
    p.add_argument("--samples-from", default=None, help="samples .jsonl for --backend replay")
    p.add_argument("--cache-dir", default=None, help="cache root (default $FGIT_BENCH_CACHE or ~/.cache/fgit-bench); "
                   "generations are kept in its generations/")
    p.add_argument("--no-cache", action="store_true", help="regenerate everything (results are still cached)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--output", required=True, help="samples .jsonl to write")
    p.set_defaults(func=run)


def run(args) -> int:
    from harness import settings
    from harness.generation import DecodingConfig, GenerateConfig, check_batch_invariance, generate_samples

    settings.backend("--backend", args.backend)  # every setting before anything starts: exit 2, nothing written
    settings.decoding("--", batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    settings.at_least("--limit", args.limit)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks is not None else None
    settings.task_list("--tasks", tasks, flag=True)
    decoding = DecodingConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                              batch_mode=args.batch_mode, dtype=args.dtype, device=args.device,
                              n_samples=args.n_samples, temperature=args.temperature, top_p=args.top_p, seed=args.seed)
    decoding.check()
    config = GenerateConfig(
        model=args.model, benchmark=args.benchmark, subset=args.subset, split=args.split, limit=args.limit,
        tasks=tasks, backend=args.backend, prompt_style=args.prompt_style, decoding=decoding,
        samples_from=args.samples_from, use_cache=not args.no_cache,  # --cache-dir: the process's cache root
        progress=not args.no_progress,
    )
    output = Path(args.output)
    if output.is_dir():
        raise BadInput(f"--output {output} is a directory; give a .jsonl file path")
    if args.check_batch_invariance:
        result, report = check_batch_invariance(config)
        write_jsonl(output, result.rows)
        write_json(output.with_name(output.stem + ".batch_invariance.json"), report)
        print(f"batch invariance ({report['batch_mode']} mode, batch 1 vs {report['batch_size']}): "
              f"{report['mismatches']} of {report['tasks']} tasks differ")
        for item in report["differing"]:
            print(f"  {item['task_id']}: outputs differ from character {item['first_difference_at']}")
        print(json.dumps({"tokens_per_s": report["tokens_per_s"]}))
        # Invariant mode promises zero differences: any is the engine failing its guarantee on this machine (exit 3,
        # infrastructure; exit 1 is the gate's alone). Plain mode's differences are the finding.
        if report["mismatches"] and report["batch_mode"] == "invariant":
            print(f"fgit-bench generate: invariant batching differed from batch 1 on {report['mismatches']} of "
                  f"{report['tasks']} tasks on this machine (see {output.stem}.batch_invariance.json)", file=sys.stderr)
            return EXIT_INFRA
        return EXIT_OK
    result = generate_samples(config)
    write_jsonl(output, result.rows)
    rate = f", {result.tokens / result.seconds:.1f} tok/s" if result.generated and result.seconds > 0 else ""
    print(f"wrote {len(result.rows)} samples to {output} ({result.cached} from cache, {result.generated} generated"
          f"{rate})", file=sys.stderr)
    return EXIT_OK

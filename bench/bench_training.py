"""Training throughput and peak memory of the SFT and DPO plugins, side by side, on the same QuixBugs pairs.

    python bench/bench_training.py                     # tiny random Llama (SmolLM2 tokenizer), CPU or GPU
    python bench/bench_training.py --model smollm2     # the embedded 135M model
    python bench/bench_training.py --model DIR --steps 10 --batch-size 8 --max-length 512 [--lora]

Each variant runs in its own subprocess through the real plugin (`plugin.train`, the production path), for
`--steps` optimizer steps. samples/s is the mean of the per-step windows the training log records, without the
first (warm-up) step. Peak memory: the child's peak resident set (ru_maxrss) on CPU — model, reference copy,
activations —, `torch.cuda.max_memory_allocated` on CUDA. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "QuixBugs-python.jsonl"


def _tiny_model(directory: Path) -> Path:
    """A 2-layer, hidden-64 random Llama with the SmolLM2 tokenizer (real vocabulary and chat template)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from harness.models import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model("smollm2"))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def child(args) -> None:
    """One variant, one process: train `--steps` steps and print a JSON line."""
    import torch

    import plugins  # noqa: F401
    from harness.models import resolve_model
    from plugins.api import PLUGINS
    from plugins.training.training_data import load_pairs_file

    plugin = PLUGINS.get(args.child)()
    config = plugin.config_class(batch_size=args.batch_size, gradient_accumulation_steps=1, max_steps=args.steps,
                                 max_length=args.max_length, learning_rate=1e-5, warmup=0, lora=args.lora,
                                 lora_merge=False)
    examples = load_pairs_file(DATA)
    examples = (examples * (1 + args.steps * args.batch_size // len(examples)))[: args.steps * args.batch_size]
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        plugin.train(resolve_model(args.model), examples, config, Path(out))
        total = time.perf_counter() - started
        log = [json.loads(line) for line in (Path(out) / "train_log.jsonl").read_text(encoding="utf-8").split("\n") if line.strip()]
    windows = [row["samples_per_second_window"] for row in log if "samples_per_second_window" in row][1:]
    cuda = torch.cuda.is_available()
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"variant": args.child, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                      "samples_per_s": sum(windows) / len(windows) if windows else None,
                      "peak_memory_mb": round(peak, 1), "wall_s": round(total, 1), "steps": args.steps}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny | smollm2 | a model directory")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--variants", default="sft,dpo")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory() as scratch:
        model = str(_tiny_model(Path(scratch) / "tiny")) if args.model == "tiny" else args.model
        results = []
        for variant in args.variants.split(","):
            command = [sys.executable, __file__, "--child", variant, "--model", model, "--steps", str(args.steps),
                       "--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]
            command += ["--lora"] if args.lora else []
            env = {**os.environ, "FGIT_BENCH_PROGRESS": "0"}
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
            if done.returncode:
                sys.exit(f"{variant} failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(done.stdout.strip().split("\n")[-1]))
    print(f"model={args.model} batch={args.batch_size} max_length={args.max_length} steps={args.steps} "
          f"lora={args.lora} device={results[0]['device']}")
    print(f"{'variant':8} {'samples/s':>10} {'peak MB':>9} {'wall s':>7}")
    for row in results:
        rate = f"{row['samples_per_s']:.3f}" if row["samples_per_s"] else "n/a"
        print(f"{row['variant']:8} {rate:>10} {row['peak_memory_mb']:>9.0f} {row['wall_s']:>7.1f}")
    by_name = {row["variant"]: row for row in results}
    if {"sft", "dpo"} <= by_name.keys() and by_name["sft"]["samples_per_s"] and by_name["dpo"]["samples_per_s"]:
        print(f"dpo/sft: time per sample x{by_name['sft']['samples_per_s'] / by_name['dpo']['samples_per_s']:.2f}, "
              f"peak memory x{by_name['dpo']['peak_memory_mb'] / by_name['sft']['peak_memory_mb']:.2f}")


if __name__ == "__main__":
    main()

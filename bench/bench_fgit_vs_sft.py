"""Cost of an FGit training step vs a Standard-SFT step on the same batch: time and peak memory ratios.

FGit adds one teacher-forced pass on the incorrect variant ĉ (from where ĉ departs from c, reusing the c pass's
keys/values for the shared prompt and code; cut after its last masked token; logits only where ĉ's mask needs
them). Targets (issue 6): ≤ 1.6× time and ≤ 1.3× peak memory. Every variant runs in a fresh
subprocess, so each peak is its own: on CUDA `torch.cuda.max_memory_allocated`; on CPU the process's `ru_maxrss`
(reported whole, and as the growth over the resident size just before the first step, which leaves out the
interpreter and the weights). Runs alternate between variants (`--rounds`); the median step time of each
variant is reported, on CPU also the median CPU time per step (steadier than wall time on a shared machine; one
torch thread by default for the same reason).

The tiny default config keeps a small model's balance of work: the transformer body does about 80% of the
FLOPs and the vocabulary projection 20% (as in SmolLM2-135M). With a huge vocabulary on a tiny body the ĉ pass,
which skips most of the projection, would look cheaper than it is.

    python bench/bench_fgit_vs_sft.py                      # tiny Llama config, CPU (or CUDA when available)
    python bench/bench_fgit_vs_sft.py --model smollm2 --device cuda --batch-size 8 --seq-len 1024

Variants: `sft` (the model's own loss, as Standard-SFT trains), `fgit` (defaults: gradient through the weight,
ĉ pass included, ĉ's shared prefix taken from the c pass's cache), `fgit-no-incorrect-grad` (ĉ pass without a
graph), `fgit-detached` (weight detached), `fgit-no-shared-prefix` (ĉ recomputed from its first token).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {
    "sft": None,
    "fgit": {},
    "fgit-no-incorrect-grad": {"grad_through_incorrect": False},
    "fgit-detached": {"grad_through_weight": False},
    "fgit-no-shared-prefix": {"share_prefix": False},
}
TARGET_TIME, TARGET_MEMORY = 1.6, 1.3


def build_model(args, torch):
    if args.model == "tiny":
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=4 * args.hidden,
            num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=4,
            max_position_embeddings=max(2048, args.seq_len), tie_word_embeddings=True,
        )
        return LlamaForCausalLM(config)
    from harness.models import load_model, resolve_model

    return load_model(resolve_model(args.model))


def build_batch(args, vocab: int, torch) -> dict:
    """B sequences of T tokens: a quarter prompt, then the response; a changed line of 12 tokens with 3 changed
    tokens in c, the same tokens replaced in ĉ; ragged lengths with right padding."""
    g = torch.Generator().manual_seed(1)
    B, T = args.batch_size, args.seq_len
    ids = torch.randint(0, vocab, (B, T), generator=g)
    lengths = [T - (i * T) // (8 * B) for i in range(B)]
    attention = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100)
    line = torch.zeros(B, T, dtype=torch.long)
    token = torch.zeros(B, T, dtype=torch.long)
    incorrect = ids.clone()
    for i, n in enumerate(lengths):
        prompt = T // 4
        attention[i, :n] = 1
        labels[i, prompt:n] = ids[i, prompt:n]
        start = prompt + int(torch.randint(0, n - prompt - 12, (1,), generator=g))
        line[i, start : start + 12] = 1
        changed = start + 4 + torch.arange(3)
        token[i, changed] = 1
        incorrect[i, changed] = (ids[i, changed] + 1) % vocab
    return {
        "input_ids": ids, "attention_mask": attention, "labels": labels, "line_mask": line, "token_mask": token,
        "incorrect_input_ids": incorrect, "incorrect_attention_mask": attention.clone(),
        "incorrect_line_mask": line.clone(), "incorrect_token_mask": token.clone(),
    }


def worker(args) -> dict:
    """One variant in this (fresh) process: warm-up steps, timed steps, peak memory."""
    import psutil
    import torch

    from plugins.training.fgit_loss import FGitLossConfig, fgit_loss

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device == "cuda"
    model = build_model(args, torch).to(args.device).train()
    batch = {k: v.to(args.device) for k, v in build_batch(args, model.config.vocab_size, torch).items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    options = VARIANTS[args.worker]
    cfg = None if options is None else FGitLossConfig(**options)

    def step() -> None:
        if cfg is None:
            loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        else:
            loss = fgit_loss(model, batch, cfg).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = psutil.Process().memory_info().rss
    times, cpu_times = [], []
    for i in range(args.warmup + args.steps):
        if cuda:
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        if cuda:
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    if cuda:
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"variant": args.worker, "step_s": statistics.median(times), "cpu_s": statistics.median(cpu_times),
            "peak_bytes": peak, "before_bytes": before}


def run_variant(args, variant: str) -> dict:
    command = [sys.executable, __file__, "--worker", variant] + [
        f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k not in ("worker", "variants", "rounds")
    ]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).absolute().parents[1]))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().split("\n")[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="'tiny' (a Llama config) or a model reference (smollm2, dir)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=4096, help="tiny model only")
    parser.add_argument("--hidden", type=int, default=128, help="tiny model only")
    parser.add_argument("--layers", type=int, default=6, help="tiny model only")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="subprocesses per variant, alternating variants")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 1 on CPU)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, 'sft' is the baseline")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.threads is None:
        args.threads = 1 if args.device == "cpu" else 0
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    variants = ["sft"] + [v for v in args.variants.split(",") if v != "sft"]
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for variant in variants:
            runs[variant].append(run_variant(args, variant))
    summary = {
        v: {"step_s": statistics.median(r["step_s"] for r in rs), "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "peak_bytes": max(r["peak_bytes"] for r in rs),
            "growth_bytes": max(r["peak_bytes"] - r["before_bytes"] for r in rs)}
        for v, rs in runs.items()
    }
    base = summary["sft"]
    peak_name = "max_memory_allocated" if args.device == "cuda" else "ru_maxrss"
    print(f"device={args.device} model={args.model} batch={args.batch_size}x{args.seq_len} "
          f"steps={args.steps} rounds={args.rounds} threads={args.threads or 'default'}")
    print(f"{'variant':<24}{'step ms':>10}{'time ×':>8}{'cpu ms':>10}{'cpu ×':>7}"
          f"{'peak MiB':>10}{'peak ×':>8}{'growth MiB':>12}{'growth ×':>10}")
    for v, s in summary.items():
        print(f"{v:<24}{s['step_s'] * 1e3:>10.1f}{s['step_s'] / base['step_s']:>8.2f}"
              f"{s['cpu_s'] * 1e3:>10.1f}{s['cpu_s'] / base['cpu_s']:>7.2f}"
              f"{s['peak_bytes'] / 2**20:>10.1f}{s['peak_bytes'] / base['peak_bytes']:>8.2f}"
              f"{s['growth_bytes'] / 2**20:>12.1f}{s['growth_bytes'] / max(base['growth_bytes'], 1):>10.2f}")
    print(f"targets: time × ≤ {TARGET_TIME}, peak × ≤ {TARGET_MEMORY} ({peak_name}; growth = peak − memory "
          "before the first step)")
    print(json.dumps({"device": args.device, "model": args.model, "summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

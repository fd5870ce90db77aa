"""Reward throughput of GRPO: checks per second through the sandbox pool (plugins.methods.grpo_reward.SandboxReward: one
pool, one batch per reward call) vs calling the same checker serially in the training process (the job function
the benchmark's check job (`sandboxes.guest.jobs`) called directly, one completion after the other, as a naive reward function would).

Completions: for every train task of a synthetic set, its reference, a wrong program and a partly right one
(`return` of the first argument), i.e. what a policy's rollouts look like. Both sides compute every check (the
pool's reward cache is a fresh directory; each round uses new program texts). Prints checks/s of both and the
ratio pool/serial (above 1: the pool is faster).

    python bench/bench_grpo_rewards.py [--sandbox docker|bwrap|process] [--jobs N] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def completions(tasks: dict[str, dict], round_: int) -> tuple[list[str], list[str]]:
    texts, ids = [], []
    for task_id, task in tasks.items():
        args = task["prompt"].split("(", 1)[1].split(")", 1)[0].split(",")[0].split(":")[0].strip()
        marker = f"    # round {round_}\n"  # new text each round: nothing is answered from a cache
        texts += [task["prompt"] + marker + task["canonical_solution"], task["prompt"] + marker + "    return None\n",
                  task["prompt"] + marker + f"    return {args}\n"]
        ids += [task_id] * 3
    return texts, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sandbox", default="docker")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fgit-bench-grpo-bench-"))
    os.environ["FGIT_BENCH_CACHE"] = str(work / "cache")

    from harness.generation.prompts import make_template
    from harness.synth.build import SynthConfig, synthesize
    from harness.synth.store import read_tasks
    from plugins.methods.grpo_reward import SandboxReward
    from sandboxes import make_sandbox
    from sandboxes.guest import jobs
    from sandboxes.pool import JobResult

    with make_sandbox(args.sandbox, jobs=args.jobs, announce=False) as box:
        synthesize(SynthConfig(seed=0, composites=40, held_out_composites=4), work / "synth", box)
    tasks = {r["task_id"]: r["task"] for r in read_tasks(work / "synth", "train.jsonl")}
    reward = SandboxReward(tasks, make_template("chat", {"dataset": "composite"}, None), sandbox=args.sandbox,
                           jobs=args.jobs)
    reward.check([(t, tasks[t]["prompt"] + tasks[t]["canonical_solution"]) for t in tasks])  # ground truth, workers
    pool_seconds = serial_seconds = 0.0
    checks = 0
    pool_rewards, serial_passes = [], []
    for round_ in range(args.rounds):
        texts, ids = completions(tasks, round_)
        start = time.perf_counter()
        pool_rewards += reward(completions=texts, task_id=ids)
        pool_seconds += time.perf_counter() - start
        programs = [reward.program(t, text) for t, text in zip(ids, texts, strict=True)]
        start = time.perf_counter()
        for task_id, program in zip(ids, programs, strict=True):  # the naive reward: one check at a time, in-process
            job = reward.benchmark.check_job(reward.dataset, reward._oracle, task_id, program)
            value = getattr(jobs, job.function)({**job.payload, "every_input": True})
            verdict = reward.benchmark.verdict(reward.dataset, task_id, JobResult(value=value))
            serial_passes.append(verdict.base_status == "pass" and verdict.plus_status == "pass")
        serial_seconds += time.perf_counter() - start
        checks += len(texts)
    reward.close()
    agree = sum((r == 1.0) == p for r, p in zip(pool_rewards, serial_passes, strict=True))
    pool_rate, serial_rate = checks / pool_seconds, checks / serial_seconds
    print(f"{checks} checks ({len(tasks)} train tasks × 3 completions × {args.rounds} rounds), {os.cpu_count()} cores")
    print(f"sandbox pool ({args.sandbox}, {args.jobs} workers, batched): {pool_seconds:.1f} s, {pool_rate:.1f} checks/s")
    print(f"serial in the training process: {serial_seconds:.1f} s, {serial_rate:.1f} checks/s")
    print(f"pass verdicts identical: {agree}/{checks}")
    print(f"ratio pool/serial throughput: {pool_rate / serial_rate:.2f}")


if __name__ == "__main__":
    main()

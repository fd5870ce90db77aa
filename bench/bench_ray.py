"""`--executor ray` against the local pool: the same n-sample HumanEval+ file checked by the local pool (`--jobs W`)
and by a Ray cluster on this machine with the same number of sandbox workers (a head with no CPU for checks and W
worker nodes of 1 CPU each), then by a cluster of one worker node; one run of each, every verdict recomputed
(overwrite), the ground truth computed once beforehand (shared: the same machine key).

Prints seconds and checks/s of each, the overhead ratio ray/local (target <= 1.2) and a projection for 16 nodes
from the measured per-job cost: checks/s(16) = 16 x checks/s(one node) x (the 1 -> 2 node scaling efficiency).

    python bench/bench_ray.py [--tasks 40] [--n 5] [--workers 2] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only


def samples(problems: dict, tasks: list[str], n: int) -> list[dict]:
    """n samples a task: the canonical solution, a wrong return, and comment-marked copies (distinct texts)."""
    rows = []
    for t in tasks:
        right = problems[t]["prompt"] + problems[t]["canonical_solution"]
        wrong = problems[t]["prompt"] + "    return None\n"
        for i in range(n):
            rows.append({"task_id": t, "solution": (right if i % 2 == 0 else wrong) + f"\n# sample {i}\n"})
    return rows


def timed(cfg) -> float:
    from harness.evaluation import evaluate

    start = time.perf_counter()
    evaluate(cfg, quiet=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fgit-bench-ray-bench-"))
    os.environ["FGIT_BENCH_CACHE"] = str(work / "cache")

    import ray
    from ray.cluster_utils import Cluster

    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir
    from harness.evaluation import EvaluateConfig

    problems = get_benchmark("humaneval").load(data_dir()).problems
    tasks = list(problems)[:args.tasks]
    rows = samples(problems, tasks, args.n)
    path = work / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def cfg(name: str, **more) -> EvaluateConfig:
        return EvaluateConfig(benchmark="humaneval", samples=str(path), output=str(work / name), tasks=tasks,
                              jobs=args.workers, sandbox=args.sandbox, overwrite=True, **more)

    timed(cfg("warm"))  # ground truth and images: shared by every run below
    local = timed(cfg("local"))
    node = {"num_cpus": 1, "object_store_memory": 100 * 1024 * 1024}
    results = {}
    for workers in sorted({1, args.workers}, reverse=True):
        cluster = Cluster(initialize_head=True, head_node_args={"include_dashboard": False, "num_cpus": 0,
                                                                "object_store_memory": 100 * 1024 * 1024})
        try:
            for _ in range(workers):
                cluster.add_node(**node)
            cluster.wait_for_nodes()
            results[workers] = timed(cfg(f"ray{workers}", executor="ray", ray_address=cluster.address))
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
    checks = len(rows)
    one, many = results[1], results[args.workers]
    efficiency = (one / many) / args.workers
    print(f"{checks} programs ({len(tasks)} tasks x {args.n}), sandbox {args.sandbox}, {os.cpu_count()} CPUs")
    print(f"local pool, {args.workers} workers:        {local:6.1f}s  {checks / local:6.1f} checks/s")
    print(f"ray, {args.workers} worker nodes x 1 CPU:     {many:6.1f}s  {checks / many:6.1f} checks/s  "
          f"overhead ray/local {many / local:.2f}x")
    print(f"ray, 1 worker node x 1 CPU:       {one:6.1f}s  {checks / one:6.1f} checks/s  "
          f"scaling 1 -> {args.workers} nodes: {one / many:.2f}x (efficiency {efficiency:.2f})")
    print(f"projection, 16 nodes x 1 CPU: {16 * checks / one * min(efficiency, 1.0):.1f} checks/s "
          f"(per-job cost {one / checks * 1000:.0f} ms on one node)")


if __name__ == "__main__":
    main()

"""HumanEval+ canonical samples: `fgit-bench evaluate --sandbox docker` vs upstream `evalplus.evaluate`, side by side.

Both run from this process tree on the same cores (the containers run under the local Docker daemon), with the
decompressed HumanEvalPlus v0.1.10 release (HUMANEVAL_OVERRIDE_PATH for evalplus, --data-dir for us) and their
ground-truth caches warmed by a first, untimed round, as each tool caches them. Then `--rounds` timed rounds, in
alternating order; prints both wall times (median) and the ratio ours/evalplus. Issue 3's target: <= 0.5.

    python bench/bench_docker.py [--sandbox docker|bwrap|process] [--jobs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELEASE = "HumanEvalPlus-v0.1.10.jsonl.gz"
TARGET = 0.5


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox", default="docker", help="our backend (default docker)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="our parallel sandbox workers")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds after the warm-up round")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fgit-bench-docker-"))
    data = work / RELEASE.removesuffix(".gz")
    data.write_bytes(gzip.open(Path(args.data_dir) / RELEASE).read())
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").split("\n") if line.strip()]
    samples = "".join(json.dumps({"task_id": r["task_id"], "solution": r["prompt"] + r["canonical_solution"]}) + "\n"
                      for r in rows)
    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(data), "XDG_CACHE_HOME": str(work / "xdg"),
           "FGIT_BENCH_CACHE": str(work / "fgit")}
    if args.sandbox == "docker":  # the image must exist (cached: a no-op when it is up to date)
        timed([sys.executable, "-m", "harness.app.cli", "sandbox", "build", "--environment", "evalplus"], env)

    def upstream(round_: int) -> float:
        path = work / f"upstream-{round_}.jsonl"  # a fresh file: evalplus reuses an eval_results.json next to it
        path.write_text(samples)
        return timed([sys.executable, "-m", "evalplus.evaluate", "--dataset", "humaneval", "--samples", str(path)],
                     env)

    def ours(round_: int) -> float:
        path = work / f"ours-{round_}.jsonl"
        path.write_text(samples)
        return timed([sys.executable, "-m", "harness.app.cli", "evaluate", "--benchmark", "humaneval", "--samples",
                      str(path), "--output", str(work / f"ours-{round_}"), "--sandbox", args.sandbox, "--jobs",
                      str(args.jobs), "--data-dir", str(work), "--overwrite"], env)

    cold_upstream, cold_ours = upstream(0), ours(0)  # warm-up: both compute and cache their ground truth
    times_upstream, times_ours = [], []
    for round_ in range(1, args.rounds + 1):
        order = (upstream, ours) if round_ % 2 else (ours, upstream)
        for run in order:
            (times_upstream if run is upstream else times_ours).append(run(round_))
    result = json.loads((work / f"ours-{args.rounds}" / "eval_results.json").read_text())
    ratio = statistics.median(times_ours) / statistics.median(times_upstream)
    print(f"HumanEval+ v0.1.10, {len(rows)} canonical samples, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"evalplus.evaluate (its default parallelism): warm-up {cold_upstream:.1f} s, timed "
          f"{', '.join(f'{t:.1f}' for t in times_upstream)} s")
    print(f"fgit-bench evaluate --sandbox {args.sandbox} --jobs {args.jobs}: warm-up {cold_ours:.1f} s, timed "
          f"{', '.join(f'{t:.1f}' for t in times_ours)} s (--overwrite: every sample checked again)")
    print(f"ours: base pass@1 {result['pass_at_k']['base']['pass@1']:.4f}, image "
          f"{result['provenance']['sandbox'].get('image_id') or '-'}")
    print(f"ratio ours/evalplus (median wall time): {ratio:.2f}  (target <= {TARGET}: "
          f"{'met' if ratio <= TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Side by side: `fgit-bench evaluate` vs `evalplus.evaluate` on the HumanEval+ (or MBPP+) canonical samples.

Both run in this process tree on the same cores, each with its ground-truth cache warmed first (evalplus's first
run adds the expected-output computation; so does ours). Prints both wall times and the ratio ours/evalplus
(issue 2 target ≤ 1.0 with the process sandbox; issue 3 target ≤ 0.5 with docker).

    python bench/bench_evaluate.py [--dataset humaneval|mbpp] [--sandbox process|docker|bwrap] [--jobs N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = {"humaneval": ("HumanEvalPlus-v0.1.10.jsonl.gz", "HUMANEVAL_OVERRIDE_PATH"),
         "mbpp": ("MbppPlus-v0.2.0.jsonl", "MBPP_OVERRIDE_PATH")}


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="humaneval", choices=sorted(FILES))
    parser.add_argument("--sandbox", default="process")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fgit-bench-bench-"))
    name, var = FILES[args.dataset]
    source = Path(args.data_dir) / name
    data = work / name.removesuffix(".gz")
    data.write_bytes(gzip.open(source).read() if name.endswith(".gz") else source.read_bytes())
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").split("\n") if line.strip()]
    sep = "" if args.dataset == "humaneval" else "\n"
    samples = [{"task_id": r["task_id"], "solution": r["prompt"] + sep + r["canonical_solution"]} for r in rows]

    env = {**os.environ, var: str(data), "XDG_CACHE_HOME": str(work / "xdg"), "FGIT_BENCH_CACHE": str(work / "fgit")}
    upstream_times, our_times = [], []
    for round_ in range(2):  # round 0 warms both ground-truth caches; round 1 is timed
        samples_file = work / f"samples-{round_}.jsonl"  # fresh file: evalplus reuses results next to its samples
        samples_file.write_text("".join(json.dumps(s) + "\n" for s in samples))
        upstream = timed([sys.executable, "-m", "evalplus.evaluate", "--dataset", args.dataset,
                          "--samples", str(samples_file)], env)
        ours = timed([sys.executable, "-m", "harness.app.cli", "evaluate", "--benchmark", args.dataset,
                      "--samples", str(samples_file), "--output", str(work / f"ours-{round_}"), "--sandbox",
                      args.sandbox, "--jobs", str(args.jobs), "--overwrite"], env)
        upstream_times.append(upstream)
        our_times.append(ours)
    print(f"dataset {args.dataset}, {len(samples)} canonical samples, {os.cpu_count()} cores")
    print(f"evalplus.evaluate (default parallelism): cold {upstream_times[0]:.1f} s, warm {upstream_times[1]:.1f} s")
    print(f"fgit-bench evaluate --sandbox {args.sandbox} --jobs {args.jobs}: cold {our_times[0]:.1f} s, "
          f"warm {our_times[1]:.1f} s (--overwrite: every sample checked again)")
    print(f"ratio ours/evalplus (warm): {our_times[1] / upstream_times[1]:.2f}")


if __name__ == "__main__":
    main()

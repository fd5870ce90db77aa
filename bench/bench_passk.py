"""pass@k evaluation speed: an n = 10 HumanEval+ samples file (1,640 programs), `fgit-bench evaluate --sandbox
docker` against upstream `evalplus.evaluate` (its default local mode), one timed run each, verdicts compared sample
by sample. Issue 25's target: ours <= 0.35 x evalplus's wall time on 2 cores.

The file: per task 10 samples in a fixed shuffled order: the canonical solution 3 times (identical text), once
with a comment, HumanEvalPack's original solution, its buggy one twice, 2 mutants of the canonical solution
(universalmutator, as the `mutation` variant source makes them) and a body that returns None. Both tools first
compute and cache their ground truth on the canonical solutions (an untimed warm-up); the timed run of ours uses
--overwrite (no verdict from the warm-up is reused).

    python bench/bench_passk.py [--sandbox docker|bwrap|process] [--jobs N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELEASE = "HumanEvalPlus-v0.1.10.jsonl.gz"
PACK = "HumanEvalPack-python.jsonl"
TARGET = 0.35
N = 10


def timed(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr[-3000:]}")
    return seconds


def build_samples(rows: list[dict], pack: dict) -> list[dict]:
    sys.path.insert(0, str(REPO))
    from plugins.training.variant_mutation import all_mutants

    per_task = {}
    for index, row in enumerate(rows):
        task = row["task_id"]
        canonical = row["prompt"] + row["canonical_solution"]
        found, _ = all_mutants(canonical, ["universal.rules", "python.rules"])
        random.Random(index).shuffle(found)
        mutants = (found + [canonical + "\n# no mutant\n"] * 2)[:2]
        programs = [canonical] * 3 + [canonical + "\n# a comment\n", pack[task]["prompt"] + pack[task]["canonical_solution"]]
        programs += [pack[task]["prompt"] + pack[task]["buggy_solution"]] * 2 + mutants
        programs.append(row["prompt"] + "    return None\n")
        random.Random(1000 + index).shuffle(programs)
        per_task[task] = programs
    return [{"task_id": t, "solution": per_task[t][i]} for t in per_task for i in range(N)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox", default="docker", help="our backend (default docker)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="our parallel sandbox workers")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fgit-bench-passk-"))
    data = work / RELEASE.removesuffix(".gz")
    data.write_bytes(gzip.open(Path(args.data_dir) / RELEASE).read())
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    pack = {json.loads(line)["task_id"].replace("Python/", "HumanEval/"): json.loads(line)
            for line in (Path(args.data_dir) / PACK).read_text().splitlines() if line.strip()}
    samples = build_samples(rows, pack)
    text = "".join(json.dumps(r) + "\n" for r in samples)
    canonical = "".join(json.dumps({"task_id": r["task_id"], "solution": r["prompt"] + r["canonical_solution"]}) + "\n"
                        for r in rows)
    env = {**os.environ, "HUMANEVAL_OVERRIDE_PATH": str(data), "XDG_CACHE_HOME": str(work / "xdg"),
           "FGIT_BENCH_CACHE": str(work / "fgit")}
    if args.sandbox == "docker":
        timed([sys.executable, "-m", "harness.app.cli", "sandbox", "build", "--environment", "evalplus"], env)
    ours_cmd = [sys.executable, "-m", "harness.app.cli", "evaluate", "--benchmark", "humaneval", "--sandbox",
                args.sandbox, "--jobs", str(args.jobs), "--data-dir", str(work), "--overwrite"]
    (work / "warm-up.jsonl").write_text(canonical)
    (work / "warm-up-ours.jsonl").write_text(canonical)
    warm = (timed([sys.executable, "-m", "evalplus.evaluate", "--dataset", "humaneval", "--samples",
                   str(work / "warm-up.jsonl")], env),
            timed([*ours_cmd, "--samples", str(work / "warm-up-ours.jsonl"), "--output", str(work / "warm")], env))
    (work / "upstream.jsonl").write_text(text)
    (work / "ours.jsonl").write_text(text)
    upstream_s = timed([sys.executable, "-m", "evalplus.evaluate", "--dataset", "humaneval", "--samples",
                        str(work / "upstream.jsonl")], env)
    ours_s = timed([*ours_cmd, "--samples", str(work / "ours.jsonl"), "--output", str(work / "ours")], env)

    theirs = json.loads((work / "upstream_eval_results.json").read_text())["eval"]
    mine = json.loads((work / "ours" / "eval_results.json").read_text())
    pairs = [(f"{t}#{i}", (a["base_status"], a["plus_status"]), (b["base_status"], b["plus_status"]))
             for t in theirs for i, (a, b) in enumerate(zip(theirs[t], mine["eval"][t], strict=True))]
    differ = [p for p in pairs if p[1] != p[2]]
    distinct = len({(r["task_id"], r["solution"]) for r in samples})  # distinct (task, program) pairs
    print(f"HumanEval+ v0.1.10, {len(rows)} tasks x {N} samples = {len(samples)} programs ({distinct} distinct (task, program) pairs), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"warm-up (ground truth, canonical only): evalplus {warm[0]:.1f} s, ours {warm[1]:.1f} s")
    print(f"evalplus.evaluate (default local mode): {upstream_s:.1f} s")
    print(f"fgit-bench evaluate --sandbox {args.sandbox} --jobs {args.jobs} --overwrite: {ours_s:.1f} s")
    print(f"verdicts identical: {len(pairs) - len(differ)}/{len(pairs)}"
          + (f" (differing, evalplus vs ours: {differ[:5]})" if differ else ""))
    print(f"ours pass_at_k: {json.dumps({k: mine['pass_at_k'][k] for k in ('base', 'plus', 'fgit_bench')})}")
    ratio = ours_s / upstream_s
    print(f"ratio ours/evalplus: {ratio:.2f}  (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

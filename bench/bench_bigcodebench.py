"""BigCodeBench canonical solutions: fgit-bench's evaluation vs bigcodebench's own local evaluation, side by side.

Both run in one process tree (this script starts each as a child), on the same samples file, in the same Python 3.10
environment, with the same parallelism and cold ground-truth caches, and each is timed end to end (start-up,
dataset loading, ground truth, samples). Prints both wall times, the ratio ours / upstream (target <= 0.5) and
whether the per-task verdicts and ground-truth failures agree.

Our gate runs each canonical solution as a sample would be run, so a sample identical to it is checked once (issue
3, item 6: identical solutions run once); upstream checks it twice (ground truth, then the sample). Unless
`--no-distinct`, ours is also timed (cold caches again) on the same solutions with a trailing comment, which no
check can reuse: that ratio is what model samples (rarely identical to the canonical solution) get.

    python bench/bench_bigcodebench.py                  # BigCodeBench-Hard, 148 tasks, `full` environment
    FGIT_BENCH_BCB_PROFILE=ci python bench/bench_bigcodebench.py --tasks ci   # the CI slice, `ci` environment

Upstream's CLI imports its remote-execution and generation modules even for `--execution local`; those are
installed once into a separate directory appended to its sys.path (images/bigcodebench/requirements-upstream-cli.txt),
never into the environment.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.core.data import data_dir  # noqa: E402
from sandboxes.bigcodebench_env import IMAGES_DIR, ci_task_ids  # noqa: E402
from sandboxes.environments import get_environment  # noqa: E402

UPSTREAM_CLI_REQUIREMENTS = IMAGES_DIR / "requirements-upstream-cli.txt"
HARD_FILE = "BigCodeBench-Hard-v0.1.4.jsonl"
# Runs upstream's console entry point with the CLI-only packages *after* the environment's site-packages.
UPSTREAM_RUNNER = ("import sys; sys.path.append(sys.argv.pop(1)); sys.argv[0] = 'bigcodebench.evaluate'; "
                   "from bigcodebench.evaluate import main; main()")
WARM_UP = "import numpy, pandas, matplotlib.pyplot, bigcodebench.eval"


def upstream_cli_dir(python: str, venv: Path) -> Path:
    """Install (once per requirements hash) what upstream's evaluate imports, into <venv>.upstream-cli."""
    text = UPSTREAM_CLI_REQUIREMENTS.read_text()
    target = venv.parent / f"{venv.name}.upstream-cli"
    marker = target / f".ready-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if marker.is_file():
        return target
    pins = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    no_deps = [line.split()[-1] for line in text.splitlines() if line.startswith("# NO-DEPS ")]
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--progress-bar", "off", "--upgrade",
           "--target", str(target)]
    print(f"bench: installing upstream's CLI imports into {target} (once)", file=sys.stderr)
    for argv in (pip + pins, pip + ["--no-deps"] + no_deps):
        subprocess.run(argv, check=True, stdout=sys.stderr, stderr=sys.stderr)
    marker.write_text(text)
    return target


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]  # not splitlines


def timed(argv: list[str], env: dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with open(log, "w") as handle:
        done = subprocess.run(argv, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench: {argv[0]} ... failed (exit {done.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help="'ci' (the CI slice) or comma-separated ids (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="ours --jobs, upstream --parallel")
    parser.add_argument("--sandbox", default="process", help="our backend (upstream runs unsandboxed: process)")
    parser.add_argument("--no-distinct", action="store_true",
                        help="skip the extra timing of ours on solutions that differ from the canonical text")
    parser.add_argument("--work", default=None, help="keep outputs here (default: a temporary directory)")
    args = parser.parse_args()

    env = get_environment("bigcodebench")
    env.build_host()
    python, venv = env.host_python(), env.venv_dir()
    cli_dir = upstream_cli_dir(python, venv)
    hard = data_dir() / HARD_FILE
    problems = [json.loads(line) for line in hard.read_text(encoding="utf-8").split("\n") if line.strip()]
    selected = ci_task_ids() if args.tasks == "ci" else args.tasks.split(",") if args.tasks else None
    if selected:
        problems = [p for p in problems if p["task_id"] in set(selected)]
    ids = [p["task_id"] for p in problems]

    work = Path(args.work or tempfile.mkdtemp(prefix="bench-bcb-"))
    work.mkdir(parents=True, exist_ok=True)
    samples = work / "samples.jsonl"  # canonical solutions, as a model's full `solution`s
    samples.write_text("".join(json.dumps({"task_id": p["task_id"], "solution": p["complete_prompt"] + "\n"
                                           + p["canonical_solution"]}) + "\n" for p in problems))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCODEBENCH_", "PYTHONPATH"))}
    subprocess.run([python, "-c", WARM_UP], check=True, env=base_env)  # same warm disk cache for both

    ours_env = {**base_env, "FGIT_BENCH_CACHE": str(work / "ours-cache"),  # cold ground truth and verdicts
                "FGIT_BENCH_ENVS": str(venv.parent)}
    ours_argv = [sys.executable, "-m", "harness.app.cli", "evaluate", "--benchmark", "bigcodebench", "--subset", "hard",
                 "--samples", str(samples), "--output", str(work / "ours"), "--sandbox", args.sandbox,
                 "--jobs", str(args.jobs), "--data-dir", str(hard.parent)] + (["--tasks", ",".join(ids)]
                                                                             if selected else [])
    upstream_env = {**base_env, "BIGCODEBENCH_OVERRIDE_PATH": str(hard), "XDG_CACHE_HOME": str(work / "up-cache")}
    upstream_samples = work / "upstream" / "samples.jsonl"
    upstream_samples.parent.mkdir(exist_ok=True)
    upstream_samples.write_text(samples.read_text())
    upstream_argv = [python, "-c", UPSTREAM_RUNNER, str(cli_dir), "--execution", "local", "--split", "complete",
                     "--subset", "hard", "--samples", str(upstream_samples), "--parallel", str(args.jobs)] + (["--selective_evaluate", ",".join(ids)] if selected else [])

    print(f"bench: {len(ids)} BigCodeBench-Hard canonical solutions, {args.jobs} workers each, "
          f"environment {env.describe()['profile']} ({python}); ours first, then upstream", flush=True)
    ours_s = timed(ours_argv, {**ours_env, "PYTHONPATH": str(REPO)}, work / "ours.log")
    upstream_s = timed(upstream_argv, upstream_env, work / "upstream.log")

    distinct_s = None
    if not args.no_distinct:
        distinct = work / "distinct.jsonl"
        distinct.write_text("".join(json.dumps({**json.loads(line), "solution": json.loads(line)["solution"]
                                                + "\n# not the canonical text\n"}) + "\n"
                                    for line in samples.read_text(encoding="utf-8").split("\n") if line.strip()))
        distinct_argv = [a if a != str(samples) else str(distinct) for a in ours_argv]
        distinct_argv[distinct_argv.index("--output") + 1] = str(work / "ours-distinct")
        distinct_s = timed(distinct_argv, {**ours_env, "FGIT_BENCH_CACHE": str(work / "ours-distinct-cache"),
                                           "PYTHONPATH": str(REPO)}, work / "ours-distinct.log")

    ours_rows = {row["task_id"]: row for row in _jsonl(work / "ours" / "results.jsonl")}
    up_results = json.loads((work / "upstream" / "samples_eval_results.json").read_text())
    up_pass_at_k = json.loads((work / "upstream" / "samples_pass_at_k.json").read_text())
    up_status = {t: rows[0]["status"] for t, rows in up_results["eval"].items()}
    differ = [t for t in ids if ours_rows[t]["base_status"] != up_status.get(t)]
    ours_gt_failed = sorted(t for t, row in ours_rows.items() if row["excluded"])
    up_gt_failed = sorted(up_pass_at_k["failed_tasks"])

    print(f"  upstream bigcodebench.evaluate --execution local: {upstream_s:7.1f} s   "
          f"gt_pass_rate {up_pass_at_k['gt_pass_rate']:.3f}, pass@1 {up_pass_at_k['pass@1']:.3f}")
    ours = json.loads((work / "ours" / "eval_results.json").read_text())["pass_at_k"]
    print(f"  fgit-bench evaluate --sandbox {args.sandbox}:{' ' * max(0, 21 - len(args.sandbox))}{ours_s:7.1f} s   "
          f"gt_pass_rate {ours['gt_pass_rate']:.3f}, pass@1 {ours['pass@1_all_tasks']:.3f} (all tasks), "
          f"{ours['pass@1']:.3f} (gate-filtered)")
    print(f"  ratio ours / upstream: {ours_s / upstream_s:.2f}  (target <= 0.5)")
    if distinct_s is not None:
        distinct_rows = {row["task_id"]: row["base_status"] for row in _jsonl(work / "ours-distinct" / "results.jsonl")}
        changed = [t for t in ids if distinct_rows[t] != ours_rows[t]["base_status"]]
        print(f"  fgit-bench, solutions + a trailing comment (no check reused from the gate): {distinct_s:7.1f} s, "
              f"ratio {distinct_s / upstream_s:.2f}; verdicts {len(ids) - len(changed)}/{len(ids)} as above"
              + (f" (differ: {', '.join(changed)})" if changed else ""))
    differences = [f"{t} ours={ours_rows[t]['base_status']} upstream={up_status.get(t)}" for t in differ]
    print(f"  per-task verdicts: {len(ids) - len(differ)}/{len(ids)} identical"
          + (f"; differ: {', '.join(differences)}" if differ else ""))
    print(f"  ground-truth failures: ours {ours_gt_failed}, upstream {up_gt_failed}"
          f" ({'same' if ours_gt_failed == up_gt_failed else 'DIFFERENT'})")
    print(f"  outputs and logs: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

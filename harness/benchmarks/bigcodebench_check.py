"""The BigCodeBench ground-truth check of a built environment (`sandboxes.bigcodebench_env`): the canonical
solutions in the sandbox, gt_pass_rate and every failing task with its reason.

    python -m harness.benchmarks.bigcodebench_check --subset hard --sandbox process --jobs 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from harness.benchmarks.bigcodebench import BigCodeBench
from harness.benchmarks.bigcodebench_gate import gt_report
from harness.core.atomic import write_json
from harness.core.data import cache_root, data_dir
from harness.core.errors import BadInput, FgitBenchError
from sandboxes import make_sandbox
from sandboxes.bigcodebench_env import ci_task_ids
from sandboxes.environments import ENVIRONMENTS


def ground_truth_check(argv: list[str]) -> int:
    """`check`: BigCodeBench ground truth in this environment. Prints gt_pass_rate and every failing task with
    its reason; exit 1 when the pass rate is below --min-rate."""
    parser = argparse.ArgumentParser(prog="python -m harness.benchmarks.bigcodebench_check")
    parser.add_argument("--subset", default="hard", help="full | hard")
    parser.add_argument("--sandbox", default="auto", help="auto | docker | bwrap | process")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--tasks", default=None, help="comma-separated task ids (default: all; 'ci': the CI slice)")
    parser.add_argument("--min-rate", type=float, default=0.95)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--output", default=None, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    bench = BigCodeBench(subset=args.subset)
    dataset = bench.load(data_dir(args.data_dir))
    task_ids = list(dataset.problems)
    if args.tasks:
        task_ids = ci_task_ids() if args.tasks == "ci" else [t.strip() for t in args.tasks.split(",") if t.strip()]
        unknown = [t for t in task_ids if t not in dataset.problems]
        if unknown:
            raise BadInput(f"--tasks: unknown task_id {unknown[0]!r}")
    start = time.monotonic()
    with make_sandbox(args.sandbox, jobs=args.jobs, environment=bench.environment,
                      limits=bench.sandbox_limits()) as sandbox:
        report = gt_report(bench.ground_truth(dataset, task_ids, sandbox, cache_root()))
        report.update(dataset=dataset.name, version=dataset.version, hash=dataset.hash, sandbox=sandbox.describe(),
                      environment=ENVIRONMENTS.get("bigcodebench").describe(),
                      seconds=round(time.monotonic() - start, 1))
    print(f"{dataset.name} {dataset.version} (md5 {dataset.hash}), {report['tasks']} tasks, sandbox "
          f"{report['sandbox'].get('backend')}, {report['seconds']:.0f} s: gt_pass_rate {report['gt_pass_rate']:.3f}")
    for task_id, reason in report["failed_tasks"].items():
        print(f"  {task_id}: {reason}")
    if args.output:
        write_json(args.output, report)
    return 0 if report["gt_pass_rate"] >= args.min_rate else 1


def main(argv: list[str] | None = None) -> int:
    try:
        return ground_truth_check(list(sys.argv[1:] if argv is None else argv))
    except FgitBenchError as exc:
        print(f"fgit-bench: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

"""`fgit-bench power`: the minimum detectable effect of a design (tasks × n samples × seeds), or the samples needed
to detect a given effect at 80% power, from a run's per-task pass rates and discordance or a conservative default
(leaderboards/power.py)."""

from __future__ import annotations

import argparse

DESIGNS = (1, 10, 50)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("power", help="power planning: minimum detectable effect of n samples × seeds, "
                              "or the n needed for an effect", description=__doc__)
    p.add_argument("--benchmark", required=True, help="humaneval, mbpp, ... (its task count; the plus metric)")
    p.add_argument("--from", dest="run_dir", default=None, metavar="RUN_DIR",
                   help="estimate the variances from this run (Base against the other variants)")
    p.add_argument("--effect", type=float, default=None, metavar="PP",
                   help="the effect to detect, in percentage points: print the n·seeds needed")
    p.add_argument("--n-samples", type=int, default=None, help=f"samples per task (default: {DESIGNS})")
    p.add_argument("--seeds", type=int, default=1, help="training seeds per variant (default 1)")
    p.add_argument("--tasks", type=int, default=None, help="task count (default: the benchmark's, or the run's)")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from harness.core.errors import BadInput
    from leaderboards import power

    if args.seeds < 1 or (args.n_samples is not None and args.n_samples < 1):
        raise BadInput("--n-samples and --seeds must be at least 1")
    if args.effect is not None and not args.effect > 0:
        raise BadInput("--effect must be a positive number of percentage points")
    metric, tasks = _metric_and_tasks(args)
    if args.run_dir:
        from leaderboards.table import load_run

        table = load_run(args.run_dir)
        try:
            variance = power.estimate(table, metric)
        except ValueError as exc:
            raise BadInput(f"--from {args.run_dir}: {exc}") from None
        tasks = args.tasks or int(table.loc[table["metric"] == metric, "task_id"].nunique())
    else:
        variance = power.Variance(power.DEFAULT_S2, power.DEFAULT_TAU2, "conservative default")
    print(f"{metric}: {tasks} tasks, s² = {variance.s2:.4f} (sampling), τ² = {variance.tau2:.4f} (task × variant); "
          f"from {variance.source}; paired test, α = 0.05, 80% power")
    for n in ([args.n_samples] if args.n_samples else DESIGNS):
        print(f"  n = {n:>3}, seeds = {args.seeds}: minimum detectable effect "
              f"{100 * power.mde(variance, tasks, n, args.seeds):.1f} pp")
    floor = 100 * power.z_total() * (variance.tau2 / tasks) ** 0.5
    if args.effect is not None:
        needed = power.samples_needed(variance, tasks, args.effect / 100)
        if needed is None:
            print(f"  {args.effect:g} pp: not detectable on {tasks} tasks with any n or seeds "
                  f"(the task × variant floor is {floor:.1f} pp)")
        else:
            per_seed = -(-needed // args.seeds)
            print(f"  {args.effect:g} pp: n·seeds ≥ {needed} (n = {per_seed} with {args.seeds} seed(s))")
    return 0


def _metric_and_tasks(args) -> tuple[str, int]:
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir

    benchmark = get_benchmark(args.benchmark)
    columns = benchmark.metric_columns().get(benchmark.result_name) or next(iter(benchmark.metric_columns().values()))
    metric = columns[-1]
    if args.tasks:
        return metric, args.tasks
    if args.run_dir:
        return metric, 0
    return metric, len(benchmark.load(data_dir(args.data_dir)).problems)

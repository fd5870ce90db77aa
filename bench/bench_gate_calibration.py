"""Calibration of the regression gate and the leaderboard's paired tests (issue 26, Build 4), by resampling a real
run's per-task outcomes (leaderboards/calibration.py): the A/A false-alarm rate (target ≤ α within Monte-Carlo
error) and the power against planted losses (and gains) of 2, 5, 10 and 20 points, with 95% Monte-Carlo (Wilson)
intervals, for the run's own design and for full HumanEval+ (164 tasks) and MBPP+ (378 tasks), the latter both
with the run's per-task pass probabilities and with every task at p = 0.5 (the noisiest case: leaderboards.power's
conservative default).

    python bench/bench_gate_calibration.py [--from RUN_DIR|LEADERBOARD.json] [--trials 2000] [--seed 0]
           [--metrics HumanEval+,MBPP+] [--n-samples N]

Default source: the committed smoke baseline (leaderboards/baselines/smoke.json). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FULL_TASKS = {"HumanEval+": 164, "HumanEval": 164, "MBPP+": 378, "MBPP": 378}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", default=str(REPO / "leaderboards" / "baselines" / "smoke.json"))
    parser.add_argument("--trials", type=int, default=2000, help="Monte-Carlo replicates per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metrics", default="HumanEval+,MBPP+")
    parser.add_argument("--n-samples", type=int, default=None, help="samples per task (default: the run's)")
    parser.add_argument("--gains", action="store_true", help="also planted gains (the paired test's other side)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import numpy as np

    from leaderboards.baseline import load_pass_table
    from leaderboards.calibration import EFFECTS_PP, calibrate, task_probabilities
    from leaderboards.defaults import DEFAULT_ALPHA, DEFAULT_MAX_DROP_PP

    table = load_pass_table(args.source)
    n = args.n_samples or int(table.design.get("n_samples", 1))
    effects = [0.0, *(-e for e in EFFECTS_PP)] + ([*EFFECTS_PP] if args.gains else [])
    print(f"source {args.source}: {n} sample(s) per task; {args.trials} replicates per cell; gate: drop > "
          f"{DEFAULT_MAX_DROP_PP:g} pp and p < {DEFAULT_ALPHA:g}; paired test: two-sided p < {DEFAULT_ALPHA:g}")
    print()
    print("| Metric | Design | Tasks | p_t (mean; share not 0/1) | Effect | Gate fires | Paired test rejects |")
    print("|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for metric in args.metrics.split(","):
        series = [tasks for (_, m), tasks in table.tasks.items() if m == metric]
        if not series:
            sys.exit(f"{args.source}: no series of metric {metric}")
        observed = task_probabilities(series)
        full = FULL_TASKS.get(metric, len(observed))
        worst = np.full(1, 0.5)  # every task a coin flip: the most noise a paired comparison can have
        for design, p, tasks in (("this run", observed, len(observed)), ("full", observed, full),
                                 ("full, p_t = 0.5", worst, full)):
            noisy = float(((p > 0) & (p < 1)).mean())
            for row in calibrate(p, tasks, n, effects, args.trials, args.seed):
                effect = "A/A" if row.effect_pp == 0 else f"{row.effect_pp:+g} pp"
                short = f" ({row.shortfall} short)" if row.shortfall else ""
                print(f"| {metric} | {design} | {tasks} × {n} | {p.mean():.2f}; {noisy:.2f} | {effect}{short} | "
                      f"{row.gate} | {row.paired} |")
    print()
    print(f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Running the checks of an evaluation on the sandbox pool: the ground-truth gate first, then one job per program,
or one job for several programs of a task where the benchmark can group them (the n samples of a task share its
inputs, limits and ground truth: sent once per group, not once per sample).

Where the benchmark screens (evalplus: the base stage and a tenth of the plus inputs first) and a task has several
programs, the programs a screen does not settle get their full check afterwards.

A grouped job that fails as a whole (the worker timed out, ran out of memory or broke: one program can do that to
all) is not turned into verdicts: each of its programs is checked again alone, so that a verdict never depends on
which other programs shared a job.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.benchmarks.base import Benchmark, CheckJob, Dataset
from sandboxes.base import Sandbox

GATE_PRIORITY = 1e12  # gate jobs start before any check, the longest (by the benchmark's estimate) first


@dataclass
class Check:
    task_id: str
    programs: list[str]  # the distinct programs this job checks (one, or a group)
    job: CheckJob
    screen: bool = False  # a screen job (Benchmark.screen_jobs): what it leaves undecided gets the full check

    @property
    def grouped(self) -> bool:
        return len(self.programs) > 1


def plan_checks(benchmark: Benchmark, dataset: Dataset, oracle, todo: dict[str, list[str]],
                screen: bool = True) -> list[Check]:
    """The jobs for `todo` (task -> distinct programs to check): screens first where the benchmark screens
    (`screen`), grouped where it groups them."""
    checks = []
    for task_id, programs in todo.items():
        # screened only with several programs (n samples, most of them wrong at T > 0): a lone program, as in a
        # greedy run where most are right, would pay for the screen and then for the full check
        screens = benchmark.screen_jobs(dataset, oracle, task_id, programs) if screen and len(programs) > 1 else None
        if screens is not None:
            checks += [Check(task_id, group, job, screen=True) for group, job in screens]
            continue
        groups = benchmark.group_check_jobs(dataset, oracle, task_id, programs) if len(programs) > 1 else None
        if groups is None:
            groups = [([p], benchmark.check_job(dataset, oracle, task_id, p)) for p in programs]
        checks += [Check(task_id, group, job) for group, job in groups]
    return checks


def run_checks(sandbox: Sandbox, benchmark: Benchmark, dataset: Dataset, oracle, checks: list[Check], plan):
    """Yield (task_id, program, result, reused) for every program of `checks`. Gate jobs (canonical solutions) go
    first and their results to `plan.record`; a task's checks wait for its own gate job (never beside it: some
    tasks bind fixed ports), then join the queue. Checks start longest first, by the benchmark's cost estimate or
    the gate's time.

    A check that is the very job its gate runs (same function, payload and timeout: a sample identical to the
    canonical solution, as the benchmark runs it) is not run twice: the gate's result is its result (`reused`)."""
    from sandboxes.pool import JobFeed

    gate_jobs = plan.jobs if plan is not None else {}
    feed = JobFeed()
    for task_id, job in gate_jobs.items():
        feed.put(("gate", task_id), job.function, job.payload, job.timeout, priority=GATE_PRIORITY + job.cost)
    checks = list(checks)
    waiting: dict[str, list[int]] = {}
    pending = 0

    def submit(index: int, priority: float) -> None:
        nonlocal pending
        job = checks[index].job
        feed.put(("check", index), job.function, job.payload, job.timeout, priority=priority)
        pending += 1

    for index, check in enumerate(checks):
        if check.task_id in gate_jobs:
            waiting.setdefault(check.task_id, []).append(index)
        else:
            submit(index, check.job.cost)
    gates_left = len(gate_jobs)
    if not gates_left and not pending:
        feed.close()
        return
    for (kind, key), result in sandbox.run_feed(feed):
        if kind == "check":
            pending -= 1
            check = checks[key]
            if check.screen:  # settled programs have their verdicts; the rest (all, if it failed) a full check
                settled = ([None] * len(check.programs) if result.error else
                           benchmark.screened(dataset, check.task_id, result, len(check.programs)))
                for program, one in zip(check.programs, settled, strict=True):
                    if one is not None:
                        yield check.task_id, program, _where(one, result), False
                rest = [p for p, one in zip(check.programs, settled, strict=True) if one is None]
                for again in plan_checks(benchmark, dataset, oracle, {check.task_id: rest} if rest else {},
                                         screen=False):
                    checks.append(again)
                    submit(len(checks) - 1, again.job.cost)
            elif not check.grouped:
                yield check.task_id, check.programs[0], result, False
            elif result.error:  # the group failed as a whole: each of its programs alone
                for program in check.programs:
                    checks.append(Check(check.task_id, [program],
                                        benchmark.check_job(dataset, oracle, check.task_id, program)))
                    submit(len(checks) - 1, check.job.cost / len(check.programs))
            else:
                for program, one in zip(check.programs, benchmark.split_group_result(result, len(check.programs)),
                                        strict=True):
                    yield check.task_id, program, _where(one, result), False
        else:
            plan.record(key, result)
            gates_left -= 1
            for index in waiting.pop(key, []):
                # the program that is the gate's own job (as its full check) takes the gate's result, the rest
                # are checked as planned
                check = checks[index]
                rest = [p for p in check.programs
                        if not same_job(benchmark.check_job(dataset, oracle, check.task_id, p), gate_jobs[key])]
                for program in check.programs:
                    if program not in rest:
                        yield check.task_id, program, result, True
                if rest == check.programs:
                    submit(index, result.seconds)
                else:
                    for again in plan_checks(benchmark, dataset, oracle, {check.task_id: rest} if rest else {}):
                        checks.append(again)
                        submit(len(checks) - 1, result.seconds)
        if not gates_left and not pending:
            feed.close()


def _where(one, result):
    """A program's share of a grouped or screen job's result keeps the job's provenance (the node that ran it)."""
    if getattr(one, "where", None) is None and getattr(result, "where", None) is not None:
        one.where = result.where
    return one


def same_job(check: CheckJob, gate: CheckJob) -> bool:
    return (check.function, check.timeout, check.payload) == (gate.function, gate.timeout, gate.payload)

"""The evaluate stage: samples file → sandboxed checks → eval_results.json (evalplus schema) + results.jsonl.

Verdicts are cached content-addressed (benchmark, dataset hash, task, solution, limits, sandbox, versions), one file
per verdict, written as each check finishes: an interrupted run resumes where it stopped, a re-run with the same
inputs recomputes nothing, and identical solutions of different variants are executed once.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from harness.benchmarks import get_benchmark
from harness.benchmarks.base import Benchmark, Dataset, Verdict
from harness.benchmarks.failure import FAILURE_FORMAT
from harness.benchmarks.failure import valid as failure_valid
from harness.checks import GATE_PRIORITY, plan_checks, run_checks
from harness.core import cache_entry, outdir, provenance
from harness.core.atomic import json_bytes, jsonl_bytes
from harness.core.data import cache_root, data_dir
from harness.core.errors import BadInput, InfraError
from harness.core.hashing import file_digest, json_digest
from harness.diversity import pairwise_similarity, program_id
from harness.flags import gaming_flags
from harness.samples import read_samples
from sandboxes import make_sandbox
from sandboxes.base import Sandbox


@dataclass
class EvaluateConfig:
    benchmark: str
    samples: str
    output: str
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    sandbox: str = "auto"
    tasks: list[str] | None = None
    limit: int | None = None
    overwrite: bool = False
    data_dir: str | None = None
    subset: str | None = None  # benchmark options (bigcodebench: full | hard)
    split: str | None = None  # (bigcodebench: complete | instruct)
    executor: str = "local"  # local (this machine's warm pool) | ray (each node's pool: sandboxes/ray_pool.py)
    ray_address: str | None = None  # the Ray cluster (None: $RAY_ADDRESS, else a Ray instance of our own)

    def benchmark_options(self) -> dict[str, str]:
        return {k: v for k, v in (("subset", self.subset), ("split", self.split)) if v is not None}


@dataclass
class EvaluateSummary:
    benchmark: str
    n_tasks: int
    base_pass: int
    plus_pass: int
    executed: int  # checks actually run now (the rest came from the verdict cache)
    output: str
    excluded: int = 0  # tasks left out by the ground-truth gate (n_tasks counts only the scored ones)
    samples: int = 0  # scored samples (n_tasks when there is one per task); base/plus_pass count samples

    @property
    def base_pass_at_1(self) -> float:
        return self.base_pass / max(self.samples or self.n_tasks, 1)

    @property
    def plus_pass_at_1(self) -> float:
        return self.plus_pass / max(self.samples or self.n_tasks, 1)


def check_settings(cfg: EvaluateConfig) -> None:
    """The flags' values, before anything starts (issue 28): one line, exit 2, nothing written."""
    from harness import settings

    settings.at_least("--jobs", cfg.jobs)
    settings.sandbox("--sandbox", cfg.sandbox)
    settings.task_list("--tasks", cfg.tasks, flag=True)
    settings.at_least("--limit", cfg.limit)
    settings.one_of("--executor", cfg.executor, EXECUTOR_NAMES)


EXECUTOR_NAMES = ("local", "ray")


def make_check_sandbox(executor: str, backend: str, jobs: int, environment: str, limits, announce: bool = True,
                       ray_address: str | None = None) -> Sandbox:
    """Where checks run: this machine's warm pool (`local`) or every node of a Ray cluster (`ray`)."""
    if executor == "ray":
        from sandboxes.ray_pool import RaySandbox

        return RaySandbox(backend, environment=environment, limits=limits, address=ray_address, announce=announce)
    return make_sandbox(backend, jobs=jobs, environment=environment, limits=limits, announce=announce)


def select_tasks(dataset: Dataset, samples: dict, tasks: list[str] | None, limit: int | None) -> list[str]:
    if tasks:
        for task_id in tasks:
            if task_id not in dataset.problems:
                raise BadInput(f"--tasks: unknown task_id {task_id!r}")
            if task_id not in samples:
                raise BadInput(f"--tasks: no sample for {task_id}")
        chosen = [t for t in dataset.problems if t in set(tasks)]
    else:
        chosen = [t for t in dataset.problems if t in samples]
    if limit is not None:
        if limit < 1:
            raise BadInput("--limit must be at least 1")
        chosen = chosen[:limit]
    return chosen


STATUSES = {"pass", "fail", "timeout"}
__all__ = ["GATE_PRIORITY", "EvaluateConfig", "EvaluateSummary", "evaluate", "select_tasks", "verdict_context"]


def _verdict_from(value: dict) -> Verdict:
    """A cached verdict, or ValueError/TypeError when it is not one (the envelope turns that into a miss)."""
    verdict = Verdict(**value)
    if verdict.base_status not in STATUSES or verdict.plus_status not in STATUSES | {None}:
        raise ValueError(f"status {verdict.base_status!r}/{verdict.plus_status!r}")
    if not (isinstance(verdict.base_fail_tests, list) and isinstance(verdict.plus_fail_tests, list)
            and isinstance(verdict.detail, str) and failure_valid(verdict.failure)):
        raise ValueError("malformed fields")
    return verdict


class VerdictCache:
    """One enveloped file per verdict (key + checksum): a damaged or tampered entry is a miss, rechecked."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Verdict | None:
        return cache_entry.read_json(self._path(key), key, "verdict", validate=_verdict_from)

    def put(self, key: str, verdict: Verdict) -> None:
        cache_entry.write_json(self._path(key), key, asdict(verdict))


def evaluate(cfg: EvaluateConfig, sandbox: Sandbox | None = None, quiet: bool = False,
             dataset: Dataset | None = None) -> EvaluateSummary:
    """`dataset`: the benchmark's release, when the caller loaded it already (a run evaluates every variant)."""
    check_settings(cfg)
    benchmark: Benchmark = get_benchmark(cfg.benchmark, **cfg.benchmark_options())
    dataset = dataset or benchmark.load(data_dir(cfg.data_dir))
    samples = read_samples(cfg.samples, dataset.problems)
    task_ids = select_tasks(dataset, samples, cfg.tasks, cfg.limit)
    output = Path(cfg.output)
    if output.exists() and not output.is_dir():
        raise BadInput(f"--output {output} exists and is not a directory")

    with outdir.locked(output):  # a second writer of this directory gets exit 2, naming our pid
        own_sandbox = sandbox is None
        sandbox = sandbox or make_check_sandbox(cfg.executor, cfg.sandbox, cfg.jobs, benchmark.environment,
                                                benchmark.sandbox_limits(), announce=not quiet,
                                                ray_address=cfg.ray_address)
        try:
            summary = _evaluate(cfg, benchmark, dataset, samples, task_ids, sandbox, output, quiet)
        finally:
            if own_sandbox:
                sandbox.close()
    return summary


def verdict_context(benchmark: Benchmark, dataset: Dataset, sandbox: Sandbox) -> dict:
    """Everything besides the task and its solution that a cached verdict is keyed on: the *resolved* sandbox
    (backend, image id or interpreter, machine), its limits, the benchmark's limits, package versions. A run's
    evaluate stage key contains it too, so no stage is reported cached when a verdict would not be."""
    versions = provenance.package_versions()
    return {"benchmark": benchmark.name, "dataset": dataset.hash, "limits": benchmark.limits_key(),
            "sandbox": sandbox.machine_key(), "sandbox_limits": sandbox.describe().get("limits"),
            "failure_format": FAILURE_FORMAT, "evalplus": versions.get("evalplus"), "fgit-bench": versions.get("fgit-bench")}


def _evaluate(cfg, benchmark, dataset, samples, task_ids, sandbox, output, quiet) -> EvaluateSummary:
    sandbox_info = sandbox.describe()
    context = verdict_context(benchmark, dataset, sandbox)
    cache = VerdictCache(cache_root() / "verdicts")
    # task -> its programs in file order (one per sample); identical programs of a task are checked once
    solutions = {t: [benchmark.postprocess(row, dataset.problems[t]) for row in samples[t]] for t in task_ids}
    distinct = {t: list(dict.fromkeys(solutions[t])) for t in task_ids}
    # The oracle (ground truth) first, from its own cache: a verdict is keyed by the ground truth it was judged
    # against, so a repaired or recomputed ground truth never reuses verdicts judged against the old one.
    oracle = benchmark.prepare(dataset, task_ids, sandbox, cache_root())
    keys = {(t, s): json_digest({**context, "task_id": t, "solution": s,
                                 "ground_truth": benchmark.oracle_digest(oracle, t)})
            for t in task_ids for s in distinct[t]}

    # The ground-truth gate (before scoring): its jobs share the pool with the checks.
    plan = benchmark.gate_plan(dataset, task_ids, sandbox, cache_root())
    verdicts: dict[tuple[str, str], Verdict] = {}
    where: dict[tuple[str, str], dict] = {}
    if not cfg.overwrite:
        for key, digest in keys.items():
            cached = cache.get(digest)
            if cached is not None:
                verdicts[key] = cached
    todo = {t: [s for s in distinct[t] if (t, s) not in verdicts] for t in task_ids}
    todo = {t: programs for t, programs in todo.items() if programs}
    checked = sum(len(programs) for programs in todo.values())
    same_as_gate = 0  # checks whose job was the gate's own (a sample identical to the canonical solution)
    if todo or (plan is not None and plan.jobs):
        sandbox.warm_up()  # workers start while the payloads are prepared
        checks = plan_checks(benchmark, dataset, oracle, todo)
        progress = _Progress(checked, quiet)
        try:
            for task_id, program, result, reused in run_checks(sandbox, benchmark, dataset, oracle, checks, plan):
                verdict = benchmark.verdict(dataset, task_id, result)  # judged here, outside the sandbox
                cache.put(keys[(task_id, program)], verdict)
                verdicts[(task_id, program)] = verdict
                if result.where is not None:  # which node, backend and image produced it (a cluster executor)
                    where[(task_id, program)] = result.where
                same_as_gate += reused
                progress.step()
        except InfraError as exc:
            if not hasattr(exc, "keys"):
                raise
            unscored = [t for t, programs in todo.items() if any((t, p) not in verdicts for p in programs)]
            raise InfraError(f"{exc}; {len(unscored)} task(s) could not be scored (the verdicts that came back "
                             f"are cached): {', '.join(unscored)}") from None
        finally:
            progress.close()
    excluded = plan.finish() if plan is not None else {}

    if where:  # the cluster's nodes, with the jobs each ran, as they stand after the run
        sandbox_info = sandbox.describe()
    return _write_outputs(cfg, benchmark, dataset, task_ids, solutions, verdicts, sandbox_info, output,
                          executed=checked - same_as_gate, quiet=quiet, excluded=excluded,
                          same_as_gate=same_as_gate, distinct=len(keys), where=where)


def _write_outputs(cfg, benchmark, dataset, task_ids, solutions, verdicts, sandbox_info, output, executed, quiet,
                   excluded=None, same_as_gate=0, distinct=0, where=None):
    where = where or {}
    excluded = {t: why for t, why in (excluded or {}).items() if t in set(task_ids)}
    multi = any(len(solutions[t]) > 1 for t in task_ids)  # n = 1 files keep their schema, byte for byte
    samples = [(t, i, s, verdicts[(t, s)]) for t in task_ids for i, s in enumerate(solutions[t])]
    flags = {}  # per distinct program
    extra = [benchmark.row_fields(dataset.problems[t], s, v) for t, _, s, v in samples]
    if multi:  # diversity of a task's samples (harness/diversity.py): the program's normalised id, the task's
        # mean pairwise similarity (the leaderboard counts distinct and distinct correct programs from the ids)
        similarity = {t: pairwise_similarity(solutions[t]) for t in task_ids}
        ids = {s: program_id(s) for t in task_ids for s in set(solutions[t])}
        diversity = [{"program_id": ids[s], "pairwise_similarity": similarity[t]} for t, _, s, _ in samples]
    else:
        diversity = [{} for _ in samples]
    rows = [
        {"benchmark": benchmark.result_name, "task_id": t} | ({"sample_index": i} if multi else {})
        | {"base_status": v.base_status, "plus_status": v.plus_status, "base_pass": v.base_status == "pass",
           "plus_pass": (None if v.plus_status is None else v.base_status == "pass" and v.plus_status == "pass"),
           "detail": v.detail, "excluded": t in excluded, "dataset_hash": dataset.hash,
           "sandbox": sandbox_info.get("backend"),
           "flags": flags[s] if s in flags else flags.setdefault(s, gaming_flags(s))} | fields
        | ({"excluded_reason": excluded[t]} if t in excluded else {})
        | ({"failure": v.failure} if v.failure is not None else {}) | more
        | ({"executed_on": where[(t, s)]} if (t, s) in where else {})
        for (t, i, s, v), fields, more in zip(samples, extra, diversity, strict=True)
    ]
    pass_at_k = benchmark.pass_at_k(rows)
    prov = {
        "benchmark": benchmark.name,
        "dataset": {"name": dataset.name, "version": dataset.version, "hash": dataset.hash, "path": dataset.path},
        "samples": {"path": str(Path(cfg.samples).resolve()), "sha256": file_digest(cfg.samples)},
        "sandbox": sandbox_info,
        "tasks": len(task_ids),
        "options": benchmark.options,
        "excluded": excluded,
        "limits": benchmark.limits_key(),
        **provenance.environment(),
    }
    entries: dict[str, list] = {t: [] for t in task_ids}
    for (t, _, s, v), fields in zip(samples, extra, strict=True):
        entries[t].append({"task_id": t, "solution": s, "base_status": v.base_status, "plus_status": v.plus_status,
                           "base_fail_tests": v.base_fail_tests, "plus_fail_tests": v.plus_fail_tests} | fields)
    results = {
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "hash": dataset.hash,
        "eval": entries,
        "pass_at_k": pass_at_k,
        "provenance": prov,
    }
    own = benchmark.eval_results(dataset, task_ids, solutions, verdicts, excluded, pass_at_k)
    if own is not None:  # the upstream harness's own schema, with our provenance
        results = {**own, "provenance": prov}
    # Both files appear together (one directory swap): a reader never pairs one run's rows with another's summary.
    outdir.publish(output, {"results.jsonl": jsonl_bytes(rows), "eval_results.json": json_bytes(results)},
                   keep_others=not cfg.overwrite)
    scored = [r for r in rows if not r["excluded"]]
    n = len({r["task_id"] for r in scored})
    base_pass = sum(r["base_pass"] for r in scored)
    plus_pass = sum(bool(r["plus_pass"]) for r in scored)
    summary = EvaluateSummary(benchmark.name, n, base_pass, plus_pass, executed, str(output), len(excluded),
                              samples=len(scored))
    if not quiet:
        total = len(task_ids)
        checked = (f"{total} tasks" if not multi else
                   f"{total} tasks, {len(samples)} samples ({distinct} distinct programs)")
        print(f"{benchmark.result_name} ({dataset.name} {dataset.version}, md5 {dataset.hash}), {checked}, "
              f"sandbox {sandbox_info.get('backend')}, {executed} checked now, "
              f"{(distinct if multi else total) - executed - same_as_gate} from cache"
              + (f", {same_as_gate} same as the ground-truth gate's run" if same_as_gate else ""))
        if excluded:
            print(f"  ground-truth gate: {len(excluded)} task(s) excluded (canonical solution fails here), "
                  f"pass@1 over the other {n}:")
            for task_id, why in excluded.items():
                print(f"    {task_id}: {why}")
        if multi:
            print(f"  n samples per task: {min(len(solutions[t]) for t in task_ids)}"
                  f"–{max(len(solutions[t]) for t in task_ids)}; unbiased pass@k (evalplus's estimator):")
            for line in _pass_at_k_lines(benchmark, pass_at_k):
                print(line)
        else:
            print(f"  {benchmark.name} (base tests)  pass@1: {summary.base_pass_at_1:.3f}  ({base_pass}/{n})")
            if benchmark.has_plus:
                print(f"  {benchmark.name}+ (base + extra) pass@1: {summary.plus_pass_at_1:.3f}  ({plus_pass}/{n})")
        for line in benchmark.score_lines(pass_at_k, n):
            print(line)
        print(f"  written: {output / 'eval_results.json'}, {output / 'results.jsonl'}")
    return summary


def _pass_at_k_lines(benchmark, pass_at_k: dict) -> list[str]:
    """evalplus's keys and ours, one line per split (BigCodeBench's flat dict: one line)."""
    own = pass_at_k.get("fgit_bench", {})
    splits = [(label, {**pass_at_k.get(split, {}), **own.get(split, {})}) for split, label in
              (("base", f"{benchmark.name} (base tests)"), ("plus", f"{benchmark.name}+ (base + extra)"))
              if split in pass_at_k]
    if not splits:  # BigCodeBench's flat keys, with its own field's
        values = {**pass_at_k, **own.get("pass_at_k", {})}
        splits = [(benchmark.result_name, {k: v for k, v in values.items() if k[5:].isdigit()})]
    return [f"  {label}  " + "  ".join(f"{k}: {v:.3f}" for k, v in sorted(
        ((k, v) for k, v in values.items() if k.startswith("pass@") and k[5:].isdigit()), key=lambda kv: int(kv[0][5:])))
        for label, values in splits]


class _Progress:
    """A tqdm bar on stderr when attached to a terminal or asked for; silent otherwise."""

    def __init__(self, total: int, quiet: bool):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="checking", unit="sample", file=sys.stderr,
                            disable=not sys.stderr.isatty())

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

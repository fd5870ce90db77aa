"""BigCodeBench v0.1.4 (full 1140 / hard 148 tasks; complete / instruct splits) through bigcodebench 0.2.5's own
loader and checking code (`untrusted_check`), run inside the `bigcodebench` sandbox environment.

What follows upstream (bigcodebench/evaluate.py, local execution):
- calibrated pass@1: the program run is `code_prompt + "\\n    pass\\n" + solution`, the solution being the
  sample's `solution`, else `complete_prompt + completion`;
- limits: RLIMIT_AS and RLIMIT_DATA 30 GiB, stack 10 MiB, and the effective timeout: untrusted_check uses
  `max(240, min_time_limit, gt_time) + 1` s, and the ground-truth time is itself capped at 240 s, so it is a
  flat 241 s per task;
- the ground-truth gate runs the canonical solutions (`complete_prompt + "\\n" + canonical_solution`) first and
  reports `gt_pass_rate` and the failing tasks.
What differs, on purpose:
- the gate checks canonical solutions with the same `untrusted_check` as samples (upstream uses `trusted_check`,
  which prints the failure to stdout and returns only a time), so every exclusion comes with its reason; its
  result is cached per dataset hash *and* sandbox/environment, not per dataset hash alone;
- the gate's program is the canonical solution postprocessed as a sample (calibrated: `code_prompt + "\\n    pass\\n"`
  before it): the program upstream runs for a sample that reproduces the canonical solution. Such a sample's check
  is then the gate's job, run once (identical solutions are executed once); upstream runs both;
- tasks whose ground truth fails here are excluded: reported separately, and pass@1 is over the other tasks
  (upstream counts them as failures of the model). `pass@1_all_tasks` keeps upstream's denominator.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.benchmarks.base import (
    BENCHMARKS,
    Benchmark,
    CheckJob,
    Dataset,
    GatePlan,
    Verdict,
    is_multi_sample,
    task_counts,
)
from harness.benchmarks.bigcodebench_gate import (
    EFFECTIVE_TIMEOUT,
    GT_TIME_LIMIT,
    JOB_SLACK,
    MIN_TIME_LIMIT,
    GroundTruthRun,
    measured_durations,
)
from harness.benchmarks.failure import unittest_failure
from harness.core import passk
from harness.core.data import find_release_file
from harness.core.errors import InfraError
from sandboxes.base import Limits, Sandbox
from sandboxes.bigcodebench_env import PRELOAD
from sandboxes.pool import JobResult

MAX_AS_LIMIT_MB = 30 * 1024  # bigcodebench.evaluate defaults
MAX_DATA_LIMIT_MB = 30 * 1024
MAX_STACK_LIMIT_MB = 10
CALIBRATION = "\n    pass\n"
BCB_KS = (1, 5, 10)  # bigcodebench.evaluate's default --pass_k
GROUP_PROGRAMS = 8  # n samples of a task: distinct programs per grouped check job
RUNNER = "tamper-evident-2"  # which checker decided (verdict key; 2: candidate compiled without our __future__ flags)


@BENCHMARKS.register("bigcodebench")
class BigCodeBench(Benchmark):
    name = "bigcodebench"
    order = 30
    in_default_run = False  # needs its own environment (fgit-bench sandbox build): listed explicitly
    columns = {"bigcodebench-full": ("BCB-full",), "bigcodebench-hard": ("BCB-hard",)}  # one test suite: base only
    environment = "bigcodebench"
    has_plus = False
    option_choices = {"subset": ("full", "hard"), "split": ("complete", "instruct")}
    release_files = {"full": ["BigCodeBench-v0.1.4.jsonl", "BigCodeBench-v0.1.4.jsonl.gz"],
                     "hard": ["BigCodeBench-Hard-v0.1.4.jsonl", "BigCodeBench-Hard-v0.1.4.jsonl.gz"]}
    calibrated = True

    def __init__(self, **options: str):
        super().__init__(**options)
        # canonical solutions' check times (from the gate, else the measured durations file): job costs
        self._gt_seconds: dict[str, float] = dict(measured_durations())

    @property
    def subset(self) -> str:
        return self.options["subset"]

    @property
    def split(self) -> str:
        return self.options["split"]

    @property
    def result_name(self) -> str:
        return f"bigcodebench-{self.subset}"

    @property
    def sample_split(self) -> str:
        return self.split

    def decontamination_source(self) -> Benchmark:
        return self if self.subset == "full" else type(self)(**{**self.options, "subset": "full"})

    def decontamination_texts(self, dataset: Dataset) -> list[tuple[str, str, str]]:
        texts = []
        for task_id, task in dataset.problems.items():
            doc = task.get("doc_struct")
            doc = json.loads(doc) if isinstance(doc, str) else (doc or {})
            texts += [(task_id, field, task[field])
                      for field in ("complete_prompt", "instruct_prompt", "canonical_solution") if task.get(field)]
            texts.append((task_id, "description", " ".join(doc.get("description", []))))
        return texts

    def fenced(self, problem: dict) -> bool:
        return self.split == "complete"  # instruct prompts are prose: no code fence around them

    @classmethod
    def sanitize(cls, code: str, entry_point: str) -> str:
        """evalplus's sanitizer (bigcodebench's own is not installed here), falling back to the longest
        syntactically valid block (bigcodebench's first step) when evalplus's would drop the entry point (it keeps
        only functions that `return`, and BigCodeBench's `task_func` may not)."""
        from evalplus.sanitize import code_extract

        solution = super().sanitize(code, entry_point)
        return solution if f"def {entry_point}" in solution else code_extract(code)

    # --- data -------------------------------------------------------------------------------------------------
    def load(self, data_dir: Path | None) -> Dataset:
        path = find_release_file(data_dir, self.release_files[self.subset])
        import bigcodebench.data.bigcodebench as upstream  # imports `datasets`: only here, never in a sandbox

        # The loader reads its override from a module global captured at import time; set it for this call.
        saved = upstream.BIGCODEBENCH_OVERRIDE_PATH
        upstream.BIGCODEBENCH_OVERRIDE_PATH = str(path) if path else saved
        try:
            problems = upstream.get_bigcodebench(subset=self.subset)
            digest = upstream.get_bigcodebench_hash(subset=self.subset)
            used = upstream._ready_bigcodebench_path(subset=self.subset)
        except Exception as exc:  # noqa: BLE001  (no local file: upstream downloads, which fails offline)
            raise InfraError(f"BigCodeBench {self.subset} could not be loaded ({type(exc).__name__}: {exc}); "
                             f"put {self.release_files[self.subset][0]} in --data-dir") from None
        finally:
            upstream.BIGCODEBENCH_OVERRIDE_PATH = saved
        name = "BigCodeBench" if self.subset == "full" else "BigCodeBench-Hard"
        return Dataset(name=name, version=upstream.BIGCODEBENCH_VERSION, hash=digest, path=str(used),
                       problems=problems)

    def prompt(self, problem: dict) -> str:
        """What upstream's codegen gives the model: `complete_prompt` or `instruct_prompt`."""
        return problem[f"{self.split}_prompt"]

    def postprocess(self, sample: dict, problem: dict) -> str:
        """The program upstream runs: the solution (or complete_prompt + completion), calibrated."""
        if sample.get("solution") is not None:
            solution = sample["solution"]
        else:
            solution = problem["complete_prompt"] + (sample.get("completion") or "")
        if self.calibrated:
            solution = problem["code_prompt"] + CALIBRATION + solution
        return solution

    def canonical_program(self, problem: dict) -> str:
        """What the gate runs: the canonical solution as upstream writes it (`complete_prompt + "\\n" +
        canonical_solution`), postprocessed as a sample would be (calibrated). A sample that reproduces it is then
        the gate's own job, and its check is not run a second time (issue 3, item 6)."""
        return self.postprocess({"solution": problem["complete_prompt"] + "\n" + problem["canonical_solution"]},
                                problem)

    # --- checking ---------------------------------------------------------------------------------------------
    def sandbox_limits(self) -> Limits:
        # The per-check limits are upstream's (set by untrusted_check); the worker must not be tighter. Upstream
        # limits neither files nor the work dir, and tasks write archives, images and CSVs: give them room.
        return Limits(memory_mb=MAX_AS_LIMIT_MB, file_size_mb=1024, tmpfs_mb=1024)

    def limits_key(self) -> dict[str, Any]:
        return {"timeout": EFFECTIVE_TIMEOUT, "max_as_limit": MAX_AS_LIMIT_MB, "max_data_limit": MAX_DATA_LIMIT_MB,
                "max_stack_limit": MAX_STACK_LIMIT_MB, "calibrated": self.calibrated, "preload": list(PRELOAD),
                "runner": RUNNER}

    def _payload(self, problem: dict, code: str) -> dict:
        return {"code": code, "test": problem["test"], "entry_point": problem["entry_point"],
                "max_as_limit": MAX_AS_LIMIT_MB, "max_data_limit": MAX_DATA_LIMIT_MB,
                "max_stack_limit": MAX_STACK_LIMIT_MB, "min_time_limit": MIN_TIME_LIMIT,
                "gt_time_limit": GT_TIME_LIMIT, "preload": PRELOAD}

    def prepare(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> None:
        return None  # nothing per task: the limits are flat, and the gate ran before

    def check_job(self, dataset: Dataset, oracle: Any, task_id: str, solution: str) -> CheckJob:
        payload = self._payload(dataset.problems[task_id], solution)
        # The canonical solution's time, where the gate measured it, orders the checks (longest first).
        cost = self._gt_seconds.get(task_id, 0.0)
        return CheckJob("bigcodebench_check", payload, timeout=EFFECTIVE_TIMEOUT + JOB_SLACK, cost=cost)

    def group_check_jobs(self, dataset: Dataset, oracle: Any, task_id: str,
                         programs: list[str]) -> list[tuple[list[str], CheckJob]]:
        """The distinct programs of one task (n samples) in `bigcodebench_check_many` jobs of up to GROUP_PROGRAMS:
        the test suite and limits sent once per job, each program checked as `bigcodebench_check` checks it."""
        jobs = [self.check_job(dataset, oracle, task_id, p) for p in programs]
        groups = []
        for start in range(0, len(jobs), GROUP_PROGRAMS):
            chunk = jobs[start:start + GROUP_PROGRAMS]
            if len(chunk) == 1:
                groups.append(([programs[start]], chunk[0]))
                continue
            shared = {k: v for k, v in chunk[0].payload.items() if k != "code"}
            groups.append((programs[start:start + GROUP_PROGRAMS],
                           CheckJob("bigcodebench_check_many", {**shared, "codes": [j.payload["code"] for j in chunk]},
                                    timeout=sum(j.timeout for j in chunk), cost=sum(j.cost for j in chunk))))
        return groups

    def split_group_result(self, result: JobResult, count: int) -> list[JobResult]:
        values = result.value["results"]
        if len(values) != count:
            raise InfraError(f"a grouped check returned {len(values)} results for {count} programs")
        return [JobResult(value=value, seconds=result.seconds / count) for value in values]

    def verdict(self, dataset: Dataset, task_id: str, result: JobResult) -> Verdict:
        if result.error:  # the worker itself timed out, ran out of memory or broke
            status = "timeout" if result.error == "timeout" else "fail"
            return Verdict(status, None, detail=result.error)
        status = result.value["status"]
        failed = [{"test": name, "trace": trace} for name, trace in result.value["details"].items()]
        return Verdict(status, None, base_fail_tests=failed, detail=status,
                       failure=unittest_failure(failed) if status != "pass" else None)

    # --- ground-truth gate ------------------------------------------------------------------------------------
    def gate_plan(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> GatePlan:
        return GroundTruthRun(self, dataset, task_ids, sandbox, cache_dir)

    def ground_truth(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> dict:
        """task_id -> {"status", "reason", "seconds"} of the canonical solution, cached per dataset and sandbox."""
        run = GroundTruthRun(self, dataset, task_ids, sandbox, cache_dir)
        missing = list(run.jobs)
        jobs = [run.jobs[t] for t in missing]
        for index, result in sandbox.run("bigcodebench_check", [j.payload for j in jobs], [j.timeout for j in jobs],
                                         costs=[j.cost for j in jobs]):
            run.record(missing[index], result)
        return run.ground_truth()

    # --- output -----------------------------------------------------------------------------------------------
    def pass_at_k(self, rows: list[dict]) -> dict:
        """bigcodebench's pass_at_k.json content, with our gate: pass@k over the tasks whose canonical solution
        passes here, and upstream's denominator (every task) as pass@k_all_tasks. With n samples per task: its
        estimator (evalplus's) for its default k (1, 5, 10) where every task has n ≥ k, and 25, 100 in our field."""
        scored = [r for r in rows if not r["excluded"]]
        if is_multi_sample(rows):
            totals, passed = task_counts(scored, lambda r: True), task_counts(scored, lambda r: r["base_pass"])
            all_totals, all_passed = task_counts(rows, lambda r: True), task_counts(rows, lambda r: r["base_pass"])
            rates = passk.pass_at_k(totals, passed, BCB_KS)
            rates |= {f"{k}_all_tasks": v for k, v in passk.pass_at_k(all_totals, all_passed, BCB_KS).items()}
            rates["fgit_bench"] = {"pass_at_k": passk.pass_at_k(totals, passed, (25, 100)), "tasks": len(totals),
                                   "samples": sum(totals), "n_min": min(totals, default=0),
                                   "n_max": max(totals, default=0)}
            tasks = {r["task_id"] for r in rows}
            scored_tasks = len({r["task_id"] for r in scored})
        else:
            rates = {"pass@1": sum(r["base_pass"] for r in scored) / len(scored) if scored else 0.0,
                     "pass@1_all_tasks": sum(r["base_pass"] for r in rows) / len(rows) if rows else 0.0}
            tasks, scored_tasks = rows, len(scored)
        return {
            **rates,
            "split": self.split, "subset": self.subset, "calibrated": self.calibrated,
            "gt_pass_rate": scored_tasks / len(tasks) if tasks else 0.0,
            "failed_tasks": list(dict.fromkeys(r["task_id"] for r in rows if r["excluded"])),
            "scored_tasks": scored_tasks,
            "note": "pass@1 is over the tasks whose canonical solution passes in this environment; tasks in "
                    "failed_tasks are excluded (see `excluded`), not counted as model failures. "
                    "pass@1_all_tasks counts them as failures, as upstream does.",
        }

    def eval_results(self, dataset: Dataset, task_ids: list[str], solutions: dict[str, list[str]],
                     verdicts: dict[tuple[str, str], Verdict], excluded: dict[str, str], pass_at_k: dict) -> dict:
        """bigcodebench's eval_results.json ({"date", "eval"}: one entry per sample, in file order) with its
        pass_at_k.json content and our gate."""
        return {
            "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
            "hash": dataset.hash,
            "eval": {t: [{"task_id": t, "solution": s, "status": verdicts[(t, s)].base_status,
                          "details": {f["test"]: f["trace"] for f in verdicts[(t, s)].base_fail_tests}}
                         for s in solutions[t]]
                     for t in task_ids},
            "pass_at_k": pass_at_k,
            "excluded": {t: excluded[t] for t in task_ids if t in excluded},
        }

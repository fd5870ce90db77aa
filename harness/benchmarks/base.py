"""The benchmark interface, in the spirit of bigcode-evaluation-harness's `Task`:
prompt, postprocess, oracle (ground truth + one check job per solution), verdict, score."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from harness.core import passk
from harness.core.errors import BadInput
from harness.core.registry import Registry
from sandboxes.base import Limits, Sandbox
from sandboxes.pool import JobResult


@dataclass
class Dataset:
    name: str  # release name, e.g. "HumanEvalPlus"
    version: str
    hash: str  # md5 of the (decompressed) release file, as upstream reports it
    path: str
    problems: dict[str, dict]  # task_id -> problem, in release order


@dataclass
class CheckJob:
    function: str  # a function in sandboxes.guest.jobs
    payload: Any
    timeout: float
    cost: float = 0.0  # estimated run time (e.g. the ground truth's): the pool starts the longest jobs first


class GatePlan(ABC):
    """The ground-truth gate as jobs that share the pool with the samples' checks (no barrier between the two):
    `jobs` are the canonical solutions still to run, `record` takes each one's result, `finish` (after the last)
    returns what `Benchmark.gate` returns."""

    jobs: dict[str, CheckJob]

    @abstractmethod
    def record(self, task_id: str, result: JobResult) -> None: ...

    @abstractmethod
    def finish(self) -> dict[str, str]: ...


@dataclass
class Verdict:
    """One solution's result in evalplus's vocabulary; `detail` distinguishes fail/timeout/oom/sandbox_error."""

    base_status: str
    plus_status: str | None
    base_fail_tests: list = field(default_factory=list)
    plus_fail_tests: list = field(default_factory=list)
    detail: str = ""
    # the first failing input as the judge saw it (harness/benchmarks/failure.py): input, expected, actual, capped
    failure: dict | None = None


class Benchmark(ABC):
    name: ClassVar[str]
    environment: ClassVar[str] = "evalplus"  # the sandbox environment its checks need
    has_plus: ClassVar[bool] = True  # evalplus-style base + plus tests (False: one status per task)
    option_choices: ClassVar[dict[str, tuple[str, ...]]] = {}  # option -> allowed values; the first is the default
    in_default_run: ClassVar[bool] = True  # part of a run config that lists no [[benchmarks]]
    decontaminate_by_default: ClassVar[bool] = True  # `train` without --benchmarks checks the data against it
    decontaminate_against: ClassVar[bool] = True  # False: training sets are never checked against it
    order: ClassVar[int] = 100  # leaderboard column order (humaneval 10, mbpp 20, bigcodebench 30; new ones 100)
    # result name (`result_name`, per option set) -> leaderboard column names: (base,) or (base, plus);
    # None: the name, and name + "+" where the benchmark has plus tests
    columns: ClassVar[dict[str, tuple[str, ...]] | None] = None
    # or: results.jsonl fields beyond base_pass -> leaderboard column names (per-task booleans, e.g. a repair's
    # exact match), shown as their own block instead of base/plus columns
    metric_fields: ClassVar[dict[str, str]] = {}

    release_files: ClassVar[list[str] | dict[str, list[str]]] = []  # names in the data dir (per subset: a dict)
    # direct completion stops here too (evalplus's and bigcodebench's `extra_eos_for_direct_completion`)
    stop_strings: ClassVar[tuple[str, ...]] = ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")

    @classmethod
    def metric_columns(cls) -> dict[str, tuple[str, ...]]:
        if cls.columns is not None:
            return cls.columns
        return {cls.name: (cls.name, cls.name + "+") if cls.has_plus else (cls.name,)}

    def __init__(self, **options: str):
        for key, value in options.items():
            if key not in self.option_choices:
                raise BadInput(f"benchmark {self.name!r} takes no option {key!r}")
            if value not in self.option_choices[key]:
                raise BadInput(f"--{key} {value!r}: expected one of {', '.join(self.option_choices[key])}")
        self.options = {key: choices[0] for key, choices in self.option_choices.items()} | options

    @property
    def result_name(self) -> str:
        """The `benchmark` value of results.jsonl rows (e.g. "bigcodebench-hard")."""
        return self.name

    @property
    def sample_split(self) -> str | None:
        """The `split` value of sample rows (bigcodebench: complete | instruct; None where there is none)."""
        return None

    @abstractmethod
    def load(self, data_dir: Path | None) -> Dataset: ...

    def fenced(self, problem: dict) -> bool:
        """Chat prompts put the task prompt in a code fence (False for prose prompts, e.g. instructions)."""
        return True

    @classmethod
    def sanitize(cls, code: str, entry_point: str) -> str:
        """The program to keep from model text: evalplus's tree-sitter sanitizer (imports + what the entry point
        needs)."""
        from evalplus.sanitize import sanitize

        return sanitize(code, entrypoint=entry_point)

    def release_path(self, data_dir: Path | None) -> Path | None:
        """The release file as stored in `data_dir` (not decompressed), None when it is not there."""
        names = self.release_files if isinstance(self.release_files, list) else self.release_files.get(
            self.options.get("subset"), [])
        return next((data_dir / n for n in names if data_dir is not None and (data_dir / n).is_file()), None)

    def decontamination_source(self) -> Benchmark:
        """The benchmark whose texts a training set is checked against (BigCodeBench: the full set, hard ⊂ full)."""
        return self

    def decontamination_texts(self, dataset: Dataset) -> list[tuple[str, str, str]]:
        """(task_id, field, text) a training set must not overlap (harness.decontaminate): by default the prompt,
        the canonical solution and the prompt's prose."""
        from harness.benchmarks.texts import docstring_prose

        texts = []
        for task_id, task in dataset.problems.items():
            texts += [(task_id, "prompt", task["prompt"]), (task_id, "canonical_solution", task["canonical_solution"]),
                      (task_id, "description", docstring_prose(task["prompt"]))]
        return texts

    @abstractmethod
    def prompt(self, problem: dict) -> str:
        """The text a model completes (base models) or is instructed with (chat models)."""

    def postprocess(self, sample: dict, problem: dict) -> str:
        """The full program to run: `solution` as given, else prompt + `completion` (evalplus's rule)."""
        if "solution" in sample and sample["solution"] is not None:
            return sample["solution"]
        return problem["prompt"] + (sample.get("completion") or "")

    @abstractmethod
    def prepare(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> Any:
        """Build the oracle for `task_ids` (e.g. ground-truth outputs and times, measured in `sandbox`)."""

    def oracle_digest(self, oracle: Any, task_id: str) -> str | None:
        """A hash of the oracle's content for `task_id` (None: the check uses no per-task oracle). It is part of
        the verdict cache key, so a verdict judged against other ground truth is never reused."""
        return None

    @abstractmethod
    def check_job(self, dataset: Dataset, oracle: Any, task_id: str, solution: str) -> CheckJob: ...

    @abstractmethod
    def verdict(self, dataset: Dataset, task_id: str, result: JobResult) -> Verdict: ...

    def group_check_jobs(self, dataset: Dataset, oracle: Any, task_id: str,
                         programs: list[str]) -> list[tuple[list[str], CheckJob]] | None:
        """Several distinct programs of one task as few jobs (the task's inputs and limits sent once per job):
        [(programs, job)], a one-program group being `check_job`'s job. None: one `check_job` per program."""
        return None

    def screen_jobs(self, dataset: Dataset, oracle: Any, task_id: str,
                    programs: list[str]) -> list[tuple[list[str], CheckJob]] | None:
        """Cheap first jobs for `programs` (as `group_check_jobs` groups them) that settle the programs failing
        early; `screened` reads their results. None: no screening, every program gets its full check."""
        return None

    def screened(self, dataset: Dataset, task_id: str, result: JobResult, count: int) -> list[JobResult | None]:
        """Per program of a screen job (in its order): a result that `verdict` judges exactly as the full check's,
        or None where only the full check can decide (only for jobs of `screen_jobs`, result without `error`)."""
        raise NotImplementedError

    def split_group_result(self, result: JobResult, count: int) -> list[JobResult]:
        """A grouped job's result as one result per program, in the group's order (only for jobs of
        `group_check_jobs`, and only for a result without `error`)."""
        raise NotImplementedError

    def limits_key(self) -> dict:
        """Everything besides the code that changes a verdict (for the verdict cache key)."""
        return {}

    def sandbox_limits(self) -> Limits | None:
        """Worker limits this benchmark needs (None: the sandbox defaults)."""
        return None

    def gate_plan(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> GatePlan | None:
        """The ground-truth gate as jobs that run beside the samples' checks (None: no gate). Its `finish` gives
        task_id -> reason for tasks whose canonical solution fails here: those are reported separately and left
        out of pass@k (a broken environment is never a model failure)."""
        return None

    def pass_at_k(self, rows: list[dict]) -> dict:
        """eval_results.json's `pass_at_k` from the per-task results rows (results.jsonl), excluded tasks left out;
        evaluation and `merge` (over the union of shards) both compute it here. evalplus's schema by default.

        With several samples per task (rows with `sample_index`): evalplus's estimator and keys (pass@1, 10, 100
        where every task has that many samples) under base/plus, and pass@5, 25 in our own field."""
        scored = [r for r in rows if not r["excluded"]]
        if is_multi_sample(rows):
            return self.pass_at_k_from_n(scored)
        n = max(len(scored), 1)
        pass_at_k = {"base": {"pass@1": sum(bool(r["base_pass"]) for r in scored) / n}}
        if self.has_plus:
            pass_at_k["plus"] = {"pass@1": sum(bool(r["plus_pass"]) for r in scored) / n}
        return pass_at_k

    def pass_at_k_from_n(self, scored: list[dict]) -> dict:
        """evalplus's pass_at_k for n samples per task (scored rows only), and our own field `fgit_bench`."""
        totals = task_counts(scored, lambda r: True)
        splits = {"base": task_counts(scored, lambda r: bool(r["base_pass"]))}
        if self.has_plus:
            splits["plus"] = task_counts(scored, lambda r: bool(r["plus_pass"]))
        result = {split: passk.pass_at_k(totals, counts) for split, counts in splits.items()}
        result["fgit_bench"] = {split: passk.pass_at_k(totals, counts, passk.OWN_KS) for split, counts in
                                splits.items()} | {"tasks": len(totals), "samples": sum(totals),
                                                   "n_min": min(totals, default=0), "n_max": max(totals, default=0)}
        return result

    def row_fields(self, problem: dict, solution: str, verdict: Verdict) -> dict:
        """Per-task scores besides the verdict (e.g. a repair's exact match), added to results.jsonl rows and to
        eval_results.json's entries; `pass_at_k` reads them back from the rows."""
        return {}

    def score_lines(self, pass_at_k: dict, n: int) -> list[str]:
        """Extra summary lines `evaluate` prints after pass@1."""
        return []

    def eval_results(self, dataset: Dataset, task_ids: list[str], solutions: dict[str, str],
                     verdicts: dict[str, Verdict], excluded: dict[str, str], pass_at_k: dict) -> dict | None:
        """eval_results.json in the upstream harness's own schema (with `pass_at_k`); None: evalplus's schema."""
        return None


def is_multi_sample(rows: list[dict]) -> bool:
    """results.jsonl rows of a samples file with several samples per task carry `sample_index`."""
    return any("sample_index" in r for r in rows)


def task_counts(rows: list[dict], passed) -> list[int]:
    """Per task (in order of first appearance), how many of its rows `passed(row)` holds for."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["task_id"]] = counts.get(row["task_id"], 0) + bool(passed(row))
    return list(counts.values())


BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark", Benchmark, package="harness.benchmarks",
                                                 markers=("BENCHMARKS.register",), group="fgit_bench.benchmarks")


def benchmark_names() -> list[str]:
    """Every registered benchmark in display order (`order`, then name)."""
    return [name for _, name in sorted((cls.order, name) for name, cls in BENCHMARKS.items())]


def get_benchmark(name: str, **options: str) -> Benchmark:
    return BENCHMARKS.get(name)(**options)

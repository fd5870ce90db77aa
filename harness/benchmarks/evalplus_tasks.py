"""HumanEval(+) and MBPP(+) through evalplus's own loaders and checking code.

Ground truth (expected outputs and per-input times of the canonical solutions) is computed inside the sandbox that
will run the samples, so the time limits `max(min_time_limit, factor × gt_time)` compare like with like, and it is
cached per dataset hash *and* machine/sandbox (evalplus keys it by dataset hash only: a cache made on a faster
machine silently tightens the limits, their issue #5).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.benchmarks.base import BENCHMARKS, Benchmark, CheckJob, Dataset, Verdict
from harness.benchmarks.evalplus_judge import count_passed, decode_outputs, judge_stage
from harness.benchmarks.failure import first_failure
from harness.core import cache_entry
from harness.core.data import find_release_file
from harness.core.errors import InfraError
from harness.core.hashing import text_digest
from sandboxes.base import Sandbox
from sandboxes.guest.codec import dumps_data
from sandboxes.pool import JobResult

MIN_TIME_LIMIT = 1.0  # evalplus 0.3.1 DEFAULT_MIN_TIME_LIMIT
GT_TIME_LIMIT_FACTOR = 4.0  # evalplus 0.3.1 DEFAULT_GT_TIME_LIMIT_FACTOR
TIMEOUT_PER_STAGE = 60.0  # evalplus caps one untrusted_check at 60 s (EVALPLUS_TIMEOUT_PER_TASK)
GT_FORMAT = 3  # of the ground-truth file: 3 = one codec JSON text per expected output; 2 was codec data, 1 a pickle
GROUP_OUTPUT_BYTES = 64 << 20  # a grouped check's programs: at most this much ground truth between them
GROUP_MAX_PROGRAMS = 32
SCREEN_MIN_PLUS = 40  # plus inputs from which a task's checks are screened first (`screen_jobs`)
SCREEN_FRACTION = 10  # a screen runs the first 1/10 of the plus inputs
JUDGE = "outside-2"  # where verdicts are decided (part of the verdict key): outputs judged outside the sandbox;
# 2: the candidate compiled without the child module's `from __future__ import annotations` (as evalplus runs it)


def encode_task_groundtruth(value: dict) -> str:
    """One task's ground truth as the worker returns it ({"base": [codec data], "base_time": [s], "plus": ...,
    "plus_time": ...}) as compact JSON text, each expected output as its own codec JSON text (the form in which
    the child sends an answer: equal texts need no decoding, see evalplus_judge.judge_answer)."""
    stored = {**value, **{split: [dumps_data(out) for out in value[split]] for split in ("base", "plus")}}
    return json.dumps(stored, separators=(",", ":"))


def decode_task_groundtruth(text: str) -> dict:
    """The stored text back to expected outputs (decoded lazily) and times; ValueError for anything else."""
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in
                                             ("base", "plus", "base_time", "plus_time")):
        raise ValueError("not a task's ground truth")
    return {"base": decode_outputs(data["base"]), "plus": decode_outputs(data["plus"]),
            "base_time": [float(t) for t in data["base_time"]], "plus_time": [float(t) for t in data["plus_time"]]}


def store_groundtruth(path: Path, key: str, stored: dict[str, str]) -> None:
    """The ground-truth file: the cache envelope (harness/core/cache_entry.py) around JSON task id -> that task's
    encode_task_groundtruth text. JSON of codec texts, never a pickle."""
    cache_entry.write_bytes(path, key, json.dumps(stored, separators=(",", ":")).encode())


def read_groundtruth(path: Path, key: str) -> dict[str, str]:
    """What store_groundtruth wrote; {} when missing or damaged (recomputed, never trusted)."""
    payload = cache_entry.read_bytes(path, key, "ground-truth")
    if payload is None:
        return {}
    try:
        stored = json.loads(payload)
    except ValueError as exc:
        cache_entry.report_damage("ground-truth", path, f"cannot decode: {type(exc).__name__}")
        return {}
    if not (isinstance(stored, dict) and all(isinstance(v, str) for v in stored.values())):
        cache_entry.report_damage("ground-truth", path, "not task id → encoded ground truth")
        return {}
    return stored


class EvalPlusBenchmark(Benchmark):
    dataset_name: str  # "humaneval" | "mbpp": evalplus's name, selects its special oracles
    release: str
    release_files: list[str]
    min_time_limit = MIN_TIME_LIMIT
    gt_time_limit_factor = GT_TIME_LIMIT_FACTOR

    def _upstream_load(self, path: Path | None) -> tuple[dict, str, str]:
        raise NotImplementedError

    def load(self, data_dir: Path | None) -> Dataset:
        path = find_release_file(data_dir, self.release_files)
        problems, version, used_path = self._upstream_load(path)
        with open(used_path, "rb") as handle:
            digest = hashlib.md5(handle.read()).hexdigest()
        return Dataset(name=self.release, version=version, hash=digest, path=str(used_path), problems=problems)

    def prompt(self, problem: dict) -> str:
        return problem["prompt"].strip() + "\n"  # as evalplus.codegen gives it to the model

    def output_not_none(self, problem: dict) -> bool:
        return False

    def prepare(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> dict:
        """Ground truth for `task_ids`, from the cache or computed in the sandbox (only the missing tasks). The
        expected outputs stay here: check jobs carry inputs and limits only, verdicts are judged here.

        The cache file is one envelope (key + checksum, checked before anything is decoded) around task id →
        that task's ground truth as codec JSON text (sandboxes/guest/codec.py: loading it runs no code), so each task's
        digest is the hash of its stored text and only the tasks checked now are decoded."""
        key = text_digest(f"{dataset.hash}|{sandbox.machine_key()}")[:16]
        cache_file = cache_dir / "groundtruth" / f"{dataset.name}-{dataset.hash}-{key}.gt{GT_FORMAT}.json"
        stored = read_groundtruth(cache_file, key)
        oracle = _StoredOracle(stored)
        missing = [t for t in task_ids if t not in stored]
        if missing:
            payloads = []
            for task_id in missing:
                problem = dataset.problems[task_id]
                payloads.append({k: problem[k] for k in ("prompt", "canonical_solution", "entry_point",
                                                         "base_input", "plus_input")}
                                | {"output_not_none": self.output_not_none(problem)})
            # Each job runs in a process of its own (sandboxes/guest/worker.py): no candidate forked later by the
            # same worker inherits the canonical solution or its outputs.
            for index, result in sandbox.run("evalplus_groundtruth", payloads, [600.0] * len(payloads)):
                if result.error:
                    raise InfraError(f"ground truth of {missing[index]} failed in the sandbox: "
                                     f"{result.error} {result.detail.splitlines()[0] if result.detail else ''}")
                stored[missing[index]] = encode_task_groundtruth(result.value)
            store_groundtruth(cache_file, key, stored)
        self._gt_digests = {t: hashlib.sha256(stored[t].encode()).hexdigest() for t in task_ids}
        self._oracle = oracle
        return oracle

    def oracle_digest(self, oracle: dict, task_id: str) -> str:
        """The task's ground truth by content (expected outputs and times): part of its verdicts' cache key."""
        return self._gt_digests[task_id]

    def _time_limits(self, times: list[float]) -> list[float]:
        return [max(self.min_time_limit, self.gt_time_limit_factor * t) for t in times]

    def check_job(self, dataset: Dataset, oracle: dict, task_id: str, solution: str,
                  plus_count: int | None = None) -> CheckJob:
        """The full check; with `plus_count`, a screen: the base stage and the first `plus_count` plus inputs."""
        problem = dataset.problems[task_id]
        expected = oracle[task_id]
        limits = {split: self._time_limits(expected[f"{split}_time"]) for split in ("base", "plus")}
        plus_input, plus_time = problem["plus_input"], expected["plus_time"]
        if plus_count is not None:
            plus_input, plus_time, limits["plus"] = (plus_input[:plus_count], plus_time[:plus_count],
                                                     limits["plus"][:plus_count])
        # The wall-clock bound for the whole job: both of evalplus's stages with their own +3 s slack, + start-up.
        stages = sum(min(TIMEOUT_PER_STAGE, sum(limits[split])) + 3 for split in ("base", "plus"))
        payload = {"solution": solution, "entry_point": problem["entry_point"],
                   "base_input": problem["base_input"], "plus_input": plus_input,
                   "base_limits": limits["base"], "plus_limits": limits["plus"]}
        cost = sum(expected["base_time"]) + sum(plus_time)
        return CheckJob("evalplus_outputs", payload, timeout=stages + 5, cost=cost)

    def group_check_jobs(self, dataset: Dataset, oracle: dict, task_id: str, programs: list[str],
                         plus_count: int | None = None) -> list[tuple[list[str], CheckJob]]:
        """The programs of one task in `evalplus_outputs_many` jobs: inputs and limits sent once per job, each
        program run as `evalplus_outputs` runs it. A job's programs are capped so that their answers (about the
        size of the task's stored ground truth each) stay under GROUP_OUTPUT_BYTES: a task with huge outputs
        (HumanEval/130) gets one job per program."""
        jobs = [self.check_job(dataset, oracle, task_id, p) if plus_count is None else
                self.check_job(dataset, oracle, task_id, p, plus_count) for p in programs]
        size = len(oracle.stored[task_id]) if isinstance(oracle, _StoredOracle) else 0
        per_job = max(1, min(GROUP_MAX_PROGRAMS, GROUP_OUTPUT_BYTES // max(size, 1)))
        groups = []
        for start in range(0, len(jobs), per_job):
            chunk = jobs[start:start + per_job]
            if len(chunk) == 1:
                groups.append(([programs[start]], chunk[0]))
                continue
            shared = {k: v for k, v in chunk[0].payload.items() if k != "solution"}
            payload = {**shared, "solutions": [job.payload["solution"] for job in chunk]}
            groups.append((programs[start:start + per_job],
                           CheckJob("evalplus_outputs_many", payload, timeout=sum(j.timeout for j in chunk),
                                    cost=sum(j.cost for j in chunk))))
        return groups

    def screen_jobs(self, dataset: Dataset, oracle: dict, task_id: str,
                    programs: list[str]) -> list[tuple[list[str], CheckJob]] | None:
        """evalplus stops a stage at its first failing input (fast_check); we judge outside the sandbox, so a
        check runs every input of a wrong program. A screen first runs the base stage and the first tenth of the
        plus inputs: a program that fails there has its verdict (see `screened`), the others get the full check.
        Only where the plus stage is long enough for the screen to pay for itself."""
        count = len(dataset.problems[task_id]["plus_input"])
        if count < SCREEN_MIN_PLUS:
            return None
        return self.group_check_jobs(dataset, oracle, task_id, programs, max(1, count // SCREEN_FRACTION))

    def screened(self, dataset: Dataset, task_id: str, result: JobResult, count: int) -> list[JobResult | None]:
        """A screened program whose plus prefix fails (a wrong answer, a raise, a per-input time limit, an
        unreadable output, an exit) has its verdict: the full plus stage starts in a fresh child on the same
        inputs in the same order, so it fails at that same input with the same answers before it. Its result is
        marked `plus_prefix` (here, on the host: the sandbox's answer is never trusted to say so) so that `verdict`
        judges the plus stage against those inputs. A prefix that passes, or hits the stage deadline (the full
        stage's is longer), is None: only the full check decides it. The base stage is complete in a screen."""
        problem = dataset.problems[task_id]
        prefix = max(1, len(problem["plus_input"]) // SCREEN_FRACTION)
        judge = self.answer_judge(problem)
        settled: list[JobResult | None] = []
        for one in self.split_group_result(result, count) if count > 1 else [result]:
            status, _, _ = judge_stage(self.dataset_name, problem["entry_point"], problem["plus_input"][:prefix],
                                       self._oracle[task_id]["plus"], problem["atol"], one.value["plus"], judge)
            settled.append(JobResult(value={"base": one.value["base"], "plus": one.value["plus"],
                                            "plus_prefix": prefix}, seconds=one.seconds)
                           if status == "fail" else None)
        return settled

    def split_group_result(self, result: JobResult, count: int) -> list[JobResult]:
        values = result.value["results"]
        if len(values) != count:
            raise InfraError(f"a grouped check returned {len(values)} results for {count} programs")
        return [JobResult(value=value, seconds=result.seconds / count) for value in values]

    def verdict(self, dataset: Dataset, task_id: str, result: JobResult) -> Verdict:
        if result.error:  # the worker itself timed out, ran out of memory or broke: no test passed
            status = "timeout" if result.error == "timeout" else "fail"
            return Verdict(status, status, detail=result.error)
        problem = dataset.problems[task_id]
        expected = self._oracle[task_id]
        judge = self.answer_judge(problem)
        prefix = result.value.get("plus_prefix")  # a screen's settled result (see `screened`)
        # (MBPP+ holds `{}` as the plus inputs of a task that has none: only a screened list is cut)
        inputs = {"base": problem["base_input"],
                  "plus": problem["plus_input"] if prefix is None else problem["plus_input"][:prefix]}
        judged = {split: judge_stage(self.dataset_name, problem["entry_point"], inputs[split],
                                     expected[split], problem["atol"], result.value[split], judge)
                  for split in ("base", "plus")}
        (base_status, base_details, base_why), (plus_status, plus_details, plus_why) = judged["base"], judged["plus"]
        detail = base_status if base_status != "pass" else plus_status
        why = base_why if base_status != "pass" else plus_why
        split = "base" if base_status != "pass" else "plus"
        failure = first_failure(split, judged[split][1], inputs[split], expected[split], result.value[split],
                                judged[split][2]) if detail != "pass" else None
        return Verdict(
            base_status=base_status,
            plus_status=plus_status,
            base_fail_tests=self._failed_tests(task_id, base_status, base_details, problem["base_input"]),
            plus_fail_tests=self._failed_tests(task_id, plus_status, plus_details, problem["plus_input"]),
            detail=f"{detail}: {why}" if why and detail != "pass" else detail,
            failure=failure,
        )

    def tests_passed(self, dataset: Dataset, task_id: str, result: JobResult) -> int:
        """Inputs (base + plus) answered right by a check job run with `every_input` (GRPO's fraction reward)."""
        if result.error:
            return 0
        problem = dataset.problems[task_id]
        expected = self._oracle[task_id]
        judge = self.answer_judge(problem)
        return sum(count_passed(self.dataset_name, problem["entry_point"], problem[f"{split}_input"],
                                expected[split], problem["atol"], result.value[split], judge)
                   for split in ("base", "plus"))

    def answer_judge(self, problem: dict):
        """The per-answer judge (None: evalplus's `judge_answer`); QuixBugs judges observations instead."""
        return None

    def _failed_tests(self, task_id: str, status: str, details: list, inputs: list) -> list:
        # evalplus.evaluate's get_failed_tests with fast_check: only the last (failing) input is reported.
        if status == "pass" or not details:
            return []
        return self._serialize_inputs(task_id, [inputs[len(details) - 1]])

    def _serialize_inputs(self, task_id: str, inputs: list) -> list:
        return inputs

    def limits_key(self) -> dict[str, Any]:
        return {"min_time_limit": self.min_time_limit, "gt_time_limit_factor": self.gt_time_limit_factor,
                "judge": JUDGE}


class _StoredOracle(Mapping):
    """task id → ground truth, decoded from its stored bytes on first use: a fully cached evaluation only hashes
    the bytes (for the verdict keys) and decodes nothing."""

    def __init__(self, stored: dict[str, str]):
        self.stored, self.decoded = stored, {}

    def __getitem__(self, task_id: str) -> dict:
        if task_id not in self.decoded:
            self.decoded[task_id] = decode_task_groundtruth(self.stored[task_id])  # checksum verified on read
        return self.decoded[task_id]

    def __iter__(self):
        return iter(self.stored)

    def __len__(self) -> int:
        return len(self.stored)


@BENCHMARKS.register("humaneval")
class HumanEvalPlus(EvalPlusBenchmark):
    name = "humaneval"
    order = 10
    columns = {"humaneval": ("HumanEval", "HumanEval+")}
    dataset_name = "humaneval"
    release = "HumanEvalPlus"
    release_files = ["HumanEvalPlus-v0.1.10.jsonl", "HumanEvalPlus-v0.1.10.jsonl.gz"]

    def _upstream_load(self, path):
        import evalplus.data.humaneval as upstream

        # The loader reads its override from a module global captured at import time; set it for this call.
        saved = upstream.HUMANEVAL_OVERRIDE_PATH
        upstream.HUMANEVAL_OVERRIDE_PATH = str(path) if path else saved
        try:
            problems = upstream.get_human_eval_plus()
            used = upstream._ready_human_eval_plus_path()
        finally:
            upstream.HUMANEVAL_OVERRIDE_PATH = saved
        return problems, upstream.HUMANEVAL_PLUS_VERSION, used


@BENCHMARKS.register("mbpp")
class MbppPlus(EvalPlusBenchmark):
    name = "mbpp"
    order = 20
    columns = {"mbpp": ("MBPP", "MBPP+")}
    stop_strings = ('\n"""', "\nassert")
    dataset_name = "mbpp"
    release = "MbppPlus"
    release_files = ["MbppPlus-v0.2.0.jsonl", "MbppPlus-v0.2.0.jsonl.gz"]

    def _upstream_load(self, path):
        import evalplus.data.mbpp as upstream

        saved = upstream.MBPP_OVERRIDE_PATH
        upstream.MBPP_OVERRIDE_PATH = str(path) if path else saved
        try:
            problems = upstream.get_mbpp_plus()
            used = upstream._ready_mbpp_plus_path()
        finally:
            upstream.MBPP_OVERRIDE_PATH = saved
        return problems, upstream.MBPP_PLUS_VERSION, used

    def output_not_none(self, problem: dict) -> bool:
        from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS

        return problem["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS

    def _serialize_inputs(self, task_id: str, inputs: list) -> list:
        from evalplus.data.mbpp import mbpp_serialize_inputs

        return mbpp_serialize_inputs(task_id, inputs)

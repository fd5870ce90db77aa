"""HumanEval(+) and MBPP(+) through evalplus's own loaders and checking code.

Ground truth (expected outputs and per-input times of the canonical solutions) is computed inside the sandbox that
will run the samples, so the time limits `max(min_time_limit, factor × gt_time)` compare like with like, and it is
cached per dataset hash *and* machine/sandbox (evalplus keys it by dataset hash only: a cache made on a faster
machine silently tightens the limits, their issue #5).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import cache_entry
from harness.benchmarks.base import BENCHMARKS, Benchmark, CheckJob, Dataset, Verdict
from harness.core.data import find_release_file
from harness.core.errors import InfraError
from harness.core.hashing import text_digest
from sandboxes.base import JobResult, Sandbox

MIN_TIME_LIMIT = 1.0  # evalplus 0.3.1 DEFAULT_MIN_TIME_LIMIT
GT_TIME_LIMIT_FACTOR = 4.0  # evalplus 0.3.1 DEFAULT_GT_TIME_LIMIT_FACTOR
TIMEOUT_PER_STAGE = 60.0  # evalplus caps one untrusted_check at 60 s (EVALPLUS_TIMEOUT_PER_TASK)


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
        """Ground truth for `task_ids`, from the cache or computed in the sandbox (only the missing tasks).

        The cache file is one envelope (key + checksum, checked before anything is decoded) around task id →
        that task's encoded ground truth, so each task's digest is the hash of its stored bytes (exact, and cheap:
        no re-encoding of a 250 MB ground truth) and only the tasks checked now are decoded. The encoding is still
        pickle: issue 13 replaces it by a format that cannot run code on load."""
        key = text_digest(f"{dataset.hash}|{sandbox.machine_key()}")[:16]
        cache_file = cache_dir / "groundtruth" / f"{dataset.name}-{dataset.hash}-{key}.gt"
        stored = self._read_ground_truth(cache_file, key)
        oracle = _StoredOracle(stored)
        missing = [t for t in task_ids if t not in stored]
        if missing:
            payloads = []
            for task_id in missing:
                problem = dataset.problems[task_id]
                payloads.append({k: problem[k] for k in ("prompt", "canonical_solution", "entry_point",
                                                         "base_input", "plus_input")}
                                | {"output_not_none": self.output_not_none(problem)})
            for index, result in sandbox.run("evalplus_groundtruth", payloads, [600.0] * len(payloads)):
                if result.error:
                    raise InfraError(f"ground truth of {missing[index]} failed in the sandbox: "
                                     f"{result.error} {result.detail.splitlines()[0] if result.detail else ''}")
                stored[missing[index]] = pickle.dumps(result.value, protocol=pickle.HIGHEST_PROTOCOL)
            cache_entry.write_bytes(cache_file, key, pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL))
        self._gt_digests = {t: hashlib.sha256(stored[t]).hexdigest() for t in task_ids}
        return oracle

    @staticmethod
    def _read_ground_truth(cache_file: Path, key: str) -> dict[str, bytes]:
        payload = cache_entry.read_bytes(cache_file, key, "ground-truth")
        if payload is None:
            return {}
        try:
            stored = pickle.loads(payload)
        except Exception as exc:  # noqa: BLE001 - any failure to decode is damage: recompute
            cache_entry.report_damage("ground-truth", cache_file, f"cannot decode: {type(exc).__name__}")
            return {}
        if not (isinstance(stored, dict) and all(isinstance(v, bytes) for v in stored.values())):
            cache_entry.report_damage("ground-truth", cache_file, "not task id → encoded ground truth")
            return {}
        return stored

    def oracle_digest(self, oracle: dict, task_id: str) -> str:
        """The task's ground truth by content (expected outputs and times): part of its verdicts' cache key."""
        return self._gt_digests[task_id]

    def check_job(self, dataset: Dataset, oracle: dict, task_id: str, solution: str) -> CheckJob:
        problem = dataset.problems[task_id]
        expected = oracle[task_id]
        # The wall-clock bound for the whole job: both of evalplus's stages with their own +3 s slack, + start-up.
        stages = 0.0
        for split in ("base", "plus"):
            limits = [max(self.min_time_limit, self.gt_time_limit_factor * t) for t in expected[f"{split}_time"]]
            stages += min(TIMEOUT_PER_STAGE, sum(limits)) + 3
        payload = {
            "dataset": self.dataset_name, "solution": solution, "entry_point": problem["entry_point"],
            "base_input": problem["base_input"], "plus_input": problem["plus_input"], "atol": problem["atol"],
            "expected": expected, "min_time_limit": self.min_time_limit,
            "gt_time_limit_factor": self.gt_time_limit_factor,
        }
        cost = sum(expected["base_time"]) + sum(expected["plus_time"])
        return CheckJob("evalplus_check", payload, timeout=stages + 5, cost=cost)

    def verdict(self, dataset: Dataset, task_id: str, result: JobResult) -> Verdict:
        if result.error:  # the worker itself timed out, ran out of memory or broke: no test passed
            status = "timeout" if result.error == "timeout" else "fail"
            return Verdict(status, status, detail=result.error)
        problem = dataset.problems[task_id]
        (base_status, base_details), (plus_status, plus_details) = result.value["base"], result.value["plus"]
        return Verdict(
            base_status=base_status,
            plus_status=plus_status,
            base_fail_tests=self._failed_tests(task_id, base_status, base_details, problem["base_input"]),
            plus_fail_tests=self._failed_tests(task_id, plus_status, plus_details, problem["plus_input"]),
            detail=base_status if base_status != "pass" else plus_status,
        )

    def _failed_tests(self, task_id: str, status: str, details: list, inputs: list) -> list:
        # evalplus.evaluate's get_failed_tests with fast_check: only the last (failing) input is reported.
        if status == "pass" or not details:
            return []
        return self._serialize_inputs(task_id, [inputs[len(details) - 1]])

    def _serialize_inputs(self, task_id: str, inputs: list) -> list:
        return inputs

    def limits_key(self) -> dict[str, Any]:
        return {"min_time_limit": self.min_time_limit, "gt_time_limit_factor": self.gt_time_limit_factor}


class _StoredOracle(Mapping):
    """task id → ground truth, decoded from its stored bytes on first use: a fully cached evaluation only hashes
    the bytes (for the verdict keys) and decodes nothing."""

    def __init__(self, stored: dict[str, bytes]):
        self.stored, self.decoded = stored, {}

    def __getitem__(self, task_id: str) -> dict:
        if task_id not in self.decoded:
            self.decoded[task_id] = pickle.loads(self.stored[task_id])  # verified by the envelope's checksum
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

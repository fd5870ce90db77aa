"""BigCodeBench's ground-truth gate: the canonical solutions checked in the sandbox that runs the samples, cached
per dataset and sandbox as they come (an interrupted gate resumes), and one line per failing task saying why."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from harness.benchmarks.base import CheckJob, Dataset, GatePlan
from harness.core import cache_entry
from harness.core.hashing import json_digest
from sandboxes.base import Sandbox
from sandboxes.pool import JobResult

if TYPE_CHECKING:
    from harness.benchmarks.bigcodebench import BigCodeBench

TIMEOUT_LIMIT = 240.0  # bigcodebench.eval.utils.TIMEOUT_LIMIT
MIN_TIME_LIMIT = 1.0  # bigcodebench.evaluate default
GT_TIME_LIMIT = 20.0  # what upstream passes when it has no ground-truth time; the flat 240 s dominates anyway
EFFECTIVE_TIMEOUT = max(TIMEOUT_LIMIT, MIN_TIME_LIMIT, GT_TIME_LIMIT) + 1  # 241 s, as untrusted_check computes it
JOB_SLACK = 15.0  # untrusted_check joins its child for timeout + 1 s, plus the Manager process start-up
# Measured check times of the Hard canonical solutions: on a cold ground-truth cache they order the gate (longest
# first, as a test-durations file orders a test suite), so that BigCodeBench/461 (~164 s of sleeps) does not start
# halfway and end alone. Ordering only; a task missing from the file costs 0 (dataset order).
DURATIONS_FILE = Path(__file__).with_name("bigcodebench_hard_durations.json")
GT_SAVE_EVERY = 10  # ground-truth results are saved as they come, so an interrupted gate resumes
GT_FORMAT = 4  # of the ground-truth cache entries: {"status", "details", "error", "seconds"}; 3: calibrated program;
# 4: checked by sandboxes/guest/bigcodebench_runner.py


class GroundTruthRun(GatePlan):
    """The canonical solutions of `task_ids` that the cache lacks, as check jobs; results are cached as they come
    (every GT_SAVE_EVERY, and at the end), so that an interrupted gate resumes."""

    def __init__(self, benchmark: BigCodeBench, dataset: Dataset, task_ids: list[str], sandbox: Sandbox,
                 cache_dir: Path):
        key = json_digest({"dataset": dataset.hash, "sandbox": sandbox.machine_key(),
                           "limits": benchmark.limits_key(), "sandbox_limits": sandbox.describe().get("limits"),
                           "format": GT_FORMAT})[:16]
        self.cache_file = cache_dir / "groundtruth" / f"{dataset.name}-{dataset.hash}-{key}.json"
        self.key = key
        # enveloped (key + checksum): missing or damaged is recomputed, never trusted
        self.cached = cache_entry.read_json(self.cache_file, key, "ground-truth", validate=_gt_entries) or {}
        self.benchmark, self.task_ids = benchmark, task_ids
        self.jobs = {t: CheckJob("bigcodebench_check",
                                 benchmark._payload(dataset.problems[t], benchmark.canonical_program(
                                     dataset.problems[t])), timeout=EFFECTIVE_TIMEOUT + JOB_SLACK,
                                 cost=benchmark._gt_seconds.get(t, 0.0))
                     for t in task_ids if t not in self.cached}
        self._unsaved = 0
        benchmark._gt_seconds.update({t: entry["seconds"] for t, entry in self.cached.items()})

    def record(self, task_id: str, result: JobResult) -> None:
        self.cached[task_id] = _gt_entry(result)
        self.benchmark._gt_seconds[task_id] = self.cached[task_id]["seconds"]
        self._unsaved += 1
        if self._unsaved >= GT_SAVE_EVERY:
            self._save()

    def _save(self) -> None:
        cache_entry.write_json(self.cache_file, self.key, self.cached)
        self._unsaved = 0

    def ground_truth(self) -> dict:
        if self.jobs:
            self._save()
        return {t: {**self.cached[t], "reason": _reason(self.cached[t])} for t in self.task_ids}

    def finish(self) -> dict[str, str]:
        ground_truth = self.ground_truth()
        return {t: ground_truth[t]["reason"] for t in self.task_ids if ground_truth[t]["status"] != "pass"}


@functools.cache
def measured_durations() -> dict[str, float]:
    try:
        return json.loads(DURATIONS_FILE.read_text())["seconds"]
    except (OSError, ValueError, KeyError):  # a damaged hints file costs ordering, nothing else
        return {}


def _gt_entries(value) -> dict:
    if not isinstance(value, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("status"), str)
            and isinstance(e.get("seconds"), (int, float)) for e in value.values()):
        raise ValueError("not ground-truth entries")
    return value


def _gt_entry(result: JobResult) -> dict:
    """What the ground-truth cache keeps of one canonical solution's check (the reason is derived from it)."""
    if result.error:
        return {"status": "timeout" if result.error == "timeout" else "fail", "details": {},
                "error": f"{result.error}: {result.detail}"[:_TRACE_CHARS], "seconds": round(result.seconds, 3)}
    return {"status": result.value["status"], "details": result.value["details"], "error": None,
            "seconds": round(result.seconds, 3)}


def _reason(entry: dict) -> str:
    """One line saying why a canonical solution failed (empty when it passed)."""
    status, details, seconds = entry["status"], entry["details"], entry["seconds"]
    if status == "pass":
        return ""
    if entry.get("error"):
        kind, _, detail = entry["error"].partition(": ")
        if kind == "timeout":
            return f"timeout (over {EFFECTIVE_TIMEOUT:.0f} s)"
        return "out of memory" if kind == "oom" else f"{kind}: {_exception_line(detail)}"
    if status == "timeout" and seconds < EFFECTIVE_TIMEOUT:
        # untrusted_check reports "timeout" also when its child died before reporting a status
        return f"no result from the check's child after {seconds:.1f} s (upstream counts it as timeout)"
    if status == "timeout":
        return f"timeout (over {EFFECTIVE_TIMEOUT:.0f} s)"
    reason = "; ".join(f"{name}: {_exception_line(trace)}" for name, trace in sorted(details.items())[:3])
    if len(details) > 3:
        reason += f"; and {len(details) - 3} more failing test(s)"
    return reason or status


_TRACE_CHARS = 4000
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # NLTK colours the resource name in its LookupError
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Timeout)\b")


def _exception_line(trace: str) -> str:
    """The exception line of a traceback; an assertion's diff after it is skipped, and an empty message (NLTK's
    LookupError starts with a line of stars) is completed with its first line of words."""
    lines = [line.strip() for line in _ANSI.sub("", trace).strip().splitlines() if line.strip()]
    worded = [i for i, line in enumerate(lines) if any(c.isalpha() for c in line)]
    exceptions = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    if not exceptions:  # a bare message (upstream's "ALL" entry holds str(exception))
        return lines[worded[0]][:300] if worded else "no detail"
    line = lines[exceptions[-1]]
    if line.endswith(":"):
        after = [i for i in worded if i > exceptions[-1]]
        line = f"{line} {lines[after[0]]}" if after else line
    return line[:300]


def gt_report(ground_truth: dict) -> dict:
    """{"gt_pass_rate", "failed_tasks": {task_id: reason}} of a ground_truth() result."""
    failed = {t: e["reason"] for t, e in ground_truth.items() if e["status"] != "pass"}
    return {"gt_pass_rate": 1 - len(failed) / len(ground_truth) if ground_truth else 0.0, "tasks": len(ground_truth),
            "failed_tasks": failed}


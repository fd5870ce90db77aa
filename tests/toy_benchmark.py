"""A toy benchmark in one module: everything fgit-bench needs to know about it is declared here, on its class.

The tests register it through an entry point (group `fgit_bench.benchmarks`, see tests/entry_points.py) and use it
in `generate`, `evaluate`, `run` and the leaderboard, with no other file of the project changed. Its checks reuse
the sandbox's generic `run_snippet_tests` job (the code, then its asserts, in a forked child).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.benchmarks.base import Benchmark, CheckJob, Dataset, Verdict
from sandboxes.base import Sandbox
from sandboxes.pool import JobResult

PROBLEMS = {
    "Toy/0": {"prompt": 'def add(a, b):\n    """Return the sum of the two numbers a and b."""\n',
              "canonical_solution": "    return a + b\n", "entry_point": "add",
              "test": "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"},
    "Toy/1": {"prompt": 'def double(x):\n    """Return twice the number x, for any integer."""\n',
              "canonical_solution": "    return 2 * x\n", "entry_point": "double",
              "test": "assert double(4) == 8\nassert double(0) == 0\n"},
    "Toy/2": {"prompt": 'def shout(text):\n    """Return the text in upper case letters only."""\n',
              "canonical_solution": "    return text.upper()\n", "entry_point": "shout",
              "test": "assert shout('hi') == 'HI'\n"},
}


class ToyBenchmark(Benchmark):
    name = "toy"
    has_plus = False
    order = 90
    columns = {"toy": ("Toy",)}  # one leaderboard column, base tests only
    stop_strings = ("\ndef ", "\n# end")
    release_files = ["Toy-v1.jsonl"]  # optional: a data dir may hold another release

    def load(self, data_dir: Path | None) -> Dataset:
        path = self.release_path(data_dir)
        if path is not None:
            problems = {row["task_id"]: row for row in map(json.loads, filter(str.strip, path.read_text(encoding="utf-8").split("\n"))) if row}
            text, where = path.read_text(), str(path)
        else:
            problems = {task_id: {"task_id": task_id, **problem} for task_id, problem in PROBLEMS.items()}
            text, where = json.dumps(problems, sort_keys=True), __file__
        return Dataset("Toy", "1", hashlib.md5(text.encode()).hexdigest(), where, problems)

    def prompt(self, problem: dict) -> str:
        return problem["prompt"]

    def prepare(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> None:
        return None  # asserts need no ground truth

    def check_job(self, dataset: Dataset, oracle, task_id: str, solution: str) -> CheckJob:
        return CheckJob("run_snippet_tests", {"code": solution, "tests": dataset.problems[task_id]["test"],
                                              "timeout": 10.0}, timeout=30.0)

    def verdict(self, dataset: Dataset, task_id: str, result: JobResult) -> Verdict:
        if result.error:
            return Verdict("fail", None, detail=result.error)
        return Verdict(result.value["status"], None, detail=str(result.value.get("detail", "")))

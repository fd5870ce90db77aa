"""QuixBugs (Python, 40 one-line bugs; OctoPack's JSONL release): program repair, scored two ways per task.

- `exact_match`: the fixed program equals the reference fix after normalising whitespace, blank lines and comments
  (`repair_match`); `line_exact_match`: the line(s) the reference changed are fixed exactly so, wherever else the
  candidate differs. Neither needs a sandbox.
- `plausible`: the program passes the task's tests, run as evalplus does it (differential testing, in the sandbox):
  the release's assert scripts become cases whose observations are compared with the reference program's
  (`quixbugs_cases`), through the same `evalplus_groundtruth` / `evalplus_outputs` jobs as HumanEval+ and MBPP+;
  the cases send back values and every assert's comparison is made outside the sandbox (`quixbugs_judge`).

Everything the rest of the harness needs to know about QuixBugs is declared on the class below.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.benchmarks.base import BENCHMARKS, Dataset, Verdict, is_multi_sample, task_counts
from harness.benchmarks.evalplus_tasks import EvalPlusBenchmark
from harness.benchmarks.quixbugs_cases import ENTRY_POINT, build_cases, program_with_cases
from harness.benchmarks.repair_match import exact_match, line_match
from harness.core import passk
from harness.core.atomic import jsonl_lines
from harness.core.data import find_release_file
from harness.core.errors import BadInput
from sandboxes.pool import JobResult

RELEASE_FILE = "QuixBugs-python.jsonl"
RELEASE_SHA256 = "7322b63b31c2e20c7e05b97ef05e674e30eed5601df5cce7545a1a77031bf4d3"  # ../shared/data/SOURCES.md
TASK_PREFIX = "QuixBugs/"
CASES_FORMAT = 2  # of the cases harness, in the ground-truth and verdict keys (2: values judged outside, issue 27)


@BENCHMARKS.register("quixbugs")
class QuixBugs(EvalPlusBenchmark):
    name = "quixbugs"
    dataset_name = "quixbugs"  # evalplus's dataset argument: no special oracles apply
    release = "QuixBugs-python"
    release_files = [RELEASE_FILE]
    has_plus = False  # one test suite per task
    # Generation facts. The model's answer is the whole fixed program, not a continuation of the prompt.
    answer_is_program = True
    # it answers with a whole fixed program (imports, several definitions), so no "\ndef " stop: it ends where a
    # model starts another buggy/fixed pair or tests
    stop_strings = ("\n# Buggy program", "\n# Fixed program", "\nassert ")
    instruction_prefix = ("Fix the bug in the following Python program (the bug is on one line). "
                          "Give the whole fixed program in a markdown code block:")
    response_prefix = "Below is the fixed Python program:"
    # results.jsonl columns beyond base_pass (= plausible), and their leaderboard metric names
    metric_fields = {"exact_match": "QuixBugs-exact", "plausible": "QuixBugs-plausible"}
    order = 40  # leaderboard: after the paper's benchmarks
    in_default_run = False  # a run lists it explicitly
    decontaminate_by_default = False  # its 40 programs are what repair training sets hold: checked when listed

    def decontamination_texts(self, dataset: Dataset) -> list[tuple[str, str, str]]:
        """The buggy and the fixed program of every task, and its docstring's prose."""
        from harness.benchmarks.texts import docstring_prose

        texts = []
        for task_id, task in dataset.problems.items():
            texts += [(task_id, "buggy_program", task["buggy_program"]), (task_id, "canonical_solution", task["reference"]),
                      (task_id, "description", docstring_prose(task["docstring"]))]
        return texts

    def load(self, data_dir: Path | None) -> Dataset:
        path = find_release_file(data_dir, self.release_files)
        if path is None:
            raise BadInput(f"QuixBugs release file {RELEASE_FILE} not found: put it in --data-dir")
        raw = path.read_bytes()
        problems = {}
        for number, line in enumerate(jsonl_lines(raw.decode("utf-8")), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}:{number}: not a JSON line ({exc.msg})") from None
            if not isinstance(row, dict):
                raise BadInput(f"{path}:{number}: expected a JSON object")
            problem = self._problem(row, f"{path}:{number}")
            problems[problem["task_id"]] = problem
        version = "octopack-79d1f65" if hashlib.sha256(raw).hexdigest() == RELEASE_SHA256 else "unknown"
        return Dataset(name=self.release, version=version, hash=hashlib.md5(raw).hexdigest(), path=str(path),
                       problems=problems)

    def _problem(self, row: dict, where: str) -> dict:
        missing = [k for k in ("name", "buggy_program", "docstring", "solution", "tests") if k not in row]
        if missing:
            raise BadInput(f"{where}: QuixBugs row lacks {', '.join(missing)}")
        try:
            harness, cases, formulas = build_cases(row["tests"])
        except (SyntaxError, ValueError) as exc:
            raise BadInput(f"{where}: QuixBugs tests of {row['name']} cannot be turned into cases: {exc}") from None
        return {
            "task_id": TASK_PREFIX + row["name"], "entry_point": row["name"], "prompt": self._task_text(row),
            "buggy_program": row["buggy_program"], "docstring": row["docstring"],
            "reference": row["solution"], "tests": row["tests"],
            # evalplus-style fields: the reference with the cases appended is the canonical solution
            "canonical_solution": program_with_cases(row["solution"], harness), "cases": harness,
            "assert_formulas": formulas,
            "base_input": [[i] for i in range(cases)], "plus_input": [], "atol": 0,
        }

    @staticmethod
    def _task_text(row: dict) -> str:
        """The buggy program with its docstring, then the cue for a direct completion to write the fixed one."""
        return f"# Buggy program\n{row['docstring'].strip()}\n{row['buggy_program'].strip()}\n\n# Fixed program\n"

    def prompt(self, problem: dict) -> str:
        return problem["prompt"]

    def postprocess(self, sample: dict, problem: dict) -> str:
        """The program itself: `solution`, else `completion` (the answer is the whole program, not a suffix)."""
        if sample.get("solution") is not None:
            return sample["solution"]
        return sample.get("completion") or ""

    def prepare(self, dataset: Dataset, task_ids: list[str], sandbox, cache_dir: Path) -> dict:
        # evalplus's ground truth runs `prompt + canonical_solution`; ours is whole in canonical_solution
        view = Dataset(dataset.name, dataset.version, f"{dataset.hash}-cases{CASES_FORMAT}", dataset.path,
                       {t: {**dataset.problems[t], "prompt": "", "entry_point": ENTRY_POINT}
                        for t in task_ids})
        return super().prepare(view, task_ids, sandbox, cache_dir)

    def check_job(self, dataset: Dataset, oracle: dict, task_id: str, solution: str):
        problem = dataset.problems[task_id]
        program = program_with_cases(solution, problem["cases"])
        view = Dataset(dataset.name, dataset.version, dataset.hash, dataset.path,
                       {task_id: {**problem, "entry_point": ENTRY_POINT}})
        return super().check_job(view, oracle, task_id, program)

    def verdict(self, dataset: Dataset, task_id: str, result: JobResult) -> Verdict:
        full = super().verdict(dataset, task_id, result)
        return Verdict(full.base_status, None, base_fail_tests=full.base_fail_tests, detail=full.base_status
                       if full.base_status != "pass" else "", failure=full.failure)

    def answer_judge(self, problem: dict):
        """Observations judged outside, every comparison on decoded data (quixbugs_judge)."""
        from harness.benchmarks.quixbugs_judge import answer_judge

        return answer_judge(problem["assert_formulas"])

    def limits_key(self) -> dict:
        return {**super().limits_key(), "cases_format": CASES_FORMAT}

    # --- scores -------------------------------------------------------------------------------------------------
    def row_fields(self, problem: dict, solution: str, verdict: Verdict) -> dict:
        """The per-task repair scores (results.jsonl and eval_results.json)."""
        return {"exact_match": exact_match(solution, problem["reference"]),
                "line_exact_match": line_match(solution, problem["reference"], problem["buggy_program"]),
                "plausible": verdict.base_status == "pass"}

    def pass_at_k(self, rows: list[dict]) -> dict:
        scored = [r for r in rows if not r["excluded"]]
        if is_multi_sample(rows):  # the same estimator for each repair metric: plausible@k, exact@k, line_exact@k
            totals = task_counts(scored, lambda r: True)
            at_k = {key: passk.pass_at_k(totals, task_counts(scored, lambda r, key=key: r.get(key)),
                                         tuple(sorted((*passk.UPSTREAM_KS, *passk.OWN_KS))))
                    for key in ("exact_match", "line_exact_match", "plausible")}
            names = {"exact_match": "exact", "line_exact_match": "line_exact", "plausible": "plausible"}
            return {"base": passk.pass_at_k(totals, task_counts(scored, lambda r: r["base_pass"])),
                    "repair": {key: at_k[key].get("pass@1", 0.0) for key in at_k},
                    "repair_at_k": {f"{names[key]}@{k[5:]}": v for key in at_k for k, v in at_k[key].items()},
                    "tasks": len(totals), "samples": sum(totals)}
        n = max(len(scored), 1)
        rate = {key: sum(bool(r.get(key)) for r in scored) / n
                for key in ("exact_match", "line_exact_match", "plausible")}
        return {"base": {"pass@1": rate["plausible"]}, "repair": rate, "tasks": len(scored)}

    def score_lines(self, pass_at_k: dict, n: int) -> list[str]:
        repair = pass_at_k["repair"]
        return [f"  {self.name} {key:<16} {repair[key]:.3f}  ({round(repair[key] * n)}/{n})"
                for key in ("exact_match", "line_exact_match", "plausible")]

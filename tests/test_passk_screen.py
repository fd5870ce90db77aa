"""Screening (harness/checks.py, EvalPlusBenchmark.screen_jobs): a program that fails in the base stage or in the
first tenth of the plus inputs keeps the verdict the full check gives it, detail and failing input included.
The reference is the same evaluation with screening switched off (every program's full check), not the code under
test: each program below fails in another way, early (settled by the screen) or late (past the screen's prefix:
the full check must run)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_jsonl, write_jsonl

TASK = "HumanEval/0"  # 7 base inputs, 999 plus: a screen runs the base stage and plus inputs 0-98


@pytest.fixture(scope="module")
def problems(shared_data):
    return {p["task_id"]: p for p in read_jsonl(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz")}


def after(problem: dict, calls: int, action: str) -> str:
    """The canonical solution, doing `action` from its (calls + 1)-th call in a stage. Each stage runs in a fresh
    child: with calls >= 7 the base stage (7 inputs) is right and the plus stage goes wrong at input `calls`."""
    return problem["prompt"] + problem["canonical_solution"] + f"""
_right = has_close_elements
_calls = [0]


def has_close_elements(numbers, threshold):
    _calls[0] += 1
    if _calls[0] > {calls}:
        {action}
    return _right(numbers, threshold)
"""


def programs(problem: dict) -> dict[str, str]:
    canon = problem["prompt"] + problem["canonical_solution"]
    return {
        "right": canon,
        "wrong everywhere": problem["prompt"] + "    return False\n",
        "wrong from plus input 10": after(problem, 10, "return not _right(numbers, threshold)"),
        "raises from plus input 20": after(problem, 20, "raise ValueError('no')"),
        "time limit at plus input 30": after(problem, 30, "import time; time.sleep(30)"),
        "exits at plus input 40": after(problem, 40, "import os; os._exit(3)"),
        "wrong from plus input 150 (past the screen)": after(problem, 150, "return not _right(numbers, threshold)"),
        "raises from plus input 500 (past the screen)": after(problem, 500, "raise KeyError('late')"),
        "does not define the function": "x = 1\n",
    }


def evaluate_once(tmp_path, name: str, rows: list[dict], monkeypatch, screen: bool, original_put):
    from harness.benchmarks import evalplus_tasks
    from harness.evaluation import EvaluateConfig, evaluate
    from sandboxes.pool import JobFeed

    submitted = []

    def spy(self, key, function, payload, timeout, priority=0.0):
        if "solution" in payload or "solutions" in payload:  # checks, not ground-truth jobs
            submitted.append(payload)
        return original_put(self, key, function, payload, timeout, priority)

    monkeypatch.setattr(JobFeed, "put", spy)  # each call's spy wraps the class's own put, not the last spy
    monkeypatch.setattr(evalplus_tasks, "SCREEN_MIN_PLUS", 40 if screen else 10**9)
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / f"cache-{name}"))  # no verdict shared between the two
    samples = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(tmp_path / name),
                            sandbox="process", jobs=2), quiet=True)
    results = json.loads((tmp_path / name / "eval_results.json").read_text())["eval"][TASK]
    table = read_jsonl(tmp_path / name / "results.jsonl")
    timing = ("seconds", "cached", "cache_key", "elapsed")
    return results, [{k: v for k, v in r.items() if not any(t in k for t in timing)} for r in table], submitted


def test_screened_verdicts_equal_full_checks(tmp_path, problems, monkeypatch):
    problem = problems[TASK]
    named = programs(problem)
    from sandboxes.pool import JobFeed

    rows = [{"task_id": TASK, "solution": text} for text in named.values()]
    put = JobFeed.put
    screened, screened_rows, jobs = evaluate_once(tmp_path, "screened", rows, monkeypatch, True, put)
    full, full_rows, _ = evaluate_once(tmp_path, "full", rows, monkeypatch, False, put)

    for name, a, b in zip(named, screened, full, strict=True):
        assert {k: a[k] for k in ("base_status", "plus_status", "base_fail_tests", "plus_fail_tests")} == \
            {k: b[k] for k in ("base_status", "plus_status", "base_fail_tests", "plus_fail_tests")}, name
    assert screened_rows == full_rows
    # the reference's verdicts are what each program was written to get
    statuses = {name: (e["base_status"], e["plus_status"]) for name, e in zip(named, full, strict=True)}
    assert statuses["right"] == ("pass", "pass")
    assert statuses["wrong everywhere"] == ("fail", "fail")
    assert all(statuses[name] == ("pass", "fail") for name in named if "plus input" in name), statuses
    details = dict(zip(named, (r["detail"] for r in full_rows), strict=True))
    assert "input 150" in details["wrong from plus input 150 (past the screen)"], details
    assert "time limit exceeded on input 30" in details["time limit at plus input 30"], details

    # the screen settled the early failures: only the right program and the two late failures got a full check
    plus_total = len(problem["plus_input"])
    full_checked = [p for p in jobs if len(p["plus_input"]) == plus_total]
    checked_in_full = [s for p in full_checked for s in (p.get("solutions") or [p["solution"]])]
    assert sorted(checked_in_full) == sorted([named["right"], named["wrong from plus input 150 (past the screen)"],
                                              named["raises from plus input 500 (past the screen)"]])
    assert all(len(p["plus_input"]) in (plus_total, plus_total // 10) for p in jobs)


def screen_aware(problem: dict, in_screen: str, in_full: str) -> str:
    """A program that finds out whether it is being screened (the length of the input list in its caller's frame:
    99 plus inputs in a screen, 7 base and 999 plus otherwise) and answers `in_screen` or `in_full` ("right" or
    "wrong") accordingly."""
    answer = {"right": "_right(numbers, threshold)", "wrong": "not _right(numbers, threshold)"}
    return problem["prompt"] + problem["canonical_solution"] + f"""
import sys
_right = has_close_elements


def has_close_elements(numbers, threshold):
    frame = sys._getframe(1)
    while frame is not None and "inputs" not in frame.f_locals:
        frame = frame.f_back
    screened = frame is not None and len(frame.f_locals["inputs"]) == 99
    return ({answer[in_screen]}) if screened else ({answer[in_full]})
"""


def test_a_program_that_knows_it_is_screened_gains_nothing(tmp_path, problems, monkeypatch):
    """An attack on the screen: the screen only ever settles failures, so behaving well there and badly in the full
    stage is failed by the full check, and failing on purpose there is a failure (a divergence from evalplus, which
    has no screen, only for programs that inspect their caller; never a pass)."""
    from sandboxes.pool import JobFeed

    problem = problems[TASK]
    rows = [{"task_id": TASK, "solution": screen_aware(problem, "right", "wrong")},
            {"task_id": TASK, "solution": screen_aware(problem, "wrong", "right")}]
    results, _, _ = evaluate_once(tmp_path, "aware", rows, monkeypatch, True, JobFeed.put)
    # right only in the screen: wrong in the base stage and in the full plus stage; wrong only in the screen: its
    # base stage passes and the screen settles plus as failed (evalplus would pass it: it has no screen to detect)
    assert [(e["base_status"], e["plus_status"]) for e in results] == [("fail", "fail"), ("pass", "fail")], results

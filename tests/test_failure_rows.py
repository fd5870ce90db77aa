"""The first failing input kept in the results rows (issue 30): programs that are right on every input but one that
the test chooses, evaluated by `fgit-bench evaluate` in the process sandbox; each row's `failure` must name that
input, with the expected output computed here by running the canonical solution, and the program's actual output."""

from __future__ import annotations

import pytest

from tests.conftest import read_jsonl, run_cli, write_jsonl


@pytest.fixture(scope="module")
def problems(shared_data):
    return {p["task_id"]: p for p in read_jsonl(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz")}


def canonical_output(problem: dict, args: list):
    scope: dict = {}
    exec(problem["prompt"] + problem["canonical_solution"], scope)  # noqa: S102  (the benchmark's own solution)
    return scope[problem["entry_point"]](*args)


def wrong_on(problem: dict, args: list, body: str) -> str:
    """The canonical program, except that the call with exactly `args` runs `body` (with `right` the right
    answer) instead."""
    name = problem["entry_point"]
    return (problem["prompt"] + problem["canonical_solution"] + f"\n\n_right = {name}\n\n"
            f"def {name}(*args):\n    right = _right(*args)\n    if list(args) == {args!r}:\n        {body}\n"
            "    return right\n")


def test_failure_is_the_input_the_judge_failed_on(tmp_path, problems):
    he0, he2, he4 = problems["HumanEval/0"], problems["HumanEval/2"], problems["HumanEval/4"]
    base_arg, plus_arg, raise_arg = he0["base_input"][3], he2["plus_input"][7], he4["base_input"][2]
    samples = write_jsonl(tmp_path / "s.jsonl", [
        {"task_id": "HumanEval/0", "solution": wrong_on(he0, base_arg, "return not right")},
        {"task_id": "HumanEval/2", "solution": wrong_on(he2, plus_arg, "return right + 1.0")},
        {"task_id": "HumanEval/4", "solution": wrong_on(he4, raise_arg, "raise ZeroDivisionError('planted')")},
        {"task_id": "HumanEval/7", "solution": problems["HumanEval/7"]["prompt"]
         + problems["HumanEval/7"]["canonical_solution"]},
    ])
    out = tmp_path / "out"
    proc = run_cli("evaluate", "--benchmark", "humaneval", "--samples", str(samples), "--output", str(out),
                   "--sandbox", "process", "--jobs", "2", env={"FGIT_BENCH_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["task_id"]: r for r in read_jsonl(out / "results.jsonl")}

    failure = rows["HumanEval/0"]["failure"]
    right = canonical_output(he0, base_arg)
    assert (failure["split"], failure["index"]) == ("base", 3)
    assert failure["input"] == repr(base_arg)
    assert failure["expected"] == repr(right) and failure["actual"] == repr(not right)
    assert rows["HumanEval/0"]["base_status"] == "fail"

    failure = rows["HumanEval/2"]["failure"]  # base passes, the plus input fails
    right = canonical_output(he2, plus_arg)
    assert rows["HumanEval/2"]["base_pass"] is True and rows["HumanEval/2"]["plus_pass"] is False
    assert (failure["split"], failure["index"]) == ("plus", 7)
    assert failure["input"] == repr(plus_arg)
    assert failure["expected"] == repr(right) and failure["actual"] == repr(right + 1.0)

    failure = rows["HumanEval/4"]["failure"]  # no answer came back: the raise, in words
    assert (failure["split"], failure["index"]) == ("base", 2) and failure["input"] == repr(raise_arg)
    assert failure["expected"] == repr(canonical_output(he4, raise_arg))
    assert "ZeroDivisionError" in failure["actual"] and "input 2" in failure["actual"]

    assert "failure" not in rows["HumanEval/7"]  # a passing program has none


def test_capped():
    from harness.benchmarks.failure import CAP, show

    shown = show(list(range(10_000)))
    assert len(shown) < CAP + 100 and shown.startswith("[0, 1, 2") and f"{len(repr(list(range(10_000))))}" in shown


def test_outputs_built_to_break_the_judge_fail_with_the_reason(tmp_path, problems):
    """Two programs that try to break the check and the failure row: a list nested 100,000 deep (the encoder's depth
    limit, not a RecursionError in the judge) and a float subclass equal to everything whose repr raises SystemExit
    (a value the guest cannot encode as data: never compared, never shown by calling its repr)."""
    he0, he2 = problems["HumanEval/0"], problems["HumanEval/2"]
    deep = ("def has_close_elements(numbers, threshold):\n    out = []\n    for _ in range(100_000):\n"
            "        out = [out]\n    return out\n")
    evil = ("class Anything(float):\n    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
            "    def __repr__(self):\n        raise SystemExit(0)\n    __str__ = __repr__\n\n"
            "def truncate_number(number):\n    return Anything(0.5)\n")
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "solution": deep},
                                                 {"task_id": "HumanEval/2", "solution": evil}])
    out = tmp_path / "out"
    proc = run_cli("evaluate", "--benchmark", "humaneval", "--samples", str(samples), "--output", str(out),
                   "--sandbox", "process", "--jobs", "2", env={"FGIT_BENCH_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["task_id"]: r for r in read_jsonl(out / "results.jsonl")}
    assert rows["HumanEval/0"]["base_status"] == "fail" and rows["HumanEval/2"]["base_status"] == "fail"
    assert (rows["HumanEval/0"]["failure"]["split"], rows["HumanEval/0"]["failure"]["index"]) == ("base", 0)
    assert "too large or too deep" in rows["HumanEval/0"]["failure"]["actual"], rows["HumanEval/0"]["failure"]
    assert rows["HumanEval/0"]["failure"]["expected"] == repr(canonical_output(he0, he0["base_input"][0]))
    failure = rows["HumanEval/2"]["failure"]  # shown by its type's name, never by calling its repr
    assert failure["why"] == "output of type builtins.Anything cannot be checked", failure
    assert failure["actual"] == "<builtins.Anything object>"
    assert rows["HumanEval/2"]["failure"]["expected"] == repr(canonical_output(he2, he2["base_input"][0]))

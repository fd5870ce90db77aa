"""`fgit-bench evaluate` through the real console entry point: bad input, subsets, resume, overwrite."""

from __future__ import annotations

import json

import pytest

from tests.conftest import read_jsonl, run_cli, write_jsonl

TASKS = ["HumanEval/0", "HumanEval/2", "HumanEval/4"]


@pytest.fixture(scope="module")
def problems(shared_data):
    return {p["task_id"]: p for p in read_jsonl(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz")}


def canonical(problems, task_ids):
    return [{"task_id": t, "solution": problems[t]["prompt"] + problems[t]["canonical_solution"]} for t in task_ids]


def evaluate(samples, output, *extra):
    # each output dir gets its own verdict cache, so one test's verdicts never count as another's cache hits
    cache = str(output.parent / "verdict-cache")
    return run_cli("evaluate", "--benchmark", "humaneval", "--samples", str(samples), "--output", str(output),
                   "--sandbox", "process", "--jobs", "2", *extra,
                   env={"FGIT_BENCH_CACHE": cache})


def assert_bad_input(proc, fragment, output):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not output.exists(), "nothing may be written on bad input"


def test_subset_scores_and_schema(tmp_path, problems):
    rows = canonical(problems, TASKS)
    rows.append({"task_id": "HumanEval/7", "completion": "    return []\n"})  # wrong: a failing sample
    rows.append({"task_id": "HumanEval/9", "solution": ""})  # empty solution = a failing sample
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    proc = evaluate(samples, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "pass@1: 0.600" in proc.stdout
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert results["hash"] == "fe585eb4df8c88d844eeb463ea4d0302"
    assert set(results["eval"]) == {*TASKS, "HumanEval/7", "HumanEval/9"}
    row = results["eval"]["HumanEval/7"][0]
    assert set(row) == {"task_id", "solution", "base_status", "plus_status", "base_fail_tests", "plus_fail_tests"}
    assert row["base_status"] == "fail" and row["base_fail_tests"], row
    assert row["solution"] == problems["HumanEval/7"]["prompt"] + "    return []\n"
    assert results["eval"]["HumanEval/9"][0]["base_status"] == "fail"
    assert results["pass_at_k"]["base"]["pass@1"] == pytest.approx(3 / 5)
    assert results["pass_at_k"]["plus"]["pass@1"] == pytest.approx(3 / 5)
    prov = results["provenance"]
    assert prov["dataset"]["version"] == "v0.1.10" and prov["sandbox"]["backend"] == "process"
    assert prov["versions"]["evalplus"] == "0.3.1"
    table = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert [r["task_id"] for r in table] == ["HumanEval/0", "HumanEval/2", "HumanEval/4", "HumanEval/7",
                                             "HumanEval/9"]
    assert [r["plus_pass"] for r in table] == [True, True, True, False, False]


def test_tasks_and_limit_select_a_subset(tmp_path, problems):
    samples = write_jsonl(tmp_path / "s.jsonl", canonical(problems, TASKS))
    proc = evaluate(samples, tmp_path / "out", "--tasks", "HumanEval/4,HumanEval/0")
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads((tmp_path / "out" / "eval_results.json").read_text())["eval"]) == {"HumanEval/0",
                                                                                              "HumanEval/4"}
    proc = evaluate(samples, tmp_path / "out2", "--limit", "1")
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads((tmp_path / "out2" / "eval_results.json").read_text())["eval"]) == ["HumanEval/0"]


def test_rerun_reuses_results_and_overwrite_recomputes(tmp_path, problems):
    samples = write_jsonl(tmp_path / "s.jsonl", canonical(problems, TASKS))
    first = evaluate(samples, tmp_path / "out")
    assert first.returncode == 0 and "3 checked now, 0 from cache" in first.stdout, first.stdout
    again = evaluate(samples, tmp_path / "out")
    assert again.returncode == 0 and "0 checked now, 3 from cache" in again.stdout, again.stdout
    # one changed sample: only that one is checked again
    rows = canonical(problems, TASKS)
    rows[1]["solution"] += "\n# changed\n"
    write_jsonl(samples, rows)
    changed = evaluate(samples, tmp_path / "out")
    assert "1 checked now, 2 from cache" in changed.stdout, changed.stdout
    forced = evaluate(samples, tmp_path / "out", "--overwrite")
    assert "3 checked now, 0 from cache" in forced.stdout, forced.stdout


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b'{"task_id": "HumanEval/0", "solution": "x"}\nnot json\n', "not a JSON line"),
        (b'{"solution": "def f(): pass"}\n', "no task_id"),
        (b'{"task_id": "HumanEval/99999", "solution": "x"}\n', "unknown task_id"),
        (b'{"task_id": "HumanEval/0", "solution": "\xff\xfe"}\n', "not UTF-8"),
        (b"", "no samples"),
    ],
    ids=["non-jsonl", "no-task-id", "unknown-task", "non-utf8", "empty"],
)
def test_bad_samples_exit_2(tmp_path, content, fragment):
    samples = tmp_path / "bad.jsonl"
    samples.write_bytes(content)
    assert_bad_input(evaluate(samples, tmp_path / "out"), fragment, tmp_path / "out")


def test_bad_flags_exit_2(tmp_path, problems):
    samples = write_jsonl(tmp_path / "s.jsonl", canonical(problems, TASKS))
    proc = run_cli("evaluate", "--benchmark", "humaneva", "--samples", str(samples), "--output", str(tmp_path / "o"))
    assert_bad_input(proc, "did you mean 'humaneval'", tmp_path / "o")
    assert_bad_input(evaluate(tmp_path / "missing.jsonl", tmp_path / "o"), "samples file not found", tmp_path / "o")
    assert_bad_input(evaluate(samples, tmp_path / "o", "--tasks", "HumanEval/1"), "no sample for HumanEval/1",
                     tmp_path / "o")
    proc = run_cli("evaluate", "--benchmark", "humaneval", "--samples", str(samples), "--output",
                   str(tmp_path / "o"), "--sandbox", "dockr")
    assert_bad_input(proc, "did you mean 'docker'", tmp_path / "o")

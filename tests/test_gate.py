"""The regression gate on hand-written run directories: exit 0 fine, 1 regression, 2 bad input."""

from __future__ import annotations

import json
import random
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.app.cli import main
from harness.core.errors import BadInput
from leaderboards.gate import run_gate

N_HUMANEVAL = 120
N_MBPP = 150


def write_results(run_dir: Path, variant: str, benchmark: str, outcomes: dict, excluded=()) -> None:
    """results.jsonl as the evaluator writes it. outcome: base_pass, or (base_pass, plus_pass)."""
    lines = []
    for task_id, outcome in outcomes.items():
        base, plus = outcome if isinstance(outcome, tuple) else (outcome, None)
        row = {
            "benchmark": benchmark,
            "task_id": task_id,
            "base_status": "pass" if base else "fail",
            "plus_status": None if plus is None else ("pass" if plus else "fail"),
            "base_pass": base,
            "plus_pass": plus,
            "detail": "" if base else "fail",
            "excluded": task_id in excluded,
        }
        lines.append(json.dumps(row) + "\n")
    path = run_dir / variant / benchmark / "eval" / "results.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))


def make_outcomes(seed: int) -> dict[tuple[str, str], dict]:
    """(variant, benchmark) → task → (base_pass, plus_pass); ~60% pass, plus implies base."""
    rng = random.Random(seed)
    outcomes = {}
    for variant in ("base", "sft", "fgit"):
        for benchmark, prefix, n in (("humaneval", "HumanEval", N_HUMANEVAL), ("mbpp", "Mbpp", N_MBPP)):
            tasks = {}
            for i in range(n):
                base = rng.random() < 0.6
                tasks[f"{prefix}/{i}"] = (base, base and rng.random() < 0.85)
            outcomes[(variant, benchmark)] = tasks
    return outcomes


def write_run(root: Path, outcomes: dict, excluded=()) -> Path:
    for (variant, benchmark), tasks in outcomes.items():
        write_results(root, variant, benchmark, tasks, excluded)
    return root


def copy_outcomes(outcomes: dict) -> dict:
    return {key: dict(tasks) for key, tasks in outcomes.items()}


def break_passing(outcomes: dict, fraction: float, seed: int = 1) -> dict[tuple[str, str], list[str]]:
    """Make `fraction` of the passing solutions fail (base and plus), in every series. Returns what broke."""
    rng = random.Random(seed)
    broken = {}
    for key, tasks in outcomes.items():
        passing = sorted(t for t, (base, _) in tasks.items() if base)
        chosen = rng.sample(passing, max(1, round(fraction * len(passing))))
        for task in chosen:
            tasks[task] = (False, False)
        broken[key] = chosen
    return broken


@pytest.fixture
def baseline(tmp_path) -> tuple[Path, dict]:
    outcomes = make_outcomes(seed=0)
    return write_run(tmp_path / "baseline", outcomes), outcomes


def test_identical_run_passes(baseline, tmp_path):
    base_dir, outcomes = baseline
    current = write_run(tmp_path / "current", copy_outcomes(outcomes))
    report = run_gate(base_dir, current, max_drop_pp=1.0, alpha=0.05)
    assert report.exit_code == 0
    assert len(report.rows) == 3 * 4  # variants × (HumanEval, HumanEval+, MBPP, MBPP+)
    assert all(r.paired in (N_HUMANEVAL, N_MBPP) and not r.lost and not r.gained for r in report.rows)
    assert all(r.p_value == 1.0 for r in report.rows)
    assert "regression gate: PASS" in report.markdown


def test_breaking_ten_percent_of_passing_tasks_fails(baseline, tmp_path):
    base_dir, outcomes = baseline
    changed = copy_outcomes(outcomes)
    broken = break_passing(changed, 0.10)
    current = write_run(tmp_path / "current", changed)
    report = run_gate(base_dir, current, max_drop_pp=1.0, alpha=0.05)
    assert report.exit_code == 1
    assert {(r.variant, r.metric) for r in report.regressions} >= {
        (v, m) for v in ("base", "sft", "fgit") for m in ("HumanEval", "MBPP")
    }
    row = next(r for r in report.rows if (r.variant, r.metric) == ("fgit", "MBPP"))
    assert sorted(row.lost) == sorted(broken[("fgit", "mbpp")]) and row.gained == []
    k = len(row.lost)
    assert row.p_value == pytest.approx(2.0 / 2**k)  # exact McNemar with b = k, c = 0
    assert row.drop_pp == pytest.approx(100.0 * k / N_MBPP)
    text = report.markdown
    assert "regression gate: FAIL" in text and "**REGRESSION**" in text
    assert f"`{sorted(broken[('fgit', 'mbpp')], key=lambda t: int(t.split('/')[1]))[0]}`" in text

    root = ET.fromstring(report.to_junit())
    suite = root.find("testsuite")
    assert int(suite.get("failures")) == len(report.regressions) >= 6
    failed = {
        (c.get("classname"), c.get("name")) for c in suite.iter("testcase") if c.find("failure") is not None
    }
    assert ("gate.fgit", "MBPP") in failed
    assert int(suite.get("tests")) == 12


def test_one_task_change_passes(baseline, tmp_path):
    base_dir, outcomes = baseline
    changed = copy_outcomes(outcomes)
    task = next(t for t, (base, _) in changed[("fgit", "humaneval")].items() if base)
    changed[("fgit", "humaneval")][task] = (False, False)
    report = run_gate(base_dir, write_run(tmp_path / "current", changed), max_drop_pp=1.0, alpha=0.05)
    assert report.exit_code == 0
    row = next(r for r in report.rows if (r.variant, r.metric) == ("fgit", "HumanEval"))
    assert row.lost == [task] and row.p_value == 1.0
    assert row.drop_pp == pytest.approx(100.0 / N_HUMANEVAL)  # 0.83 pp, under 1 pp anyway


def test_large_drop_that_is_not_significant_passes(tmp_path):
    # 20 tasks, 2 lost: a 10 pp drop, but McNemar p = 2 · 1/4 = 0.5: noise on a small slice.
    tasks = {f"HumanEval/{i}": i < 12 for i in range(20)}
    write_results(tmp_path / "a", "fgit", "humaneval", tasks)
    tasks.update({"HumanEval/0": False, "HumanEval/1": False})
    write_results(tmp_path / "b", "fgit", "humaneval", tasks)
    report = run_gate(tmp_path / "a", tmp_path / "b", max_drop_pp=1.0, alpha=0.05)
    (row,) = report.rows
    assert row.drop_pp == pytest.approx(10.0) and row.p_value == pytest.approx(0.5)
    assert report.exit_code == 0


def test_significant_drop_needs_to_exceed_max_drop(tmp_path):
    # 1000 tasks, 12 lost, 1 gained: McNemar p = 2 · (1 + 13) / 8192 = 0.00341796875, drop 1.1 pp.
    tasks = {f"Mbpp/{i}": i < 500 for i in range(1000)}
    write_results(tmp_path / "a", "fgit", "mbpp", tasks)
    tasks.update({f"Mbpp/{i}": False for i in range(12)})
    tasks["Mbpp/999"] = True
    write_results(tmp_path / "b", "fgit", "mbpp", tasks)
    strict = run_gate(tmp_path / "a", tmp_path / "b", max_drop_pp=1.0, alpha=0.05)
    (row,) = strict.rows
    assert row.p_value == pytest.approx(0.00341796875)
    assert row.drop_pp == pytest.approx(1.1)
    assert strict.exit_code == 1
    assert run_gate(tmp_path / "a", tmp_path / "b", max_drop_pp=2.0, alpha=0.05).exit_code == 0
    assert run_gate(tmp_path / "a", tmp_path / "b", max_drop_pp=1.1, alpha=0.05).exit_code == 0  # not > 1.1
    assert run_gate(tmp_path / "a", tmp_path / "b", max_drop_pp=0.0, alpha=0.001).exit_code == 0


def test_improvement_is_never_a_regression(baseline, tmp_path):
    base_dir, outcomes = baseline
    improved = copy_outcomes(outcomes)
    for tasks in improved.values():
        for task in tasks:
            tasks[task] = (True, True)
    report = run_gate(base_dir, write_run(tmp_path / "current", improved), max_drop_pp=0.0, alpha=0.05)
    assert report.exit_code == 0
    assert all(r.drop_pp < 0 and r.p_value < 1e-6 for r in report.rows)


def test_tasks_on_one_side_are_reported_missing_ones_fail(baseline, tmp_path):
    base_dir, outcomes = baseline
    changed = copy_outcomes(outcomes)
    humaneval = changed[("fgit", "humaneval")]
    removed = [f"HumanEval/{i}" for i in range(5)]
    for task in removed:
        del humaneval[task]
    humaneval.update({f"HumanEval/new{i}": (False, False) for i in range(3)})
    current = write_run(tmp_path / "current", changed, excluded={"Mbpp/7"})
    report = run_gate(base_dir, current, max_drop_pp=1.0, alpha=0.05)
    assert report.exit_code == 1  # removed tasks and the newly excluded one: the run is incomplete
    assert {r.name for r in report.missing} == {"fgit/HumanEval", "fgit/HumanEval+"} | {
        f"{v}/{m}" for v in ("base", "sft", "fgit") for m in ("MBPP", "MBPP+")}
    assert report.newly_excluded["sft/MBPP+"] == ["Mbpp/7"]
    assert run_gate(base_dir, current, max_drop_pp=1.0, alpha=0.05, allow_missing=True).exit_code == 0
    row = next(r for r in report.rows if (r.variant, r.metric) == ("fgit", "HumanEval"))
    assert row.paired == N_HUMANEVAL - 5
    assert row.only_baseline == removed
    assert row.only_current == ["HumanEval/new0", "HumanEval/new1", "HumanEval/new2"]
    mbpp = next(r for r in report.rows if (r.variant, r.metric) == ("sft", "MBPP+"))
    assert mbpp.only_baseline == ["Mbpp/7"] and mbpp.paired == N_MBPP - 1  # excluded now: not scored
    assert "5 of the baseline's tasks not scored" in report.markdown
    assert "3 only in the current run" in report.markdown
    assert "1 newly excluded by the ground-truth gate (`Mbpp/7`)" in report.markdown


def test_missing_variant_fails_unless_allowed(baseline, tmp_path):
    base_dir, outcomes = baseline
    current = tmp_path / "current"
    shutil.copytree(base_dir, current)
    shutil.rmtree(current / "sft")
    report = run_gate(base_dir, current, max_drop_pp=1.0, alpha=0.05)
    assert report.exit_code == 1 and not report.regressions
    skipped = [r for r in report.rows if not r.compared]
    assert {(r.variant, r.missing) for r in skipped} == {("sft", "current")}
    assert "- sft/HumanEval: the whole series (only in the baseline)" in report.markdown
    suite = ET.fromstring(report.to_junit()).find("testsuite")
    assert int(suite.get("failures")) == 4 and int(suite.get("skipped")) == 0
    allowed = run_gate(base_dir, current, max_drop_pp=1.0, alpha=0.05, allow_missing=True)
    assert allowed.exit_code == 0
    assert "PASS (incomplete run allowed by --allow-missing)" in allowed.markdown
    suite = ET.fromstring(allowed.to_junit()).find("testsuite")
    assert int(suite.get("failures")) == 0 and int(suite.get("skipped")) == 4


def test_cli_with_json_baseline_junit_and_step_summary(baseline, tmp_path, monkeypatch, capsys):
    base_dir, outcomes = baseline
    exported = tmp_path / "baseline.json"
    assert (
        main(
            [
                "leaderboard",
                str(base_dir),
                "--format",
                "json",
                "--output",
                str(exported),
                "--resamples",
                "200",
            ]
        )
        == 0
    )
    changed = copy_outcomes(outcomes)
    break_passing(changed, 0.10)
    current = write_run(tmp_path / "current", changed)
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    junit = tmp_path / "reports" / "gate.xml"

    assert main(["gate", "--baseline", str(exported), "--current", str(current), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "regression gate: FAIL" in out
    assert summary.read_text().startswith("earlier step\n") and "regression gate: FAIL" in summary.read_text()
    assert int(ET.parse(junit).getroot().get("failures")) >= 6

    assert main(["gate", "--baseline", str(exported), "--current", str(base_dir), "--max-drop", "0"]) == 0
    assert "regression gate: PASS" in capsys.readouterr().out
    # run dir as the baseline gives the same verdict as its export
    assert main(["gate", "--baseline", str(base_dir), "--current", str(current)]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something-else"}', "not a fgit-bench-leaderboard file"),
        ('{"format": "fgit-bench-leaderboard", "version": 99, "variants": {}}', "version 99"),
        ('{"format": "fgit-bench-leaderboard", "version": 1, "variants": {}}', "non-empty"),
        (
            '{"format": "fgit-bench-leaderboard", "version": 1, "variants": {"base": {"MBPP": {"tasks": {"a": 1}}}}}',
            "true or false",
        ),
    ],
)
def test_corrupt_baseline_is_bad_input(baseline, tmp_path, content, message):
    base_dir, _ = baseline
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises(BadInput, match=message):
        run_gate(path, base_dir)
    assert main(["gate", "--baseline", str(path), "--current", str(base_dir)]) == 2


def test_other_bad_inputs_exit_2(baseline, tmp_path, capsys):
    base_dir, outcomes = baseline
    run = ["gate", "--baseline", str(base_dir), "--current"]
    assert main(run + [str(tmp_path / "absent")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(run + [str(tmp_path / "empty")]) == 2
    assert main(["gate", "--baseline", str(tmp_path / "absent.json"), "--current", str(base_dir)]) == 2
    # a torn results file in the current run
    torn = tmp_path / "torn"
    shutil.copytree(base_dir, torn)
    with open(torn / "fgit" / "mbpp" / "eval" / "results.jsonl", "a") as handle:
        handle.write('{"task_id": "Mbpp/9999", "base_pa')
    assert main(run + [str(torn)]) == 2
    # no (variant, metric, task) in common
    other = write_run(tmp_path / "other", {("fgit", "humaneval"): {"HumanEval/x1": (True, True)}})
    assert main(run + [str(other)]) == 2
    assert "share no scored" in capsys.readouterr().err
    # thresholds
    assert main(run + [str(base_dir), "--alpha", "0"]) == 2
    assert main(run + [str(base_dir), "--max-drop", "-1"]) == 2
    assert main(run + [str(base_dir), "--max-drop", "nan"]) == 2


def test_unwritable_step_summary_only_warns(baseline, tmp_path, monkeypatch, capsys):
    base_dir, _ = baseline
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory: cannot be appended to
    assert main(["gate", "--baseline", str(base_dir), "--current", str(base_dir)]) == 0
    assert "cannot append to GITHUB_STEP_SUMMARY" in capsys.readouterr().err

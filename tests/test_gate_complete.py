"""The gate fails closed: a current run missing a variant, a benchmark or tasks of the baseline is exit 1 listing
them (a run that crashed half-way must not go green); `--allow-missing` makes it a warning and exit 0."""

from __future__ import annotations

import shutil

from tests.conftest import run_cli
from tests.test_gate import copy_outcomes, make_outcomes, write_run


def _gate(baseline, current, *extra):
    return run_cli("gate", "--baseline", str(baseline), "--current", str(current), *extra)


def test_incomplete_run_fails_closed_and_allow_missing_warns(tmp_path):
    outcomes = make_outcomes(seed=3)
    baseline = write_run(tmp_path / "baseline", outcomes)

    identical = write_run(tmp_path / "identical", copy_outcomes(outcomes))
    result = _gate(baseline, identical)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "regression gate: PASS" in result.stdout and result.stderr == ""

    partial = copy_outcomes(outcomes)
    del partial[("sft", "humaneval")], partial[("sft", "mbpp")]  # a variant
    del partial[("fgit", "mbpp")]  # a benchmark of another variant
    kept = dict(list(partial[("base", "humaneval")].items())[:2])  # 2 of the 120 tasks
    partial[("base", "humaneval")] = kept
    current = write_run(tmp_path / "partial", partial)

    result = _gate(baseline, current)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("fgit-bench: error: the current run is incomplete, missing ")
    for name in ("sft/HumanEval (whole series)", "sft/MBPP+ (whole series)", "fgit/MBPP (whole series)",
                 "base/HumanEval (118 tasks)", "base/HumanEval+ (118 tasks)"):
        assert name in line
    assert "FAIL: incomplete run (8 series missing or short)" in result.stdout
    assert "- base/HumanEval: 118 of the baseline's tasks not scored (`HumanEval/2`" in result.stdout

    allowed = _gate(baseline, current, "--allow-missing")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    (line,) = allowed.stderr.splitlines()
    assert line.startswith("fgit-bench: warning: the current run is incomplete, missing ")
    assert "PASS (incomplete run allowed by --allow-missing)" in allowed.stdout
    assert "### Missing from the current run (allowed by --allow-missing)" in allowed.stdout


def test_newly_excluded_task_counts_as_missing(tmp_path):
    outcomes = make_outcomes(seed=4)
    baseline = write_run(tmp_path / "baseline", outcomes)
    current = tmp_path / "current"
    shutil.copytree(baseline, current)
    write_run(current, copy_outcomes(outcomes), excluded={"HumanEval/5"})
    result = _gate(baseline, current)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "newly excluded by the ground-truth gate (`HumanEval/5`)" in result.stdout
    # excluded on both sides: compared as such, nothing missing
    base_excl = write_run(tmp_path / "baseline-excl", copy_outcomes(outcomes), excluded={"HumanEval/5"})
    result = _gate(base_excl, current)
    assert result.returncode == 0, result.stdout + result.stderr

"""QuixBugs repair through `fgit-bench evaluate`: exact match and plausible on hand-made sample files.

Expectations never come from the code under test: the reference fixes must score exact and plausible; the same
programs re-indented and commented must still be exact; hand-written other correct fixes must be plausible but
not exact; the buggy programs neither. Plausible is also checked against the release's own oracle: each task's
assert script run directly on the program in a fresh interpreter.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.benchmarks.repair_match import exact_match, line_match
from tests.conftest import read_jsonl, run_cli, write_jsonl

ALTERNATIVE_FIXES = {  # correct, but not the reference's fix (written by hand)
    "QuixBugs/bitcount": 'def bitcount(n):\n    return bin(n).count("1")\n',
    "QuixBugs/gcd": "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
    "QuixBugs/bucketsort": "def bucketsort(arr, k):\n    return sorted(arr)\n",
    "QuixBugs/max_sublist_sum": ("def max_sublist_sum(arr):\n    best = current = 0\n    for x in arr:\n"
                                 "        current = max(0, current + x)\n        best = max(best, current)\n"
                                 "    return best\n"),
}


@pytest.fixture(scope="module")
def release(shared_data):
    return {"QuixBugs/" + r["name"]: r for r in read_jsonl(shared_data / "QuixBugs-python.jsonl")}


def reformatted(program: str) -> str:
    """The same program with 2-space indentation, comments, blank lines and spacing changed (no string in the
    release's programs spans lines, so re-indenting changes no literal)."""
    out = ["# reformatted by the test", ""]
    for line in program.splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        if not stripped:
            out += ["", ""]
            continue
        stripped = re.sub(r"^return ", "return  ", stripped)
        comment = "  # a comment" if stripped.endswith(":") and "#" not in stripped else ""
        out.append("  " * depth + stripped + comment)
        if stripped.startswith("def "):
            out.append("  " * (depth + 1) + "# a comment on a line of its own")
    return "\n".join(out) + "\n\n"


def release_oracle(program: str, tests: str, timeout: float = 60) -> bool:
    """The release's own check: the program, then its assert script, in a fresh interpreter (a timeout fails;
    the reference levenshtein takes ~5 s idle, two buggy programs never end)."""
    try:
        proc = subprocess.run([sys.executable, "-c", program + "\n\n" + tests], capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def evaluate(tmp_path, name: str, rows: list[dict]):
    samples = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    out = tmp_path / name
    proc = run_cli("evaluate", "--benchmark", "quixbugs", "--samples", str(samples), "--output", str(out),
                   "--sandbox", "process", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "eval_results.json").read_text())
    return {r["task_id"]: r for r in read_jsonl(out / "results.jsonl")}, results, proc.stdout


@pytest.mark.parametrize("step", [pytest.param(4, id="every-4th-task"),
                                  pytest.param(1, id="all-40", marks=pytest.mark.slow)])
def test_reference_and_buggy_programs(tmp_path, release, step):
    assert len(release) == 40 and next(iter(release)) == "QuixBugs/bitcount"
    ids = list(release)[::step]
    rows, results, stdout = evaluate(tmp_path, "reference", [{"task_id": t, "solution": release[t]["solution"]}
                                                             for t in ids])
    assert results["pass_at_k"]["repair"] == {"exact_match": 1.0, "line_exact_match": 1.0, "plausible": 1.0}
    assert all(r["exact_match"] and r["plausible"] and r["base_pass"] for r in rows.values())
    assert results["eval"]["QuixBugs/gcd"][0]["exact_match"] is True
    assert "exact_match" in stdout and "plausible" in stdout

    buggy, results, _ = evaluate(tmp_path, "buggy", [{"task_id": t, "solution": release[t]["buggy_program"]}
                                                     for t in ids])
    assert results["pass_at_k"]["repair"] == {"exact_match": 0.0, "line_exact_match": 0.0, "plausible": 0.0}
    # plausible agrees with the release's own assert scripts, task by task, on both program sets
    with ThreadPoolExecutor(2) as pool:
        fixed_ok = dict(zip(ids, pool.map(lambda t: release_oracle(release[t]["solution"], release[t]["tests"]),
                                          ids), strict=True))
        buggy_ok = dict(zip(ids, pool.map(lambda t: release_oracle(release[t]["buggy_program"],
                                                                   release[t]["tests"], 5), ids), strict=True))
    for t in ids:
        assert rows[t]["plausible"] is fixed_ok[t] is True, t
        assert buggy[t]["plausible"] is buggy_ok[t] is False, t



def test_reformatted_references_are_exact(tmp_path, release):
    ids = list(release)
    assert [t for t in ids if not exact_match(reformatted(release[t]["solution"]), release[t]["solution"])] == []
    some = ids[::5]  # through evaluate on a slice (the sandbox adds nothing to exact match)
    styled, results, _ = evaluate(tmp_path, "reformatted", [{"task_id": t, "solution": reformatted(
        release[t]["solution"])} for t in some])
    assert all(styled[t]["exact_match"] for t in some), [t for t in some if not styled[t]["exact_match"]]
    assert results["pass_at_k"]["repair"]["exact_match"] == 1.0
    assert results["pass_at_k"]["repair"]["plausible"] == 1.0


def test_other_correct_fixes_are_plausible_not_exact(tmp_path, release):
    rows, results, _ = evaluate(tmp_path, "alternative", [{"task_id": t, "solution": s}
                                                          for t, s in ALTERNATIVE_FIXES.items()])
    for task_id, program in ALTERNATIVE_FIXES.items():
        assert release_oracle(program, release[task_id]["tests"]), task_id  # the hand-written fix is right
        assert rows[task_id]["plausible"] and not rows[task_id]["exact_match"], task_id
    assert results["pass_at_k"]["repair"]["plausible"] == 1.0 and results["pass_at_k"]["repair"]["exact_match"] == 0


def test_a_forged_equality_is_not_plausible(tmp_path, release):
    """An answer whose result claims to equal anything passes the assert scripts, not the differential check."""
    forged = ("class _Anything:\n    def __eq__(self, other):\n        return True\n\n"
              "def bitcount(n):\n    return _Anything()\n")
    assert release_oracle(forged, release["QuixBugs/bitcount"]["tests"])  # the script alone is fooled
    rows, _, _ = evaluate(tmp_path, "forged", [{"task_id": "QuixBugs/bitcount", "solution": forged}])
    assert rows["QuixBugs/bitcount"]["plausible"] is False


def test_changed_line_match():
    buggy = "def f(n):\n    count = 0\n    while n:\n        n ^= n - 1\n        count += 1\n    return count\n"
    fixed = buggy.replace("n ^= n - 1", "n &= n - 1")
    assert line_match(fixed, fixed, buggy) and exact_match(fixed, fixed)
    # the bug fixed as the reference does, plus an unrelated edit: the line matches, the program does not
    elsewhere = fixed.replace("return count", "return (count)")
    assert line_match(elsewhere, fixed, buggy) and not exact_match(elsewhere, fixed)
    # the same line fixed differently (an equivalent rewrite): neither
    other = buggy.replace("n ^= n - 1", "n = n & (n - 1)")
    assert not line_match(other, fixed, buggy) and not exact_match(other, fixed)
    # the buggy program itself, and text that does not tokenize
    assert not line_match(buggy, fixed, buggy) and not exact_match(buggy, fixed)
    assert not exact_match("def f(n:\n    '''", fixed)
    # a docstring and comments are not part of the program
    documented = fixed.replace("def f(n):\n", "def f(n):\n    \"\"\"Count the 1-bits.\"\"\"  # doc\n")
    assert exact_match(documented, fixed) and line_match(documented, fixed, buggy)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "solution": "pass"}])
    proc = run_cli("evaluate", "--benchmark", "quixbugs", "--samples", str(samples), "--output",
                   str(tmp_path / "out"), "--sandbox", "process")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "unknown task_id 'HumanEval/0'" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_damaged_release_file_is_bad_input(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "QuixBugs-python.jsonl").write_text('{"name": "bitcount", "buggy_program": "x"}\n{not json\n')
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "QuixBugs/bitcount", "solution": "pass"}])
    proc = run_cli("evaluate", "--benchmark", "quixbugs", "--samples", str(samples), "--output",
                   str(tmp_path / "out"), "--sandbox", "process", "--data-dir", str(data))
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "QuixBugs row lacks docstring, solution, tests" in lines[0], proc.stderr

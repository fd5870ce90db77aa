"""Issue 27, classes 3, 4 and 7 on QuixBugs: a wrong program that matched the reference exactly (an f-string
statement rebinding the function, dropped as a docstring), and plausible forgeries that took their verdict from
the candidate's own operators or from the expected values the harness handed it.

- test_quixbugs_forgeries_passed_before: the pre-fix harness (tests/prefix_harness.py, its own CLI on the
  `process` sandbox: the verdict logic did not depend on the backend) scores each of them as the forgery intends:
  exact and line-exact for the f-string, plausible for the others.
- test_quixbugs_forgeries_fail: the same programs through `evaluate` on docker and bwrap are neither exact nor
  plausible, carry their static flags, and the reference fixes of the same tasks pass.
"""

from __future__ import annotations

import json
import shutil

import pytest

from harness.benchmarks.quixbugs_judge import evaluate_formula, judge_case
from harness.benchmarks.repair_match import exact_match, line_match
from harness.evaluation import EvaluateConfig, evaluate
from tests.conftest import read_jsonl, write_jsonl
from tests.forgery_programs import QUIXBUGS_27, QUIXBUGS_EXACT_27
from tests.prefix_harness import prefix_cli, prefix_tree  # noqa: F401  (fixture)
from tests.sandbox_fixtures import require_backend
from tests.test_quixbugs import release, release_oracle  # noqa: F401  (fixture)

FORGED = [QUIXBUGS_EXACT_27, *QUIXBUGS_27]
CONTROLS = ["QuixBugs/reverse_linked_list", "QuixBugs/shortest_paths", "QuixBugs/detect_cycle"]


def _rows(release) -> list[dict]:  # noqa: F811
    return ([{"task_id": f.task_id, "solution": f.code} for f in FORGED]
            + [{"task_id": t, "solution": release[t]["solution"]} for t in CONTROLS])


def test_quixbugs_forgeries_passed_before(tmp_path, release, prefix_tree):  # noqa: F811
    samples = write_jsonl(tmp_path / "s.jsonl", _rows(release))
    proc = prefix_cli(prefix_tree, "evaluate", "--benchmark", "quixbugs", "--samples", str(samples), "--output",
                      str(tmp_path / "out"), "--sandbox", "process", "--jobs", "2",
                      "--cache-dir", str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["task_id"]: r for r in read_jsonl(tmp_path / "out" / "results.jsonl")}
    fstring = rows[QUIXBUGS_EXACT_27.task_id]
    assert fstring["exact_match"] and fstring["line_exact_match"] and not fstring["plausible"], fstring
    for forgery in QUIXBUGS_27:
        assert rows[forgery.task_id]["plausible"] is True, (forgery.name, rows[forgery.task_id])
    # the release's own script is fooled by the operator forgery too (its assert runs the candidate's __sub__)
    assert release_oracle(QUIXBUGS_27[0].code, release[QUIXBUGS_27[0].task_id]["tests"])


@pytest.mark.parametrize("backend", ["docker", "bwrap"])
def test_quixbugs_forgeries_fail(tmp_path, monkeypatch, release, backend):  # noqa: F811
    require_backend(backend)
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / "cache"))  # a cold ground-truth cache, then a warm one
    samples = write_jsonl(tmp_path / "s.jsonl", _rows(release))
    for run in ("cold", "warm"):
        if run == "warm":
            shutil.rmtree(tmp_path / "cache" / "verdicts")
        evaluate(EvaluateConfig(benchmark="quixbugs", samples=str(samples), output=str(tmp_path / run),
                                sandbox=backend, jobs=2), quiet=True)
        rows = {r["task_id"]: r for r in read_jsonl(tmp_path / run / "results.jsonl")}
        for forgery in FORGED:
            row = rows[forgery.task_id]
            assert not row["exact_match"] and not row["line_exact_match"], (run, forgery.name, row)
            assert row["plausible"] is False and row["base_status"] == "fail", (run, forgery.name, row)
            assert set(forgery.flags) <= set(row["flags"]), (forgery.name, row["flags"])
        for task_id in CONTROLS:  # identity asserts, a literal bound to a name, truth asserts: all judged outside
            assert rows[task_id]["plausible"] and rows[task_id]["exact_match"], (run, rows[task_id])
        details = json.loads((tmp_path / run / "eval_results.json").read_text())
        assert details["pass_at_k"]["repair"]["plausible"] == pytest.approx(len(CONTROLS) / len(rows))


def test_the_normaliser_reads_docstrings_off_the_syntax_tree():
    fixed = "def f(n):\n    return n + 1\n"
    buggy = "def f(n):\n    return n - 1\n"
    assert exact_match('"""Module."""\ndef f(n):\n    """Adds one."""\n    return n + 1\n', fixed)
    for wrong in ('def f(n):\n    return n + 1\nf"{(f := len)}"\n',  # an f-string statement is code
                  'def f(n):\n    return n + 1\n"not a docstring"\n',  # a bare string after code is code
                  'def f(n):\n    return n + 1\nb"bytes"\n'):
        assert not exact_match(wrong, fixed), wrong
    elsewhere = 'import os\n"a string statement"\n' + fixed  # not in docstring position: code, away from the fix
    assert line_match(elsewhere, fixed, buggy) and not exact_match(elsewhere, fixed)
    assert exact_match('def f(n):\n    """Ünïcode docstring."""\n    return n + 1\n', fixed)


def test_the_judge_evaluates_formulas_on_plain_values():
    assert evaluate_formula("abs(_leaf0 - 1.5) <= 0.3", [1.4]) is True
    assert evaluate_formula("abs(_leaf0 - 1.5) <= 0.3", [0.0]) is False
    assert evaluate_formula("not _leaf0", [[]]) is True
    # the reference's assert sequence decides: another kind or order fails, whatever the values
    assert judge_case({}, [["v", 0, ["I", "7"]]], [["v", 0, ["I", "7"]]]) == (True, "")
    assert not judge_case({}, [["is", 0, True]], [["v", 0, ["I", "7"]]])[0]
    assert not judge_case({}, [["v", 0, ["opaque", "x.Y"]]], [["v", 0, ["I", "7"]]])[0]
    assert not judge_case({0: "_leaf0"}, [["x", 0, [["opaque", "x.Y"]]]], [["x", 0, [["B", 1]]]])[0]

"""Verdict forgery (issue 13): samples that compute nothing correct and try to choose their own verdict.

tests/forgery_programs.py holds 19 of them across HumanEval+, MBPP+ and BigCodeBench-Hard (an `__eq__` that
returns True, list/tuple/int subclasses equal to everything, patched numpy.allclose, patched builtins, frame and
gc walking to the checker's verdict or expected outputs, sys.exit/os._exit/a SystemExit subclass/SIGKILL after
forging, patched unittest.TestResult, replaced TestCase.run, patched assertions, a skip raised by the candidate,
a fake unittest through builtins.__import__ or sys.modules).

- test_forgeries_pass_upstream: each one passes the upstream checker (evalplus 0.3.1's untrusted_check,
  bigcodebench 0.2.5's untrusted_check) that this harness used before; so the suite below can fail.
- test_forgeries_fail: the real evaluate stage on real docker and real bubblewrap: every forgery is `fail`
  (never pass, never timeout), the correct samples of the same run pass, and the static flags are set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from harness.benchmarks import get_benchmark
from harness.core.data import data_dir
from harness.evaluation import EvaluateConfig, evaluate
from sandboxes import make_sandbox
from tests.conftest import read_jsonl, write_jsonl
from tests.forgery_programs import BIGCODEBENCH, BIGCODEBENCH_CORRECT, CORRECT, EVALPLUS, FORGERIES
from tests.sandbox_fixtures import require_backend, unavailable
from tests.test_bigcodebench import bcb_ci_env  # noqa: F401  (fixture: the CI profile of the BCB environment)

BACKENDS = ["docker", "bwrap"]


def test_suite_covers_the_issue():
    names = {f.name for f in FORGERIES}
    assert len(FORGERIES) >= 12 and {f.benchmark for f in FORGERIES} == {"humaneval", "mbpp", "bigcodebench"}
    for kind in ("eq_returns_true", "list_subclass_equal_to_everything", "patched_numpy_allclose",
                 "patched_unittest_testresult", "replaced_testcase_run", "gc_walk_to_expected",
                 "frame_walk_then_os_exit", "sys_exit_after_forging", "patched_builtin_set"):
        assert kind in names
    for benchmark in ("humaneval", "mbpp", "bigcodebench"):  # one sample per task in each run
        tasks = [f.task_id for f in FORGERIES if f.benchmark == benchmark]
        correct = BIGCODEBENCH_CORRECT if benchmark == "bigcodebench" else CORRECT[benchmark]
        assert len(tasks) == len(set(tasks)) and not set(tasks) & set(correct)


# --- the forgeries beat the upstream checkers ----------------------------------------------------------------

def test_forgeries_pass_upstream_evalplus():
    """evalplus's own untrusted_check (the pre-issue-13 check) passes every HumanEval+/MBPP+ forgery, against the
    ground truth its trusted_exec computes from the canonical solution (base inputs)."""
    from evalplus.eval import untrusted_check
    from evalplus.gen.util import trusted_exec

    statuses = {}
    problems = {name: get_benchmark(name).load(data_dir()).problems for name in ("humaneval", "mbpp")}
    for forgery in EVALPLUS:
        problem = problems[forgery.benchmark][forgery.task_id]
        expected, times = trusted_exec(problem["prompt"] + problem["canonical_solution"], problem["base_input"],
                                       problem["entry_point"], record_time=True)
        status, _ = untrusted_check(forgery.benchmark, forgery.code, problem["base_input"], problem["entry_point"],
                                    expected=expected, atol=problem["atol"], ref_time=times, fast_check=True)
        statuses[forgery.name] = status
    assert statuses == {f.name: "pass" for f in EVALPLUS}


UPSTREAM_BCB = """
import json, sys
import bigcodebench.eval
from bigcodebench.eval import untrusted_check
# A child that exits leaves upstream's Manager holding its sentinel pipe, so join() waits out the whole timeout
# (241 s): a shorter one here; every program decides its verdict at once, long before it.
bigcodebench.eval.TIMEOUT_LIMIT = 5
jobs = json.load(open(sys.argv[1]))
result = {name: untrusted_check(code, test, entry, 30 * 1024, 30 * 1024, 10, 1.0, 1.0)[0]
          for name, code, test, entry in jobs}
json.dump(result, open(sys.argv[2], "w"))
"""


def test_forgeries_pass_upstream_bigcodebench(tmp_path, bcb_ci_env, shared_data):  # noqa: F811
    """bigcodebench's own untrusted_check passes every BigCodeBench forgery (run as the harness ran it: the
    calibrated program, upstream's limits), in the BigCodeBench environment's interpreter."""
    bench = get_benchmark("bigcodebench", subset="hard")
    problems = bench.load(shared_data).problems
    jobs = [[f.name, bench.postprocess({"solution": f.code}, problems[f.task_id]), problems[f.task_id]["test"],
             problems[f.task_id]["entry_point"]] for f in BIGCODEBENCH]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    # Its own session, killed as a group afterwards: the Manager processes of the checks that os._exit or
    # SIGKILL themselves outlive them (upstream never reaps them).
    proc = subprocess.Popen([bcb_ci_env.host_python(), "-c", UPSTREAM_BCB, str(tmp_path / "jobs.json"),
                             str(tmp_path / "result.json")], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.wait(timeout=600) == 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert json.loads((tmp_path / "result.json").read_text()) == {f.name: "pass" for f in BIGCODEBENCH}


# --- and fail here, on docker and bwrap ----------------------------------------------------------------------

def _check_rows(rows: dict, forgeries, correct: list[str], backend: str) -> None:
    for forgery in forgeries:
        row = rows[forgery.task_id]
        assert row["base_status"] == "fail" and row["base_pass"] is False, (forgery.name, row)
        assert "timeout" not in (row["base_status"], row.get("plus_status")), (forgery.name, row)
        assert set(forgery.flags) <= set(row["flags"]), (forgery.name, row["flags"])
        assert row["sandbox"] == backend
    for task_id in correct:
        assert rows[task_id]["base_pass"] is True and rows[task_id]["plus_pass"] in (True, None), rows[task_id]
        assert rows[task_id]["flags"] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_evalplus_forgeries_fail(tmp_path, backend):
    require_backend(backend)
    for benchmark in ("humaneval", "mbpp"):
        problems = get_benchmark(benchmark).load(data_dir()).problems
        forgeries = [f for f in EVALPLUS if f.benchmark == benchmark]
        rows = [{"task_id": f.task_id, "solution": f.code} for f in forgeries]
        rows += [{"task_id": t, "solution": problems[t]["prompt"] + problems[t]["canonical_solution"]}
                 for t in CORRECT[benchmark]]
        samples = write_jsonl(tmp_path / f"{benchmark}.jsonl", rows)
        evaluate(EvaluateConfig(benchmark=benchmark, samples=str(samples), output=str(tmp_path / benchmark),
                                sandbox=backend, jobs=2, tasks=[r["task_id"] for r in rows]), quiet=True)
        results = {r["task_id"]: r for r in read_jsonl(tmp_path / benchmark / "results.jsonl")}
        _check_rows(results, forgeries, CORRECT[benchmark], backend)
        details = {f.name: results[f.task_id]["detail"] for f in forgeries}
        for name in ("eq_returns_true", "list_subclass_equal_to_everything", "int_subclass_equal_to_everything"):
            if name in details:
                assert "cannot be checked" in details[name], details


def _bigcodebench_sandbox(backend: str, bench):
    if backend == "docker":
        from sandboxes.docker import DockerSandbox

        ok, why = DockerSandbox.check(environment="bigcodebench")
        if not ok:
            unavailable(f"docker cannot run BigCodeBench here: {why} (set-up builds the image: "
                        "`fgit-bench sandbox build --environment bigcodebench`)")
    else:
        require_backend(backend)
    return make_sandbox(backend, jobs=2, environment="bigcodebench", limits=bench.sandbox_limits(), announce=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bigcodebench_forgeries_fail(tmp_path, shared_data, bcb_ci_env, backend):  # noqa: F811
    bench = get_benchmark("bigcodebench", subset="hard")
    problems = bench.load(shared_data).problems
    rows = [{"task_id": f.task_id, "solution": f.code} for f in BIGCODEBENCH]
    rows += [{"task_id": t, "solution": problems[t]["complete_prompt"] + "\n" + problems[t]["canonical_solution"]}
             for t in BIGCODEBENCH_CORRECT]
    samples = write_jsonl(tmp_path / "bcb.jsonl", rows)
    with _bigcodebench_sandbox(backend, bench) as sandbox:
        evaluate(EvaluateConfig(benchmark="bigcodebench", subset="hard", samples=str(samples),
                                output=str(tmp_path / "out"), sandbox=backend, jobs=2,
                                tasks=[r["task_id"] for r in rows]), sandbox=sandbox, quiet=True)
    results = {r["task_id"]: r for r in read_jsonl(tmp_path / "out" / "results.jsonl")}
    assert not any(r["excluded"] for r in results.values())  # every canonical solution passes here
    _check_rows(results, BIGCODEBENCH, BIGCODEBENCH_CORRECT, backend)
    details = {f.name: json.loads((tmp_path / "out" / "eval_results.json").read_text())["eval"][f.task_id][0]
               ["details"] for f in BIGCODEBENCH}
    expect = {"patched_unittest_testresult": "tampered: unittest.TestResult replaced",
              "replaced_testcase_run": "tampered: unittest.case.TestCase.run replaced",
              "patched_assertions": "tampered: unittest.case.TestCase.assert",
              "patched_builtin_import": "tampered: builtins.__import__ replaced",
              "replaced_sys_modules_unittest": "tampered: sys.modules['unittest'] replaced",
              "gc_walk_then_os_exit": "exited before the tests completed",
              "frame_walk_then_systemexit_subclass": "exited before the tests completed",
              "frame_walk_then_sigkill": "exited before the tests completed"}
    for name, fragment in expect.items():
        assert fragment in details[name].get("ALL", ""), (name, details[name])
    assert all(v.startswith("skipped at run time") for v in details["skips_every_test"].values())


def test_suite_covers_issue_27():
    """Issue 27's seven classes each have programs (run by test_forgery_bigcodebench/quixbugs/relay.py), and
    every one of them carries a static flag (class 7)."""
    from harness.flags import gaming_flags
    from tests.forgery_programs import BIGCODEBENCH_27, QUIXBUGS_27, QUIXBUGS_EXACT_27
    from tests.forgery_relay import ipc_planter, ipc_reader, residue_reader

    names = {f.name for f in BIGCODEBENCH_27 + QUIXBUGS_27}
    assert {"report_from_task_func", "report_from_import_thread"} <= names  # 1
    assert {"replaced_runner_check_then_run", "patched_runner_result_class"} <= names  # 2
    assert QUIXBUGS_EXACT_27.benchmark == "quixbugs"  # 3
    assert {"operator_decides_assert", "expected_from_caller_constants", "observer_records_expected"} <= names  # 4
    for forgery in [*BIGCODEBENCH_27, *QUIXBUGS_27, QUIXBUGS_EXACT_27]:
        assert forgery.flags and set(forgery.flags) <= set(gaming_flags(forgery.code)), forgery.name
    assert "reads_own_memory" in gaming_flags(residue_reader("f"))  # 5
    assert "cross_sample_state" in gaming_flags(ipc_reader("f"))  # 6
    assert "cross_sample_state" in gaming_flags(ipc_planter("def f(x):\n    return x\n", "f"))

"""Issue 27, classes 1, 2 and 7 on BigCodeBench: the runner's report channel written by the candidate (from
task_func, from an import-time thread), the runner's own check replaced, the runner's own result class patched.

- test_bigcodebench_forgeries_passed_before: the runner at the branch point (tests/prefix_harness.py), in the
  BigCodeBench environment's interpreter, passes every one of them.
- test_bigcodebench_forgeries_fail: the real evaluate stage on docker and bwrap scores them `fail` with the reason,
  carries their flags, and passes the canonical solutions of the same run.
- test_a_channel_asked_for_twice_is_tampering: a program that speaks the runner's hand-over itself (the next
  shape of class 1) takes the channel first; the runner's own request then comes later, which fails the sample.
"""

from __future__ import annotations

import json
import shutil

import pytest

from harness.benchmarks import get_benchmark
from harness.evaluation import EvaluateConfig, evaluate
from tests.conftest import read_jsonl, write_jsonl
from tests.forgery_programs import BIGCODEBENCH_27, BIGCODEBENCH_CORRECT
from tests.prefix_harness import prefix_python, prefix_tree  # noqa: F401  (fixture)
from tests.test_bigcodebench import bcb_ci_env  # noqa: F401  (fixture)
from tests.test_forgery import _bigcodebench_sandbox, _check_rows

RUN_CHECKS = """
import json, sys
from sandboxes.guest.bigcodebench_runner import run_check
jobs = json.load(open(sys.argv[1]))
json.dump({name: run_check(code, test, entry, 30 * 1024, 30 * 1024, 10, 1.0, 1.0)["status"]
           for name, code, test, entry in jobs}, open(sys.argv[2], "w"))
"""

# Speaks the runner's hand-over: asks for the report channel on the socket it finds under /proc/self/fd, writes
# an all-success report, and lets the run go on (so the runner's own request comes second).
HANDOVER = '''
def _take_channel(cases):
    import json, os, socket, struct
    names = [n for n in dir(cases) if n.startswith("test")]
    data = json.dumps({"error": None, "started": names, "stopped": names, "tampered": [],
                       "outcomes": [[n, "success", None] for n in names],
                       "counters": {"run": len(names), "failed": 0, "skipped": 0}}).encode()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                sock = socket.socket(fileno=os.dup(int(fd)))
                sock.send(b"report")
                _, fds, _, _ = socket.recv_fds(sock, 16, 1)
                os.write(fds[0], struct.pack(">Q", len(data)) + data)
                return
        except OSError:
            pass

def task_func(*args, **kwargs):
    _take_channel(globals()["TestCases"])
    return None
'''


def _jobs(bench, problems, programs):
    return [[name, bench.postprocess({"solution": code}, problems[task]), problems[task]["test"],
             problems[task]["entry_point"]] for name, task, code in programs]


def _run_checks(tree, python, tmp_path, jobs) -> dict:
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    returncode, output = prefix_python(tree, python, RUN_CHECKS, str(tmp_path / "jobs.json"),
                                       str(tmp_path / "out.json"))
    assert returncode == 0, output[-3000:]
    return json.loads((tmp_path / "out.json").read_text())


def test_bigcodebench_forgeries_passed_before(tmp_path, shared_data, bcb_ci_env, prefix_tree):  # noqa: F811
    bench = get_benchmark("bigcodebench", subset="hard")
    problems = bench.load(shared_data).problems
    jobs = _jobs(bench, problems, [(f.name, f.task_id, f.code) for f in BIGCODEBENCH_27])
    assert _run_checks(prefix_tree, bcb_ci_env.host_python(), tmp_path, jobs) == {
        f.name: "pass" for f in BIGCODEBENCH_27}


def test_a_channel_asked_for_twice_is_tampering(tmp_path, shared_data, bcb_ci_env):  # noqa: F811
    from tests.conftest import REPO

    bench = get_benchmark("bigcodebench", subset="hard")
    problems = bench.load(shared_data).problems
    jobs = _jobs(bench, problems, [("handover", "BigCodeBench/399", HANDOVER)])
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    script = RUN_CHECKS.replace('["status"]', "")
    returncode, output = prefix_python(REPO, bcb_ci_env.host_python(), script, str(tmp_path / "jobs.json"),
                                       str(tmp_path / "out.json"))
    assert returncode == 0, output[-3000:]
    result = json.loads((tmp_path / "out.json").read_text())["handover"]
    # every test calls task_func, which asks again; the runner asks last: 6 requests, one channel
    assert result["status"] == "fail" and "the report channel was asked for 6 times" in result["details"]["ALL"], result


@pytest.mark.parametrize("backend", ["docker", "bwrap"])
def test_bigcodebench_forgeries_fail(tmp_path, monkeypatch, shared_data, bcb_ci_env, backend):  # noqa: F811
    bench = get_benchmark("bigcodebench", subset="hard")
    problems = bench.load(shared_data).problems
    rows = [{"task_id": f.task_id, "solution": f.code} for f in BIGCODEBENCH_27]
    rows += [{"task_id": t, "solution": problems[t]["complete_prompt"] + "\n" + problems[t]["canonical_solution"]}
             for t in BIGCODEBENCH_CORRECT]
    samples = write_jsonl(tmp_path / "bcb.jsonl", rows)
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / "cache"))  # the gate cold, then cached
    for run in ("cold", "warm"):
        if run == "warm":
            shutil.rmtree(tmp_path / "cache" / "verdicts")
        with _bigcodebench_sandbox(backend, bench) as sandbox:
            evaluate(EvaluateConfig(benchmark="bigcodebench", subset="hard", samples=str(samples),
                                    output=str(tmp_path / run), sandbox=backend, jobs=2,
                                    tasks=[r["task_id"] for r in rows]), sandbox=sandbox, quiet=True)
        results = {r["task_id"]: r for r in read_jsonl(tmp_path / run / "results.jsonl")}
        assert not any(r["excluded"] for r in results.values())
        _check_rows(results, BIGCODEBENCH_27, BIGCODEBENCH_CORRECT, backend)
        details = {f.name: json.loads((tmp_path / run / "eval_results.json").read_text())["eval"][f.task_id][0]
                   ["details"] for f in BIGCODEBENCH_27}
        expect = {"replaced_runner_check_then_run": "tampered: sandboxes.guest.bigcodebench_runner._changes replaced",
                  "patched_runner_result_class": "RunnerResult.addFailure replaced"}
        for name, fragment in expect.items():
            assert fragment in details[name].get("ALL", ""), (run, name, details[name])
        for name in ("report_from_task_func", "report_from_import_thread"):  # no channel to find: its tests fail
            assert details[name] and "ALL" not in details[name], (run, name, details[name])

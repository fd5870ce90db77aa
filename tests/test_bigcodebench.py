"""BigCodeBench v0.1.4 through bigcodebench 0.2.5's loader and checking code, in its own Python 3.10 environment.

The checks run for real in the `ci` profile of the environment (a venv with the few pinned libraries that the CI
task slice needs, built once by the `bcb_ci_env` fixture, ~75 s, or beforehand by
`python -m sandboxes.bigcodebench_env build ci`), with the process sandbox.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.benchmarks import get_benchmark
from harness.core.errors import BadInput, InfraError
from sandboxes.bigcodebench_env import ENV_DIR, ENV_PROFILE, ENV_PY310, MARKER, ci_task_ids, find_python310
from sandboxes.environments import get_environment
from tests.conftest import read_jsonl, run_cli, write_jsonl

HARD = "BigCodeBench-Hard-v0.1.4.jsonl"
FULL = "BigCodeBench-v0.1.4.jsonl.gz"
NETWORK_TASK = "BigCodeBench/1012"  # its first test downloads from drive.google.com: fails without network
WRONG = "BigCodeBench/854"
SYNTAX_ERROR = "BigCodeBench/928"


@pytest.fixture(scope="session")
def bcb_ci_env():
    """The `ci` profile venv, kept across sessions in the user's cache (the per-session cache is for results)."""
    saved = {key: os.environ.get(key) for key in (ENV_DIR, ENV_PROFILE)}
    os.environ.setdefault(ENV_DIR, str(Path.home() / ".cache" / "fgit-bench" / "envs"))
    os.environ[ENV_PROFILE] = "ci"
    env = get_environment("bigcodebench")
    env.build_host()
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def hard(shared_data):
    return {row["task_id"]: row for row in read_jsonl(shared_data / HARD)}


def canonical(problem: dict) -> str:
    return problem["complete_prompt"] + "\n" + problem["canonical_solution"]


def evaluate(samples: Path, output: Path, *extra: str):
    return run_cli("evaluate", "--benchmark", "bigcodebench", "--subset", "hard", "--samples", str(samples),
                   "--output", str(output), "--sandbox", "process", "--jobs", "2", *extra)


def test_loader_and_dataset_hash(shared_data):
    hard = get_benchmark("bigcodebench", subset="hard").load(shared_data)
    raw = (shared_data / HARD).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == "af4fed119f71fca6dda51251c294bf566f6ba6c394ee14525152a1a319eab432"
    assert hard.hash == hashlib.md5(raw).hexdigest() == "c2b416d5d022412809cdaee4d710f76e"
    assert hard.version == "v0.1.4" and len(hard.problems) == 148
    assert list(hard.problems) == [json.loads(line)["task_id"] for line in raw.decode().split("\n") if line.strip()]
    full = get_benchmark("bigcodebench", subset="full").load(shared_data)
    unpacked = gzip.decompress((shared_data / FULL).read_bytes())
    assert full.hash == hashlib.md5(unpacked).hexdigest() == "f2108489da90de29835ec80087c9a6e5"
    assert len(full.problems) == 1140 and full.name == "BigCodeBench"


def test_prompts_follow_the_split(hard):
    problem = hard[WRONG]
    complete = get_benchmark("bigcodebench", subset="hard", split="complete").prompt(problem)
    instruct = get_benchmark("bigcodebench", subset="hard", split="instruct").prompt(problem)
    # upstream's codegen gives the model task[f"{split}_prompt"]
    assert complete == problem["complete_prompt"] and instruct == problem["instruct_prompt"]
    assert complete != instruct
    assert "Parameters:" in complete and "You should write self-contained code starting with:" in instruct


def test_calibrated_program_as_upstream(hard):
    import bigcodebench

    bench = get_benchmark("bigcodebench", subset="hard")
    problem = hard[WRONG]
    assert bench.postprocess({"task_id": WRONG, "completion": "    return 1\n"}, problem) == (
        problem["code_prompt"] + "\n    pass\n" + problem["complete_prompt"] + "    return 1\n")
    assert bench.postprocess({"task_id": WRONG, "solution": "X = 1\n"}, problem) == (
        problem["code_prompt"] + "\n    pass\n" + "X = 1\n")
    # the rule we copy, as upstream's evaluate writes it
    upstream = (Path(bigcodebench.__file__).parent / "evaluate.py").read_text()
    assert 'solution = problems[task_id]["code_prompt"] + "\\n    pass\\n" + solution' in upstream
    assert 'else problems[task_id]["complete_prompt"] + sample["completion"]' in upstream


def test_limits_are_upstreams():
    import bigcodebench
    from bigcodebench.eval.utils import TIMEOUT_LIMIT

    bench = get_benchmark("bigcodebench")
    upstream = (Path(bigcodebench.__file__).parent / "evaluate.py").read_text()
    for flag in ("max_as_limit: int = 30*1024", "max_data_limit: int = 30*1024", "max_stack_limit: int = 10"):
        assert flag in upstream
    limits = bench.limits_key()
    assert (limits["max_as_limit"], limits["max_data_limit"], limits["max_stack_limit"]) == (30 * 1024, 30 * 1024, 10)
    assert limits["timeout"] == TIMEOUT_LIMIT + 1 == 241  # untrusted_check: max(240, ...) + 1, flat
    assert bench.sandbox_limits().memory_mb >= 30 * 1024  # the worker must not be tighter than upstream's check


@pytest.mark.parametrize("flags, fragment", [(["--subset", "medium"], "--subset 'medium'"),
                                             (["--split", "chat"], "--split 'chat'")])
def test_unknown_subset_or_split_is_bad_input(tmp_path, flags, fragment):
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": WRONG, "solution": "x = 1\n"}])
    proc = run_cli("evaluate", "--benchmark", "bigcodebench", "--samples", str(samples), "--output",
                   str(tmp_path / "out"), "--sandbox", "process", *flags)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and fragment in errors[0], proc.stderr
    assert not (tmp_path / "out").exists()
    other = run_cli("evaluate", "--benchmark", "humaneval", "--subset", "hard", "--samples", str(samples),
                    "--output", str(tmp_path / "out"))
    assert other.returncode == 2 and "takes no option 'subset'" in other.stderr


def test_ci_slice_canonical_pass_broken_fail_network_task_excluded(tmp_path, hard, bcb_ci_env, isolated_cache):
    tasks = ci_task_ids()
    assert NETWORK_TASK in tasks and len(tasks) == 18
    gt_pattern = "BigCodeBench-Hard-c2b416d5d022412809cdaee4d710f76e-*.json"
    earlier = set((isolated_cache / "groundtruth").glob(gt_pattern))  # other tests' sandboxes (e.g. docker's)
    rows = [{"task_id": t, "solution": canonical(hard[t])} for t in tasks if t not in (WRONG, SYNTAX_ERROR)]
    rows.append({"task_id": WRONG, "completion": "    return [], []\n"})
    rows.append({"task_id": SYNTAX_ERROR, "completion": "    return {\n"})
    samples = write_jsonl(tmp_path / "samples.jsonl", rows)
    proc = evaluate(samples, tmp_path / "out", "--split", "complete")
    assert proc.returncode == 0, proc.stderr

    table = {row["task_id"]: row for row in read_jsonl(tmp_path / "out" / "results.jsonl")}
    assert set(table) == set(tasks)
    assert {row["benchmark"] for row in table.values()} == {"bigcodebench-hard"}
    assert [t for t, row in table.items() if row["excluded"]] == [NETWORK_TASK]
    assert "drive.google.com" in table[NETWORK_TASK]["excluded_reason"]
    for task_id in set(tasks) - {NETWORK_TASK, WRONG, SYNTAX_ERROR}:
        row = table[task_id]
        assert (row["base_status"], row["base_pass"], row["plus_status"], row["plus_pass"]) == (
            "pass", True, None, None), row
    for task_id in (WRONG, SYNTAX_ERROR):
        assert (table[task_id]["base_status"], table[task_id]["base_pass"]) == ("fail", False)

    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert results["hash"] == "c2b416d5d022412809cdaee4d710f76e"
    wrong = results["eval"][WRONG][0]
    assert set(wrong) == {"task_id", "solution", "status", "details"} and wrong["status"] == "fail"
    assert wrong["details"] and all("Error" in trace for trace in wrong["details"].values())
    assert wrong["solution"].startswith(hard[WRONG]["code_prompt"] + "\n    pass\n")
    pass_at_k = results["pass_at_k"]
    assert pass_at_k["pass@1"] == pytest.approx(15 / 17)  # the excluded task is not a model failure
    assert pass_at_k["pass@1_all_tasks"] == pytest.approx(15 / 18)
    assert pass_at_k["gt_pass_rate"] == pytest.approx(17 / 18)
    assert pass_at_k["failed_tasks"] == [NETWORK_TASK] and list(results["excluded"]) == [NETWORK_TASK]
    assert results["provenance"]["options"] == {"subset": "hard", "split": "complete"}
    assert "pass@1: 0.882" in proc.stdout and NETWORK_TASK in proc.stdout
    # the 16 canonical samples are the gate's own jobs (the gate runs them calibrated, as samples): run once
    assert "2 checked now, 0 from cache, 16 same as the ground-truth gate's run" in proc.stdout, proc.stdout

    # the ground truth is cached per dataset hash and sandbox: a second run checks nothing again
    cached = sorted(set((isolated_cache / "groundtruth").glob(gt_pattern)) - earlier)
    assert len(cached) == 1 and len(json.loads(cached[0].read_text())["value"]) >= len(tasks)  # in its envelope
    again = evaluate(samples, tmp_path / "again", "--split", "instruct")
    assert again.returncode == 0 and "0 checked now" in again.stdout, again.stdout + again.stderr


def test_gate_excludes_a_task_whose_canonical_solution_fails(tmp_path, shared_data, hard, bcb_ci_env):
    """A release whose canonical solution of one task is broken: the gate excludes it, with the reason."""
    rows = read_jsonl(shared_data / HARD)
    for row in rows:
        if row["task_id"] == WRONG:
            row["canonical_solution"] = "    return [], []\n"
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / HARD, rows)
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": t, "solution": canonical(hard[t])}
                                                 for t in (WRONG, SYNTAX_ERROR)])
    proc = evaluate(samples, tmp_path / "out", "--data-dir", str(data))
    assert proc.returncode == 0, proc.stderr
    table = {row["task_id"]: row for row in read_jsonl(tmp_path / "out" / "results.jsonl")}
    assert table[WRONG]["excluded"] is True and "AssertionError" in table[WRONG]["excluded_reason"]
    assert table[SYNTAX_ERROR]["excluded"] is False and table[SYNTAX_ERROR]["base_pass"] is True
    pass_at_k = json.loads((tmp_path / "out" / "eval_results.json").read_text())["pass_at_k"]
    assert (pass_at_k["pass@1"], pass_at_k["gt_pass_rate"], pass_at_k["failed_tasks"]) == (1.0, 0.5, [WRONG])


def test_environment_build_is_idempotent_and_pinned(bcb_ci_env):
    venv = bcb_ci_env.venv_dir()
    marker = venv / MARKER
    before = marker.stat().st_mtime_ns
    start = time.monotonic()
    bcb_ci_env.build_host()
    assert time.monotonic() - start < 5 and marker.stat().st_mtime_ns == before
    version = subprocess.run([bcb_ci_env.host_python(), "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == "(3, 10)"
    freeze = (venv / "pip-freeze.txt").read_text().splitlines()
    assert {"bigcodebench==0.2.5", "numpy==1.21.2", "pandas==2.0.3", "matplotlib==3.7.0"} <= set(freeze)
    assert not any(line.lower().startswith(("torch", "vllm", "datasets")) for line in freeze)


def test_python310_lookup_and_profile_errors(monkeypatch):
    monkeypatch.setenv(ENV_PY310, sys.executable)  # the harness's own 3.11
    with pytest.raises(InfraError, match="not 3.10"):
        find_python310()
    monkeypatch.setenv(ENV_PROFILE, "huge")
    with pytest.raises(BadInput, match="FGIT_BENCH_BCB_PROFILE"):
        get_environment("bigcodebench").profile()


def test_cold_gate_starts_the_longest_canonical_checks_first(shared_data, tmp_path, bcb_ci_env):
    """The committed durations order a cold gate: BigCodeBench/461 (~164 s of sleeps) must not start halfway."""
    from harness.benchmarks.bigcodebench_gate import DURATIONS_FILE
    from harness.evaluation import GATE_PRIORITY
    from sandboxes import make_sandbox
    from sandboxes.pool import JobFeed

    benchmark = get_benchmark("bigcodebench", subset="hard")
    dataset = benchmark.load(shared_data)
    durations = json.loads(DURATIONS_FILE.read_text())["seconds"]
    assert set(durations) == set(dataset.problems) and all(s >= 0 for s in durations.values())
    sandbox = make_sandbox("process", environment="bigcodebench", limits=benchmark.sandbox_limits(), announce=False)
    try:
        plan = benchmark.gate_plan(dataset, list(dataset.problems), sandbox, tmp_path)
    finally:
        sandbox.close()
    assert {t: job.cost for t, job in plan.jobs.items()} == durations
    feed = JobFeed()  # the order _run_checks hands gate jobs to the pool
    for task_id, job in plan.jobs.items():
        feed.put(task_id, job.function, job.payload, job.timeout, priority=GATE_PRIORITY + job.cost)
    feed.put("a check", "bigcodebench_check", {}, 1.0, priority=max(durations.values()) * 10)
    feed.close()
    order = [job[0] for job in iter(lambda: feed.take(lambda: False), None)]
    assert order[:2] == ["BigCodeBench/461", "BigCodeBench/1040"] and order[-1] == "a check"
    # the gate's program is the calibrated canonical solution: a sample reproducing it is the same job
    problem = dataset.problems["BigCodeBench/461"]
    assert plan.jobs["BigCodeBench/461"].payload["code"] == benchmark.postprocess(
        {"solution": canonical(problem)}, problem)


def test_merged_shards_keep_bigcodebench_schema(tmp_path, hard, bcb_ci_env):
    """`merge` recomputes BigCodeBench's own pass_at_k (gate fields included) over the union of the shards: the
    result equals evaluating all tasks at once."""
    from harness.app.pipeline.merge import merge_benchmark

    tasks = [t for t in ci_task_ids() if t not in (SYNTAX_ERROR, WRONG, NETWORK_TASK)][:3] + [WRONG, NETWORK_TASK]
    rows = [{"task_id": t, "solution": canonical(hard[t])} for t in tasks if t != WRONG]
    rows.append({"task_id": WRONG, "completion": "    return [], []\n"})
    samples = write_jsonl(tmp_path / "samples.jsonl", rows)
    whole = evaluate(samples, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    shards = {}
    for index in (1, 2):
        part = tasks[index - 1::2]
        shard = tmp_path / f"shard{index}"
        shard.mkdir()
        proc = evaluate(write_jsonl(shard / "samples.jsonl", [r for r in rows if r["task_id"] in part]),
                        shard / "eval")
        assert proc.returncode == 0, proc.stderr
        shards[index] = shard
    assert merge_benchmark(shards, tmp_path / "merged") == len(tasks)

    merged = json.loads((tmp_path / "merged" / "eval" / "eval_results.json").read_text())
    expected = json.loads((tmp_path / "whole" / "eval_results.json").read_text())
    assert merged["pass_at_k"] == expected["pass_at_k"]
    assert expected["pass_at_k"]["failed_tasks"] == [NETWORK_TASK] and expected["pass_at_k"]["scored_tasks"] == 4
    assert merged["excluded"] == expected["excluded"] == merged["provenance"]["excluded"]
    assert list(merged["eval"]) == list(expected["eval"])
    assert read_jsonl(tmp_path / "merged" / "eval" / "results.jsonl") == read_jsonl(tmp_path / "whole" / "results.jsonl")


def test_n_samples_per_task(tmp_path, hard, bcb_ci_env):
    """n = 4 samples of three CI tasks (issue 25): one entry per sample in bigcodebench's schema, its pass@k keys,
    the canonical sample answered by the gate's own run, the other distinct programs of a task in one job."""
    tasks = [t for t in ci_task_ids() if t not in (NETWORK_TASK, WRONG, SYNTAX_ERROR)][:3]
    rows = []
    for task in tasks:
        broken = {"task_id": task, "completion": "    raise ValueError('broken')\n"}
        rows += [{"task_id": task, "solution": canonical(hard[task])}, broken,
                 {"task_id": task, "solution": canonical(hard[task])}, {**broken, "completion": "    return None\n"}]
    samples = write_jsonl(tmp_path / "n4.jsonl", rows)
    proc = run_cli("evaluate", "--benchmark", "bigcodebench", "--subset", "hard", "--samples", str(samples),
                   "--output", str(tmp_path / "out"), "--sandbox", "process", "--jobs", "2", "--split", "complete",
                   env={"FGIT_BENCH_CACHE": str(tmp_path / "cache")})  # its own cache: the gate runs here
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    for task in tasks:
        assert [e["status"] for e in results["eval"][task]] == ["pass", "fail", "pass", "fail"]
    assert results["pass_at_k"]["pass@1"] == pytest.approx(0.5)
    assert set(k for k in results["pass_at_k"] if k.startswith("pass@")) == {"pass@1", "pass@1_all_tasks"}
    assert results["pass_at_k"]["fgit_bench"]["samples"] == 12
    assert "6 checked now, 0 from cache, 3 same as the ground-truth gate's run" in proc.stdout, proc.stdout
    table = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert [r["sample_index"] for r in table] == [0, 1, 2, 3] * 3


def test_workers_start_with_the_environments_libraries(bcb_ci_env):
    """Every job runs in a process of its own (issue 27), so a library a job imports no longer stays in the worker;
    the bigcodebench environment's workers import its libraries when they start instead (`warm_modules`): the very
    first job's child finds them imported. A worker of the evalplus environment does not import them."""
    from sandboxes import make_sandbox

    probe = {"code": "import sys\nloaded = 'pandas' in sys.modules and 'matplotlib.pyplot' in sys.modules\n",
             "tests": "assert loaded\n", "timeout": 30}
    for environment, expected in (("bigcodebench", "pass"), ("evalplus", "fail")):
        with make_sandbox("process", jobs=1, environment=environment, announce=False) as sandbox:
            [(_, result)] = list(sandbox.run("run_snippet_tests", [probe], [60.0]))
        assert result.value["status"] == expected, (environment, result)

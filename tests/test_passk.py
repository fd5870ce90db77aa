"""pass@k from n samples per task (issue 25, Build 2): the estimator against independent computations, and
`evaluate` on an n-sample file (evalplus's schema, one results row per sample, identical programs checked once,
the programs of a task sent to the sandbox together, a grouped job that breaks re-checked program by program)."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from math import comb

import pytest

from harness.core import passk
from tests.conftest import read_jsonl, write_jsonl


def product_formula(n: int, c: int, k: int) -> Fraction:
    """1 − Π_{i=n−c+1}^{n} (1 − k/i), in exact arithmetic (the HumanEval paper's numerically stable form)."""
    if n - c < k:
        return Fraction(1)
    prod = Fraction(1)
    for i in range(n - c + 1, n + 1):
        prod *= 1 - Fraction(k, i)
    return 1 - prod


def by_counting(n: int, c: int, k: int) -> Fraction:
    """The definition: of all C(n, k) ways to draw k of the n samples, the share holding a correct one."""
    samples = [True] * c + [False] * (n - c)
    hits = sum(any(draw) for draw in itertools.combinations(samples, k))
    return Fraction(hits, comb(n, k))


CASES = [(n, c, k) for n in (1, 2, 5, 10, 12) for c in sorted({0, 1, n // 2, n - 1, n} - {-1})
         for k in sorted({1, 2, 5, 10, n} & set(range(1, n + 1)))]


@pytest.mark.parametrize("n, c, k", CASES)
def test_estimator_matches_independent_computations(n, c, k):
    expected = by_counting(n, c, k)
    assert product_formula(n, c, k) == expected
    assert passk.per_task(n, c, k) == pytest.approx(float(expected), abs=1e-12)
    if c == 0:
        assert passk.per_task(n, c, k) == 0.0
    if c == n or k == n and c > 0:
        assert passk.per_task(n, c, k) == 1.0


def test_mean_over_tasks_and_k_above_n_not_reported():
    totals, corrects = [10, 10, 10, 12], [0, 3, 10, 1]
    got = passk.pass_at_k(totals, corrects)
    assert set(got) == {"pass@1", "pass@10"}  # 100 > every n: not reported
    for k in (1, 10):
        expected = sum(by_counting(n, c, k) for n, c in zip(totals, corrects, strict=True)) / len(totals)
        assert got[f"pass@{k}"] == pytest.approx(float(expected), abs=1e-12)
    assert set(passk.pass_at_k(totals, corrects, passk.OWN_KS)) == {"pass@5"}  # 25 > 10
    # one task with fewer samples bounds k for all (evalplus: total.min() >= k)
    assert set(passk.pass_at_k([10, 4], [1, 1])) == {"pass@1"}
    assert passk.reportable_ks(10) == [1, 5, 10] and passk.reportable_ks(4) == [1]


@pytest.fixture(scope="module")
def problems(shared_data):
    return {p["task_id"]: p for p in read_jsonl(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz")}


KILL_WORKER = "import posix, signal\nposix.kill(posix.getppid(), signal.SIGKILL)\n"


def n_sample_rows(problems) -> tuple[list[dict], dict]:
    """5 samples each of three tasks, interleaved in the file; expected statuses written by hand."""
    def canon(t):
        return problems[t]["prompt"] + problems[t]["canonical_solution"]

    a, b, c = "HumanEval/0", "HumanEval/2", "HumanEval/4"
    per_task = {
        a: [("solution", canon(a), "pass"), ("solution", canon(a), "pass"),
            ("solution", canon(a) + "\n# the same, commented\n", "pass"),
            ("completion", "    return False\n", "fail"), ("solution", KILL_WORKER + canon(a), "fail")],
        b: [("completion", "    return 0.0\n", "fail"), ("completion", "    return 0.0\n", "fail"),
            ("completion", "    return number\n", "fail"), ("solution", "", "fail"),
            # right but for an annotation naming what it never imports: evalplus fails it (NameError at
            # definition); a child that leaked `from __future__ import annotations` into it passed it
            ("solution", "def truncate_number(number: Float) -> float:\n    return number % 1.0\n", "fail")],
        c: [("solution", canon(c), "pass")] * 5,
    }
    rows = []
    for i in range(5):  # interleaved: a task's samples are not adjacent in the file
        for task in (a, b, c):
            key, text, _ = per_task[task][i]
            rows.append({"task_id": task, key: text})
    return rows, per_task


def test_evaluate_n_samples(tmp_path, problems, monkeypatch):
    from harness.evaluation import EvaluateConfig, evaluate
    from sandboxes.pool import JobFeed

    submitted = []
    original_put = JobFeed.put

    def spy(self, key, function, payload, timeout, priority=0.0):
        submitted.append((function if isinstance(function, str) else function.__name__, payload))
        return original_put(self, key, function, payload, timeout, priority)

    monkeypatch.setattr(JobFeed, "put", spy)
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / "cache"))
    rows, per_task = n_sample_rows(problems)
    samples = write_jsonl(tmp_path / "n5.jsonl", rows)
    summary = evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(tmp_path / "out"),
                                      sandbox="process", jobs=2), quiet=True)
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    for task, expected in per_task.items():
        entries = results["eval"][task]
        assert len(entries) == 5
        assert [e["base_status"] for e in entries] == [s for _, _, s in expected], task
        assert [e["plus_status"] for e in entries] == [s for _, _, s in expected], task
        assert [e["solution"] for e in entries] == [
            (problems[task]["prompt"] + t if k == "completion" else t) for k, t, _ in expected]
    # pass@k by hand: HumanEval/0 3 of 5, /2 0 of 5, /4 5 of 5
    for split in ("base", "plus"):
        assert results["pass_at_k"][split] == {"pass@1": pytest.approx((3 / 5 + 0 + 1) / 3, abs=1e-12)}
        assert results["pass_at_k"]["fgit_bench"][split] == {"pass@5": pytest.approx(2 / 3, abs=1e-12)}
    assert results["pass_at_k"]["fgit_bench"]["samples"] == 15
    table = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert [(r["task_id"], r["sample_index"]) for r in table] == [
        (t, i) for t in ("HumanEval/0", "HumanEval/2", "HumanEval/4") for i in range(5)]
    assert [r["base_pass"] for r in table[:5]] == [True, True, True, False, False]
    assert table[4]["detail"] in ("sandbox_error", "oom"), table[4]  # SIGKILL: the process backend reads oom
    # identical programs checked once: 4 distinct in /0, 4 in /2, 1 in /4
    assert summary.executed == 9
    checks = [(f, p) for f, p in submitted if f.startswith("evalplus_outputs")]
    full = {t: len(problems[t]["plus_input"]) for t in per_task}
    by_entry = {problems[t]["entry_point"]: t for t in per_task}

    def task(payload):
        return by_entry[payload["entry_point"]]

    def shape(f, p):  # (task, programs, whole plus stage or a screen's prefix)
        prefix = len(p["plus_input"])
        assert prefix == full[task(p)] or prefix == max(1, full[task(p)] // 10), (prefix, full[task(p)])
        return task(p), len(p.get("solutions", [0])), "full" if prefix == full[task(p)] else "screen"

    shapes = sorted(shape(f, p) for f, p in checks)
    # /0 and /2 were screened as one job each (inputs sent once; base and a tenth of plus). /2's 4 programs all
    # fail there: no full check. /0's screen broke as a whole (the worker-killing program), its 4 programs got
    # their full check as a group, which broke as well, then each alone. /4: one distinct program, not screened.
    assert shapes == sorted([("HumanEval/0", 4, "screen"), ("HumanEval/0", 4, "full")]
                            + [("HumanEval/0", 1, "full")] * 4 + [("HumanEval/2", 4, "screen"),
                                                                    ("HumanEval/4", 1, "full")]), shapes
    singles = [p["solution"] for f, p in checks if f == "evalplus_outputs"]
    assert sum(s == KILL_WORKER + problems["HumanEval/0"]["prompt"]
               + problems["HumanEval/0"]["canonical_solution"] for s in singles) == 1

    # a second run: every verdict from the cache
    again = evaluate(EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(tmp_path / "out"),
                                    sandbox="process", jobs=2), quiet=True)
    assert again.executed == 0
    assert read_jsonl(tmp_path / "out" / "results.jsonl") == table


def test_one_sample_per_task_keeps_the_schema(tmp_path, problems, monkeypatch):
    from harness.evaluation import EvaluateConfig, evaluate

    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / "cache"))
    rows = [{"task_id": t, "solution": problems[t]["prompt"] + problems[t]["canonical_solution"]}
            for t in ("HumanEval/0", "HumanEval/4")]
    evaluate(EvaluateConfig(benchmark="humaneval", samples=str(write_jsonl(tmp_path / "s.jsonl", rows)),
                            output=str(tmp_path / "out"), sandbox="process", jobs=1), quiet=True)
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert results["pass_at_k"] == {"base": {"pass@1": 1.0}, "plus": {"pass@1": 1.0}}
    assert all("sample_index" not in r for r in read_jsonl(tmp_path / "out" / "results.jsonl"))


def _rows(counts: dict[str, tuple[int, int]], excluded=(), **fields) -> list[dict]:
    """n samples per task, the first c passing (and carrying `fields` true), as results.jsonl rows."""
    return [{"task_id": t, "sample_index": i, "base_pass": i < c, "plus_pass": None, "excluded": t in excluded,
             **{k: i < c for k in fields}} for t, (n, c) in counts.items() for i in range(n)]


def test_bigcodebench_and_quixbugs_pass_at_k_from_n():
    from harness.benchmarks import get_benchmark

    counts = {"BigCodeBench/1": (10, 0), "BigCodeBench/2": (10, 4), "BigCodeBench/3": (10, 10),
              "BigCodeBench/4": (10, 7)}
    got = get_benchmark("bigcodebench", subset="hard").pass_at_k(_rows(counts, excluded={"BigCodeBench/4"}))
    scored = [v for t, v in counts.items() if t != "BigCodeBench/4"]
    for k in (1, 5, 10):  # bigcodebench's default --pass_k
        assert got[f"pass@{k}"] == pytest.approx(
            float(sum(by_counting(n, c, k) for n, c in scored) / 3), abs=1e-12)
        assert got[f"pass@{k}_all_tasks"] == pytest.approx(
            float(sum(by_counting(n, c, k) for n, c in counts.values()) / 4), abs=1e-12)
    assert got["failed_tasks"] == ["BigCodeBench/4"] and got["scored_tasks"] == 3 and got["gt_pass_rate"] == 0.75
    assert "pass@100" not in got and got["fgit_bench"]["pass_at_k"] == {}

    quix = get_benchmark("quixbugs").pass_at_k(_rows({"QuixBugs/a": (5, 1), "QuixBugs/b": (5, 5)},
                                                     exact_match=True, plausible=True, line_exact_match=True))
    assert quix["repair_at_k"]["plausible@1"] == pytest.approx((0.2 + 1) / 2)
    assert quix["repair_at_k"]["exact@5"] == pytest.approx(1.0)
    assert set(quix["repair_at_k"]) == {f"{m}@{k}" for m in ("exact", "line_exact", "plausible") for k in (1, 5)}


def test_merge_of_n_sample_shards(tmp_path):
    """Shards of a run with n samples per task: rows keyed by (task, sample), pass@k recomputed over the union."""
    from harness.app.pipeline.merge import merge_benchmark

    counts = {"HumanEval/0": (3, 1), "HumanEval/1": (3, 3), "HumanEval/2": (3, 0), "HumanEval/10": (3, 2)}
    rows = [{"benchmark": "humaneval", "task_id": t, "sample_index": i, "base_pass": i < c, "plus_pass": i < c,
             "excluded": False} for t, (n, c) in counts.items() for i in range(n)]
    shards = {}
    for index, tasks in enumerate((["HumanEval/0", "HumanEval/10"], ["HumanEval/1", "HumanEval/2"])):
        directory = tmp_path / f"shard{index}"
        mine = [r for r in rows if r["task_id"] in tasks]
        (directory / "eval").mkdir(parents=True)
        write_jsonl(directory / "eval" / "results.jsonl", mine)
        write_jsonl(directory / "samples.jsonl", [{"task_id": r["task_id"], "solution": ""} for r in mine])
        (directory / "eval" / "eval_results.json").write_text(json.dumps(
            {"eval": {t: [{}] * 3 for t in tasks}, "provenance": {"benchmark": "humaneval", "options": {}}}))
        shards[index] = directory
    assert merge_benchmark(shards, tmp_path / "merged") == 12
    merged = read_jsonl(tmp_path / "merged" / "eval" / "results.jsonl")
    assert [(r["task_id"], r["sample_index"]) for r in merged] == [
        (t, i) for t in ("HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/10") for i in range(3)]
    document = json.loads((tmp_path / "merged" / "eval" / "eval_results.json").read_text())
    assert document["pass_at_k"]["plus"]["pass@1"] == pytest.approx((1 / 3 + 1 + 0 + 2 / 3) / 4, abs=1e-12)

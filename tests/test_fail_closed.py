"""Fail closed (issue 19): damaged caches are recomputed, never trusted and never a crash; malformed input is exit 2
with one line; anything unexpected is exit 3 with one line naming the traceback file. Every fault is produced for
real: damaged files on disk, and the evaluation that follows."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys

import pytest

from harness.app.cli import main
from harness.core import cache_entry
from tests.conftest import REPO, read_jsonl, run_cli, write_jsonl

TASKS = ["HumanEval/0", "HumanEval/2", "HumanEval/4"]


@pytest.fixture(scope="module")
def problems(shared_data):
    return {p["task_id"]: p for p in read_jsonl(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz")}


def canonical(problems, task_ids=TASKS):
    return [{"task_id": t, "solution": problems[t]["prompt"] + problems[t]["canonical_solution"]} for t in task_ids]


def evaluate(samples, output, cache, *extra, umask=None):
    cmd = [sys.executable, "-m", "harness.app.cli", "evaluate", "--benchmark", "humaneval", "--samples", str(samples),
           "--output", str(output), "--sandbox", "process", "--jobs", "2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=REPO, timeout=600,
                          env={**os.environ, "FGIT_BENCH_CACHE": str(cache)},
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def statuses(output):
    rows = read_jsonl(output / "results.jsonl")
    summary = json.loads((output / "eval_results.json").read_text())
    table = {r["task_id"]: (r["base_status"], r["plus_status"]) for r in rows}
    # the two files of one evaluation always agree
    assert table == {t: (e[0]["base_status"], e[0]["plus_status"]) for t, e in summary["eval"].items()}
    return table


def warnings(stderr, kind):
    return [line for line in stderr.splitlines() if f"damaged {kind} cache entry" in line]


@pytest.fixture(scope="module")
def clean(tmp_path_factory, problems):
    """A clean evaluation (3 canonical solutions + 1 wrong one) with its own cache, and its per-task statuses."""
    root = tmp_path_factory.mktemp("fail-closed")
    rows = canonical(problems) + [{"task_id": "HumanEval/7", "completion": "    return []\n"}]
    samples = write_jsonl(root / "samples.jsonl", rows)
    cache = root / "cache"
    proc = evaluate(samples, root / "clean", cache, umask=0o027)
    assert proc.returncode == 0, proc.stderr
    table = statuses(root / "clean")
    assert table["HumanEval/0"] == ("pass", "pass") and table["HumanEval/7"][0] == "fail"
    return {"root": root, "samples": samples, "cache": cache, "table": table}


def test_result_files_follow_the_umask(clean):
    out = clean["root"] / "clean"
    for name in ("results.jsonl", "eval_results.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640  # umask 027, not mkstemp's 0600
    assert stat.S_IMODE(out.stat().st_mode) == 0o750


def test_damaged_and_tampered_verdicts_are_rechecked(clean):
    files = sorted((clean["cache"] / "verdicts").rglob("*.json"))
    assert len(files) == 4
    files[0].write_bytes(random.Random(0).randbytes(300))  # random bytes
    entry = json.loads(files[1].read_text())
    entry["value"]["base_status"] = "banana"  # tampered, checksum recomputed: fails validation
    cache_entry.write_json(files[1], entry["key"], entry["value"])
    entry = json.loads(files[2].read_text())
    entry["value"]["base_status"] = "fail" if entry["value"]["base_status"] == "pass" else "pass"  # flipped
    files[2].write_text(json.dumps(entry))
    proc = evaluate(clean["samples"], clean["root"] / "after-damage", clean["cache"])
    assert proc.returncode == 0, proc.stderr
    assert len(warnings(proc.stderr, "verdict")) == 1, proc.stderr  # said once, not per entry
    assert "3 checked now, 1 from cache" in proc.stdout
    assert statuses(clean["root"] / "after-damage") == clean["table"]
    again = evaluate(clean["samples"], clean["root"] / "repaired", clean["cache"])
    assert again.returncode == 0 and "0 checked now, 4 from cache" in again.stdout and not warnings(again.stderr, "")


def test_damaged_ground_truth_is_recomputed_and_verdicts_follow_its_content(clean):
    (gt_file,) = (clean["cache"] / "groundtruth").glob("*")
    original = gt_file.read_bytes()
    damaged = bytearray(original)
    for offset in (len(damaged) // 3, len(damaged) // 2, len(damaged) - 10):
        damaged[offset] ^= 0xFF  # three flipped bytes
    gt_file.write_bytes(bytes(damaged))
    proc = evaluate(clean["samples"], clean["root"] / "gt-damaged", clean["cache"])
    assert proc.returncode == 0, proc.stderr
    assert len(warnings(proc.stderr, "ground-truth")) == 1, proc.stderr
    assert statuses(clean["root"] / "gt-damaged") == clean["table"]

    # A wrong expected output in a well-formed entry (as a bad machine or an old bug would write it): judged
    # against it, HumanEval/0 fails; once the ground truth is right again, its verdict is judged again.
    header, _, payload = gt_file.read_bytes().partition(b"\n")
    stored = json.loads(payload)  # task id -> JSON with one codec text per expected output (sandboxes/guest/codec.py)
    expected = json.loads(stored["HumanEval/0"])
    first = json.loads(expected["base"][0])
    assert first[0] == "B"  # a bool, encoded ["B", 0 | 1]
    expected["base"][0] = json.dumps(["B", 1 - first[1]], separators=(",", ":"))
    stored["HumanEval/0"] = json.dumps(expected)
    key = json.loads(header)["key"]
    right = gt_file.read_bytes()
    cache_entry.write_bytes(gt_file, key, json.dumps(stored).encode())
    wrong = evaluate(clean["samples"], clean["root"] / "gt-wrong", clean["cache"])
    assert wrong.returncode == 0, wrong.stderr
    assert statuses(clean["root"] / "gt-wrong")["HumanEval/0"][0] == "fail"
    gt_file.write_bytes(right)
    repaired = evaluate(clean["samples"], clean["root"] / "gt-repaired", clean["cache"])
    assert repaired.returncode == 0, repaired.stderr
    assert "0 checked now, 4 from cache" in repaired.stdout  # the verdicts judged against it are still cached
    assert statuses(clean["root"] / "gt-repaired") == clean["table"]


def test_lone_surrogate_in_a_solution_is_one_line_exit_2(clean, tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"task_id": "HumanEval/0", "solution": "def f():\\n    return \\"\\ud800\\"\\n"}\n')
    proc = evaluate(samples, tmp_path / "out", clean["cache"])
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "lone surrogate" in line and not (tmp_path / "out").exists()


def test_baseline_nested_100k_deep_and_utf16_results_are_exit_2(clean, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    proc = run_cli("gate", "--baseline", str(deep), "--current", str(clean["root"] / "clean"))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "nested too deeply" in line
    run = tmp_path / "run"
    (run / "base" / "humaneval" / "eval").mkdir(parents=True)
    text = (clean["root"] / "clean" / "results.jsonl").read_text()
    (run / "base" / "humaneval" / "eval" / "results.jsonl").write_text(text, encoding="utf-16")
    proc = run_cli("gate", "--baseline", str(clean["root"] / "clean"), "--current", str(run))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_unexpected_exception_is_exit_3_with_the_traceback_file(tmp_path, monkeypatch, capsys):
    # A stand-in for a bug (none is left to trigger for real): the leaderboard's loader raises.
    def bug(*args, **kwargs):
        raise KeyError("a bug deep inside")

    monkeypatch.setattr("leaderboards.table.load_run", bug)
    out = tmp_path / "board"
    out.mkdir()
    (out / "base" / "humaneval" / "eval").mkdir(parents=True)
    assert main(["leaderboard", str(out), "--format", "md", "--output", str(out / "x.md")]) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("fgit-bench: internal error: KeyError: 'a bug deep inside' (test_fail_closed.py:")
    log = line.rsplit("full traceback in ", 1)[1]
    assert "Traceback (most recent call last)" in open(log).read() and "a bug deep inside" in open(log).read()

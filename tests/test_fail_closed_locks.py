"""Issue 28, item 4: one writer per run directory, whatever name reaches it. The lock belongs to the directory (its
resolved path), not to the string on the command line: a symlink to a run directory, or a path through a
symlinked parent, finds the lock that the real path holds. Every command that reads a run directory (the gate, the
leaderboard and its JSON export, which is what a baseline is made of) refuses one that is being written, with one
line and exit 2, and writes nothing. The second process is real: it holds the lock exactly as `run` does."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli, write_jsonl
from tests.test_fail_closed import canonical, evaluate, problems, statuses  # noqa: F401 (fixture)
from tests.test_fail_closed_io import errors

TWO = ["HumanEval/0", "HumanEval/2"]

HOLD = """
import sys, time
from harness.core import outdir
with getattr(outdir, sys.argv[2])(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, problems):  # noqa: F811
    root = tmp_path_factory.mktemp("fail-closed-locks")
    good = write_jsonl(root / "good.jsonl", canonical(problems, TWO))
    bad_rows = canonical(problems, TWO)
    bad_rows[1]["solution"] = "def add(*a):\n    raise ValueError\n"
    bad = write_jsonl(root / "bad.jsonl", bad_rows)
    cache = root / "cache"
    tables = {}
    for name, samples in (("good", good), ("bad", bad)):
        proc = evaluate(samples, root / name, cache)
        assert proc.returncode == 0, proc.stderr
        tables[name] = statuses(root / name)
    assert tables["good"] != tables["bad"]
    return {"root": root, "good": good, "bad": bad, "cache": cache, "tables": tables}


def _run_dir(inputs, path):
    """A run directory holding the good evaluation of the base variant."""
    (path / "base" / "humaneval").mkdir(parents=True)
    shutil.copytree(inputs["root"] / "good", path / "base" / "humaneval" / "eval")
    return path


class Holder:
    """A second process holding `path`'s lock (`locked`: a writer, as `run` and `evaluate` hold it)."""

    def __init__(self, path, how="locked"):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), how], stdout=subprocess.PIPE,
                                     text=True, cwd=REPO, stdin=subprocess.DEVNULL)

    def __enter__(self):
        assert self.proc.stdout.readline().strip() == "locked"
        return self.proc

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def _names(tmp_path):
    """(name the holder uses, name the second process uses) for one directory: a symlink to it each way, and a
    path through a symlinked parent."""
    real_parent = tmp_path / "runs"
    real_parent.mkdir()
    (tmp_path / "runs-link").symlink_to(real_parent)
    real = real_parent / "r"
    (tmp_path / "r-link").symlink_to(real)
    return real, {"link-then-real": (tmp_path / "r-link", real), "real-then-link": (real, tmp_path / "r-link"),
                  "parent-link": (real, tmp_path / "runs-link" / "r")}


@pytest.mark.parametrize("case", ["link-then-real", "real-then-link", "parent-link"])
def test_a_second_writer_through_another_name_is_refused(inputs, tmp_path, case):
    real, names = _names(tmp_path)
    held, other = names[case]
    real.mkdir()
    shutil.copytree(inputs["root"] / "good", real, dirs_exist_ok=True)
    with Holder(held) as holder:
        proc = evaluate(inputs["bad"], other, inputs["cache"])
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert errors(proc) == [f"fgit-bench: error: {other} is in use by pid {holder.pid}"], proc.stderr
    assert statuses(real) == inputs["tables"]["good"]  # nothing of the second evaluation reached it
    assert not list(real.parent.glob(".r.staging-*"))


def test_evaluate_through_a_symlink_publishes_into_the_directory_and_keeps_the_link(inputs, tmp_path):
    real, names = _names(tmp_path)
    real.mkdir()
    shutil.copytree(inputs["root"] / "good", real, dirs_exist_ok=True)
    link = names["real-then-link"][1]
    proc = evaluate(inputs["bad"], link, inputs["cache"])
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and real.is_dir() and not real.is_symlink()
    assert statuses(real) == inputs["tables"]["bad"]


@pytest.mark.parametrize("through", ["real", "link"])
def test_gate_and_leaderboard_refuse_a_run_being_written(inputs, tmp_path, through):
    baseline = _run_dir(inputs, tmp_path / "baseline")
    real = _run_dir(inputs, tmp_path / "runs" / "current")
    link = tmp_path / "current-link"
    link.symlink_to(real)
    name = real if through == "real" else link
    export = tmp_path / "baseline.json"
    with Holder(real) as holder:  # `run` is writing the real directory
        gate = run_cli("gate", "--baseline", str(baseline), "--current", str(name))
        assert gate.returncode == 2, gate.stdout + gate.stderr
        assert errors(gate) == [f"fgit-bench: error: {name} is in use by pid {holder.pid}: wait for it to finish"]
        for fmt in ("json", "md"):
            board = run_cli("leaderboard", str(name), "--format", fmt, "--output", str(export))
            assert board.returncode == 2, board.stdout + board.stderr
            assert errors(board) == [
                f"fgit-bench: error: {name} is in use by pid {holder.pid}: wait for it to finish"]
            assert not export.exists()  # no baseline exported from a half-written run
        printed = run_cli("leaderboard", str(name), "--format", "json")
        assert printed.returncode == 2 and printed.stdout == ""
        gate = run_cli("gate", "--baseline", str(name), "--current", str(baseline))  # as the baseline side too
        assert gate.returncode == 2, gate.stdout + gate.stderr
    board = run_cli("leaderboard", str(name), "--format", "json", "--output", str(export))
    assert board.returncode == 0, board.stderr  # the lock died with its process
    assert export.exists()


def test_a_writer_cannot_start_while_a_reader_reads(inputs, tmp_path):
    real = _run_dir(inputs, tmp_path / "runs" / "current")
    link = tmp_path / "current-link"
    link.symlink_to(real)
    eval_dir = real / "base" / "humaneval" / "eval"
    with Holder(link, "reading"):  # a gate or leaderboard reading the run
        proc = run_cli("merge", str(real))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert errors(proc) == [f"fgit-bench: error: {real} is in use by another process reading it"], proc.stderr
    assert statuses(eval_dir) == inputs["tables"]["good"]
    assert sorted(p.name for p in real.iterdir()) == ["base"]  # nothing written

"""Fail closed on a shared runner's faults, for real: a full disk (a small tmpfs) under the output directory and
under the cache, and two real processes writing one output directory. Each ends with the exit code and the one
line of the contract (3 "no space left on <path>", 2 "<dir> is in use by pid N"), no temp file left behind, and
outputs that agree with each other."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REPO, run_cli, write_jsonl
from tests.sandbox_fixtures import unavailable
from tests.test_fail_closed import canonical, evaluate, problems, statuses  # noqa: F401 (fixture)

TWO = ["HumanEval/0", "HumanEval/2"]


def errors(proc) -> list[str]:
    """stderr without the process sandbox's standing warning: the lines the contract is about."""
    return [line for line in proc.stderr.splitlines() if "only sets rlimits" not in line]


def _mount_tmpfs(path, size):
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        unavailable(f"cannot mount a tmpfs to fill up (needs root): {proc.stderr.strip()}")


@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / "small"
    _mount_tmpfs(mount, "1m")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount):
    with open(mount / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, problems):  # noqa: F811
    root = tmp_path_factory.mktemp("fail-closed-io")
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
    return {"good": good, "bad": bad, "cache": cache, "tables": tables}


def test_full_disk_under_the_output_keeps_the_old_outputs(inputs, small_fs):
    out = small_fs / "out"
    assert evaluate(inputs["good"], out, inputs["cache"]).returncode == 0
    _fill(small_fs)
    proc = evaluate(inputs["bad"], out, inputs["cache"])
    assert proc.returncode == 3, proc.stderr
    assert errors(proc) == [f"fgit-bench: error: no space left on {out}"], proc.stderr
    assert sorted(p.name for p in small_fs.iterdir()) == [".out.lock", "filler", "out"]  # no temp file left
    assert sorted(p.name for p in out.iterdir()) == ["eval_results.json", "results.jsonl"]
    assert statuses(out) == inputs["tables"]["good"]  # the previous pair, intact and consistent


def test_full_disk_under_the_cache_is_exit_3_and_leaves_no_temp_file(inputs, small_fs, tmp_path):
    # the cache's first write is the decompressed dataset (HumanEvalPlus: 10+ MB into a 1 MiB file system)
    proc = evaluate(inputs["good"], tmp_path / "out", small_fs)
    assert proc.returncode == 3, proc.stderr
    assert errors(proc) == [
        f"fgit-bench: error: no space left on {small_fs / 'data' / 'HumanEvalPlus-v0.1.10.jsonl'}"], proc.stderr
    assert list((small_fs / "data").iterdir()) == []
    assert not (tmp_path / "out").exists()


HOLD = """
import sys, time
from harness.core import outdir
with outdir.locked(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_second_writer_is_exit_2_naming_the_pid(inputs, tmp_path):
    runs = {}
    for name in ("baseline", "busy"):  # run directories holding the good evaluation
        runs[name] = tmp_path / name
        (runs[name] / "base" / "humaneval").mkdir(parents=True)
        shutil.copytree(inputs["cache"].parent / "good", runs[name] / "base" / "humaneval" / "eval")
    busy = runs["busy"]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(busy)], stdout=subprocess.PIPE, text=True, cwd=REPO,
                              stdin=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = evaluate(inputs["bad"], busy, inputs["cache"])
        assert proc.returncode == 2, proc.stderr
        assert errors(proc) == [f"fgit-bench: error: {busy} is in use by pid {holder.pid}"], proc.stderr
        assert sorted(p.name for p in busy.iterdir()) == ["base"]  # nothing written
        gate = run_cli("gate", "--baseline", str(runs["baseline"]), "--current", str(busy))
        assert gate.returncode == 2, gate.stderr
        assert errors(gate) == [f"fgit-bench: error: {busy} is in use by pid {holder.pid}: wait for it to finish"]
    finally:
        holder.kill()
        holder.wait()
    gate = run_cli("gate", "--baseline", str(runs["baseline"]), "--current", str(busy))
    assert gate.returncode == 0, gate.stdout + gate.stderr  # the lock died with its process


def test_two_concurrent_evaluations_never_mix_their_outputs(inputs, tmp_path):
    out = tmp_path / "shared"
    for _ in range(2):
        with ThreadPoolExecutor(2) as pool:
            procs = list(pool.map(lambda s: evaluate(s, out, inputs["cache"]), (inputs["good"], inputs["bad"])))
        codes = sorted(p.returncode for p in procs)
        assert codes in ([0, 0], [0, 2]), [p.stderr for p in procs]
        for p in procs:
            if p.returncode == 2:
                (line,) = errors(p)
                assert f"{out} is in use by pid " in line
        assert statuses(out) in (inputs["tables"]["good"], inputs["tables"]["bad"])  # one run's rows and summary

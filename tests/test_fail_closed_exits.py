"""Issue 28, item 7: bad input is exit 2 on every path, and no failure leaves anything behind. Each case is made for
real: a baseline holding a lone surrogate, a 50 MB model name, a samples file the kernel cannot read, a damaged and
an edited shard, a full tmpfs under a trained artifact's copy, a private /tmp for the process sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.core.atomic import jsonl_bytes
from tests.conftest import REPO, read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import canonical_samples, run_config
from tests.sandbox_fixtures import unavailable
from tests.test_fail_closed import evaluate, problems  # noqa: F401 (fixture)
from tests.test_fail_closed_io import _mount_tmpfs, errors

BASELINE = REPO / "leaderboards" / "baselines" / "smoke.json"


def one_error(proc, progress: str | None = None) -> str:
    """The one error line; `progress` names the prefix of the progress lines a command may print before it."""
    lines = [line for line in errors(proc) if not (progress and line.startswith(progress))]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("fgit-bench: error: "), lines
    return lines[0]


def test_a_baseline_holding_a_lone_surrogate_is_exit_2(tmp_path):
    document = json.loads(BASELINE.read_text(encoding="utf-8"))
    tasks = document["variants"]["base"]["HumanEval"]["tasks"]
    tasks["HumanEval/\ud800"] = tasks.pop("HumanEval/0")
    bad = tmp_path / "baseline.json"
    bad.write_text(json.dumps(document), encoding="utf-8")  # ensure_ascii: "\ud800" escaped, valid JSON
    proc = run_cli("gate", "--baseline", str(bad), "--current", str(BASELINE))
    assert proc.returncode == 2, proc.stderr[-3000:]  # was 3: UnicodeEncodeError writing the report
    assert "variants.base.HumanEval.tasks.HumanEval/\\ud800 holds a lone surrogate" in one_error(proc)


def test_a_50_mb_model_name_is_exit_2_and_writes_nothing(tmp_path):
    config = tmp_path / "big.toml"
    config.write_text(f'model = "{"m" * 50_000_000}"\nvariants = ["base"]\n[[benchmarks]]\nname = "humaneval"\n'
                      f'tasks = ["HumanEval/0"]\n', encoding="utf-8")
    proc = run_cli("run", "--config", str(config), "--output", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stderr[-3000:]  # was 3: OSError "File name too long"
    line = one_error(proc)
    assert "(50,000,000 characters): File name too long" in line and len(line) < 300
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kind", ["kernel read error", "directory"])
def test_an_unreadable_samples_file_is_exit_2(tmp_path, kind):
    samples = Path("/proc/self/mem") if kind == "kernel read error" else tmp_path
    proc = evaluate(samples, tmp_path / "out", tmp_path / "cache")
    assert proc.returncode == 2, proc.stderr[-3000:]  # was 3 for /proc/self/mem (EIO)
    expected = "Input/output error" if kind == "kernel read error" else "is not a regular file"
    assert expected in one_error(proc) and not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """A real 2-shard run (tiny model, replayed canonical solutions, a real sandbox), kept pristine: each test
    copies it."""
    root = tmp_path_factory.mktemp("sharded")
    rows = canonical_samples("humaneval", 4)
    (root / "replay").mkdir()
    (root / "replay" / "base-humaneval.jsonl").write_bytes(jsonl_bytes(rows))
    config = run_config(root / "run.toml", model=str(tiny_model_dir()), variants=["base"],
                        replay=str(root / "replay" / "{variant}-{benchmark}.jsonl"), benchmarks={"humaneval": 4})
    for shard in ("1/2", "2/2"):
        proc = run_cli("run", "--config", str(config), "--output", str(root / "run"), "--shard", shard)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "run", config


def _copy(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target, symlinks=True)
    return target


def _nothing_merged(run: Path) -> bool:
    return not (run / "manifest.json").exists() and not (run / "base" / "humaneval" / "eval").exists()


def test_merge_refuses_a_damaged_shard_before_writing_anything(sharded, tmp_path):
    run = _copy(sharded[0], tmp_path)
    results = run / "base" / "humaneval" / "shards" / "2-of-2" / "eval" / "results.jsonl"
    results.write_bytes(results.read_bytes()[:-40])  # truncated inside its last line
    proc = run_cli("merge", str(run))
    assert proc.returncode == 2, proc.stderr[-3000:]  # was 3, after manifest.json had been written
    assert str(results) in one_error(proc)
    assert _nothing_merged(run)


def test_merge_refuses_an_edited_shard_and_a_rerun_of_that_shard_repairs_it(sharded, tmp_path):
    run, config = _copy(sharded[0], tmp_path), sharded[1]
    results = run / "base" / "humaneval" / "shards" / "1-of-2" / "eval" / "results.jsonl"
    rows = read_jsonl(results)
    assert rows[0]["base_pass"] is True
    results.write_bytes(jsonl_bytes([{**rows[0], "base_pass": False}, *rows[1:]]))  # valid JSON, another verdict
    proc = run_cli("merge", str(run))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "differs from the sha256 its shard recorded" in one_error(proc) and _nothing_merged(run)

    again = run_cli("run", "--config", str(config), "--output", str(run), "--shard", "1/2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert read_jsonl(results)[0]["base_pass"] is True  # the shard's evaluate ran again
    merged = run_cli("merge", str(run))
    assert merged.returncode == 0, merged.stderr[-3000:]
    board = json.loads((run / "leaderboard.json").read_text(encoding="utf-8"))
    assert all(all(board["variants"]["base"][m]["tasks"].values()) for m in board["variants"]["base"])

    # the merged run's own files are bound to its manifest like an unsharded run's
    merged_results = run / "base" / "humaneval" / "eval" / "results.jsonl"
    merged_rows = read_jsonl(merged_results)
    merged_results.write_bytes(jsonl_bytes([{**merged_rows[0], "plus_pass": False}, *merged_rows[1:]]))
    board_again = run_cli("leaderboard", str(run), "--format", "json")
    assert board_again.returncode == 2, board_again.stderr[-3000:]
    assert "differs from the sha256 its run recorded" in one_error(board_again)


@pytest.fixture
def tiny_fs(tmp_path):
    mount = tmp_path / "small"
    _mount_tmpfs(mount, "1m")  # the tiny model's weights are ~16 MB: its copy cannot fit
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_under_an_artifact_copy_leaves_no_staging_directory_nor_log(tmp_path, tiny_fs, shared_data):
    cache = {"FGIT_BENCH_CACHE": str(tmp_path / "cache")}
    args = ["train", "--variant", "sft", "--model", str(tiny_model_dir()), "--data",
            str(shared_data / "QuixBugs-python.jsonl"), "--limit", "2"]
    first = run_cli(*args, "--output", str(tmp_path / "first"), env=cache)
    assert first.returncode == 0, first.stderr[-3000:]
    proc = run_cli(*args, "--output", str(tiny_fs / "artifact"), env=cache)  # cached: only the copy runs
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "no space left on" in one_error(proc, progress="data: ")  # was "internal error: Error: [...]" (copytree's errno lost)
    assert sorted(p.name for p in tiny_fs.iterdir()) == []  # was .artifact.tmp-PID and a partial error.log


def test_the_process_sandbox_leaves_nothing_in_tmp():
    """Programs killed at their time limit (SIGKILL) under the process sandbox, with /tmp a private tmpfs (a mount
    namespace): afterwards /tmp holds only the guest's own cached copy. Everything else of the run lives outside
    /tmp so that nothing of the test's own hides a leak."""
    if shutil.which("unshare") is None:
        unavailable("unshare (util-linux) is not installed")
    outside = Path(tempfile.mkdtemp(prefix="fgit-tmp-leak-", dir="/var/tmp"))
    try:
        samples = outside / "loops.jsonl"
        samples.write_bytes(jsonl_bytes([
            {"task_id": "HumanEval/0", "solution": "def has_close_elements(numbers, threshold):\n    while True:\n"
                                                   "        pass\n"},
            {"task_id": "HumanEval/2", "solution": "def truncate_number(number):\n    import time\n"
                                                   "    time.sleep(100)\n"}]))
        script = (f"mount -t tmpfs tmpfs /tmp || exit 97\n"
                  f"{sys.executable} -m harness.app.cli evaluate --benchmark humaneval --samples {samples} "
                  f"--output {outside / 'out'} --sandbox process --jobs 2 >{outside / 'log'} 2>&1 || exit 98\n"
                  f"ls -A /tmp\n")
        proc = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script], cwd=REPO,
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                              env={**os.environ, "FGIT_BENCH_CACHE": str(outside / "cache")})
        if proc.returncode == 97 or "unshare failed" in proc.stderr:
            unavailable(f"cannot make a private /tmp (needs root): {proc.stderr.strip()}")
        assert proc.returncode == 0, (outside / "log").read_text(errors="replace")[-3000:] + proc.stderr
        statuses = {r["task_id"]: r["base_status"] for r in read_jsonl(outside / "out" / "results.jsonl")}
        assert statuses == {"HumanEval/0": "fail", "HumanEval/2": "fail"}
        left = proc.stdout.split()
        assert [name for name in left if not name.startswith("fgit-bench-guest-")] == [], left  # was tmpXXXX each
    finally:
        shutil.rmtree(outside, ignore_errors=True)

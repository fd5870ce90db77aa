"""`fgit-bench generate` end to end: the embedded model on HumanEval+ (then evaluate), the cache, Ctrl-C, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness.app.cli import main
from harness.generation.hf import HFBackend
from harness.models import resolve_model
from tests.conftest import REPO, read_jsonl, run_cli
from tests.generation_support import tiny_model_dir


def _generate_args(out, cache, *extra):
    return ["generate", "--benchmark", "humaneval", "--cache-dir", str(cache), "--no-progress", "--output", str(out),
            *extra]


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "error" in line]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.model
def test_embedded_model_on_humaneval_then_cache_hit_then_evaluate(tmp_path, capsys):
    out, cache = tmp_path / "samples.jsonl", tmp_path / "cache"
    args = _generate_args(out, cache, "--limit", "3", "--max-new-tokens", "48", "--batch-size", "3")
    loads, tokenizer_loads = HFBackend.loads, HFBackend.tokenizer_loads
    assert main(args) == 0
    assert HFBackend.loads == loads + 1
    rows = read_jsonl(out)
    assert [r["task_id"] for r in rows] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    spec = resolve_model("smollm2")
    with open(os.path.join(spec.path, spec.gguf_file), "rb") as handle:
        gguf_sha256 = hashlib.sha256(handle.read()).hexdigest()
    for row in rows:
        assert row["model"] == "smollm2" and row["model_hash"] == gguf_sha256
        assert row["prompt"].startswith("<|im_start|>system") and row["prompt"].endswith("```python\n")
        assert row["prompt_style"] == "chat" and "completion" not in row  # chat: the solution is the whole program
        assert isinstance(row["solution"], str) and row["raw"].strip()
        assert 0 < row["n_tokens"] <= 48 and not row["cached"]
        assert row["decoding"] == {"greedy": True, "max_new_tokens": 48, "batch_mode": "invariant", "batch_size": 3,
                                   "dtype": "float32", "device": "cpu", "row_block": 8}
        assert set(row["versions"]) == {"transformers", "torch", "prompt_encoding"}  # issue 18: the prompt-encoding rule is an engine fact
        assert row["dataset"]["md5"] == "fe585eb4df8c88d844eeb463ea4d0302"
        assert len(row["template_hash"]) == 64 and len(row["tokenizer"]) == 64
    # the greedy output for HumanEval/0 opens the function the prompt asked for
    assert "def has_close_elements" in rows[0]["raw"]

    # same command again: everything from the cache; neither model nor tokenizer is loaded
    started = time.monotonic()
    assert main(args) == 0
    elapsed = time.monotonic() - started
    assert HFBackend.loads == loads + 1 and HFBackend.tokenizer_loads == tokenizer_loads + 1
    again = read_jsonl(out)
    assert all(r["cached"] for r in again)
    assert [{**r, "cached": None} for r in again] == [{**r, "cached": None} for r in rows]
    assert "3 from cache, 0 generated" in capsys.readouterr().err
    print(f"cached rerun took {elapsed:.2f} s in-process")

    # the samples are what `fgit-bench evaluate` takes
    proc = run_cli("evaluate", "--benchmark", "humaneval", "--samples", str(out), "--output", str(tmp_path / "eval"),
                   "--sandbox", "process", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert "pass@1" in proc.stdout
    results = json.loads((tmp_path / "eval" / "eval_results.json").read_text())
    assert set(results["eval"]) == {"HumanEval/0", "HumanEval/1", "HumanEval/2"}


def test_ctrl_c_keeps_finished_tasks_and_the_rerun_generates_only_the_rest(tmp_path):
    out, cache = tmp_path / "samples.jsonl", tmp_path / "cache"
    args = _generate_args(out, cache, "--model", str(tiny_model_dir()), "--limit", "6", "--max-new-tokens", "160",
                          "--batch-size", "1")
    proc = subprocess.Popen([sys.executable, "-m", "harness.app.cli", *args], cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 600
    while not list(cache.glob("generations/outputs/*/*.json")):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and not out.exists()
    saved = len(list(cache.glob("generations/outputs/*/*.json")))
    assert 1 <= saved < 6

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only cost barrier waits
    try:
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)
    rows = read_jsonl(out)
    assert [r["task_id"] for r in rows] == [f"HumanEval/{i}" for i in range(6)]
    assert sum(r["cached"] for r in rows) == saved  # finished tasks were not generated again
    assert len(list(cache.glob("generations/outputs/*/*.json"))) == 6  # and nothing is stored twice


def test_unknown_model_path_is_bad_input(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    code = main(_generate_args(out, tmp_path / "c", "--model", str(tmp_path / "no-such-model"), "--limit", "1"))
    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "unknown model" in line and "no-such-model" in line
    assert not out.exists()


def test_gguf_that_is_not_a_model_is_bad_input(tmp_path):
    garbage = tmp_path / "x.gguf"
    garbage.write_bytes(os.urandom(4096))
    truncated = tmp_path / "y.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00garbage")  # right magic, then nothing sensible
    for path in (garbage, truncated):
        out = tmp_path / f"{path.stem}.jsonl"
        proc = run_cli(*_generate_args(out, tmp_path / "c", "--model", str(path), "--limit", "1"))
        assert proc.returncode == 2, proc.stderr
        line = _one_error_line(proc.stderr)
        assert "cannot load tokenizer" in line and path.name in line
        assert not out.exists()


def test_bad_flags_are_bad_input(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert main(_generate_args(out, tmp_path / "c", "--tasks", "HumanEval/9999")) == 2
    assert "unknown humaneval task" in _one_error_line(capsys.readouterr().err)
    assert main(_generate_args(out, tmp_path / "c", "--backend", "hff")) == 2
    assert "did you mean 'hf'" in _one_error_line(capsys.readouterr().err)
    assert main(_generate_args(out, tmp_path / "c", "--backend", "replay", "--samples-from", str(tmp_path / "none"))) == 2
    assert "no such file" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()

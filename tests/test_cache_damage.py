"""A damaged or tampered entry of the generation and artifact caches is recomputed (said once), and the result
equals the clean run's. (Verdicts and ground truth: tests/test_fail_closed.py.) Real runs: a tiny Llama
generating and training; the damage is real bytes changed on disk."""

from __future__ import annotations

import json
import os
import random

import pytest

from harness.app.cli import main
from tests.conftest import read_jsonl
from tests.generation_support import tiny_model_dir
from tests.test_train_cli import TINY_TOML


def _damaged(stderr: str, kind: str) -> list[str]:
    return [line for line in stderr.splitlines() if f"damaged {kind} cache entry" in line]


@pytest.mark.slow  # 100 s on the shared 2-core machine; the default selection covers the envelope via verdicts
def test_damaged_generations_are_regenerated_identically(tmp_path, capsys):
    cache = tmp_path / "cache"
    args = ["generate", "--model", str(tiny_model_dir()), "--benchmark", "humaneval", "--cache-dir", str(cache),
            "--no-progress", "--limit", "2", "--max-new-tokens", "24"]
    assert main([*args, "--output", str(tmp_path / "clean.jsonl")]) == 0
    clean = read_jsonl(tmp_path / "clean.jsonl")
    capsys.readouterr()
    first, second = sorted((cache / "outputs").rglob("*.json"))
    first.write_bytes(random.Random(1).randbytes(200))  # random bytes
    entry = json.loads(second.read_text())
    entry["value"]["raw"] = entry["value"]["solution"] = "def injected(): pass\n"  # tampered, checksum left
    second.write_text(json.dumps(entry))
    assert main([*args, "--output", str(tmp_path / "again.jsonl")]) == 0
    err = capsys.readouterr().err
    assert len(_damaged(err, "generation")) == 1, err
    assert "(0 from cache, 2 generated" in err
    again = read_jsonl(tmp_path / "again.jsonl")
    assert [(r["task_id"], r["raw"], r["solution"]) for r in again] == [
        (r["task_id"], r["raw"], r["solution"]) for r in clean]


@pytest.mark.slow  # 74 s: a real (tiny) training run, twice
def test_damaged_artifact_is_retrained_identically(tmp_path, monkeypatch, capsys, shared_data):
    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cfg.toml").write_text(TINY_TOML)
    args = ["train", "--variant", "sft", "--model", str(tiny_model_dir()), "--data",
            str(shared_data / "QuixBugs-python.jsonl"), "--limit", "4", "--config", str(tmp_path / "cfg.toml")]
    assert main([*args, "--output", str(tmp_path / "clean")]) == 0
    key = json.loads((tmp_path / "clean" / "artifact.json").read_text())["cache_key"]
    weights = tmp_path / "cache" / "artifacts" / key / "model" / "model.safetensors"
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01  # one flipped bit in the weights
    replacement = weights.with_name("damaged.tmp")
    replacement.write_bytes(bytes(damaged))
    os.replace(replacement, weights)  # a new inode: the clean output's hard link keeps the good bytes
    capsys.readouterr()

    assert main([*args, "--output", str(tmp_path / "again")]) == 0
    captured = capsys.readouterr()
    assert "sft: trained artifact" in captured.out, captured.out
    assert len(_damaged(captured.err, "artifact")) == 1, captured.err
    clean_weights = (tmp_path / "clean" / "model" / "model.safetensors").read_bytes()
    assert (tmp_path / "again" / "model" / "model.safetensors").read_bytes() == clean_weights
    assert main([*args, "--output", str(tmp_path / "third")]) == 0
    assert "sft: cached artifact" in capsys.readouterr().out

"""Issue 28, item 1: the dequantized copy of the embedded GGUF model is verified before use. Bytes overwritten inside
its `model.safetensors` (size unchanged) used to give empty outputs with exit 0; now the copy fails its checksums,
is removed, the GGUF is dequantized again, and the outputs are the model's own. The generation cache is off in
both runs, so the second run's text can only come from the weights it loaded."""

from __future__ import annotations

import json

from tests.conftest import read_jsonl, run_cli

GENERATE = ["generate", "--model", "smollm2", "--benchmark", "humaneval", "--limit", "1", "--max-new-tokens", "3",
            "--no-cache", "--no-progress"]


def test_damaged_dequantized_model_is_rebuilt_not_used(tmp_path):
    env = {"FGIT_BENCH_CACHE": str(tmp_path / "cache")}
    first = run_cli(*GENERATE, "--output", str(tmp_path / "first.jsonl"), env=env)
    assert first.returncode == 0, first.stderr
    [copy] = list((tmp_path / "cache" / "dequantized").iterdir())
    weights = copy / "model.safetensors"
    envelope = json.loads((copy / "cache_entry.json").read_text())
    assert "model.safetensors" in envelope["value"]["files"]

    size = weights.stat().st_size
    with open(weights, "r+b") as handle:  # overwrite 1 MiB in the middle of the tensors, size unchanged
        handle.seek(size // 2)
        handle.write(b"\xff" * (1 << 20))
    assert weights.stat().st_size == size

    second = run_cli(*GENERATE, "--output", str(tmp_path / "second.jsonl"), env=env)
    assert second.returncode == 0, second.stderr
    assert "damaged dequantized-model cache entry" in second.stderr, second.stderr
    text = [r["raw"] for r in read_jsonl(tmp_path / "first.jsonl")]
    assert text and text[0].strip(), "the undamaged model writes something"
    assert [r["raw"] for r in read_jsonl(tmp_path / "second.jsonl")] == text
    # the copy was made again, whole, and verifies
    from harness.core import cache_entry

    assert [p.name for p in (tmp_path / "cache" / "dequantized").iterdir()] == [copy.name]
    assert cache_entry.verify_dir(copy, envelope["key"], "dequantized-model", required="model.safetensors")

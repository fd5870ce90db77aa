"""`generate` + `evaluate` on QuixBugs: the embedded SmolLM2 (chat) and a tiny encoder–decoder (T5 built from a
config here, with the SmolLM2 tokenizer minus its chat template, as the CodeT5 family ships): source→target
prompts, batched greedy decoding, the same cache keys, and samples `evaluate` scores."""

from __future__ import annotations

import json

import pytest

from harness.app.cli import main
from harness.core.errors import BadInput
from harness.generation.hf import HFBackend
from harness.generation.prompts import choose_style, extract, make_template
from harness.models import is_seq2seq, resolve_model
from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir, tiny_t5_dir


def _generate(out, cache, *extra) -> list[dict]:
    select = [] if "--tasks" in extra else ["--limit", "3"]
    assert main(["generate", "--benchmark", "quixbugs", *select, "--cache-dir", str(cache), "--no-progress",
                 "--output", str(out), *extra]) == 0
    return read_jsonl(out)


def _evaluate(samples, out) -> dict:
    proc = run_cli("evaluate", "--benchmark", "quixbugs", "--samples", str(samples), "--output", str(out),
                   "--sandbox", "process", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "exact_match" in proc.stdout and "plausible" in proc.stdout
    return json.loads((out / "eval_results.json").read_text())


IDS = ["QuixBugs/bitcount", "QuixBugs/breadth_first_search", "QuixBugs/bucketsort"]
SHORT = ["QuixBugs/bitcount", "QuixBugs/gcd", "QuixBugs/sieve"]  # release order


@pytest.mark.model
def test_embedded_model_repairs_then_evaluate(tmp_path):
    # the three shortest prompts (CPU prefill dominates the cost), few new tokens
    rows = _generate(tmp_path / "s.jsonl", tmp_path / "cache", "--tasks", "bitcount,gcd,sieve", "--max-new-tokens",
                     "16", "--batch-size", "3")
    assert [r["task_id"] for r in rows] == SHORT
    for row in rows:
        assert row["prompt_style"] == "chat" and "completion" not in row  # the answer is the whole program
        assert "Fix the bug in the following Python program" in row["prompt"] and "# Buggy program" in row["prompt"]
        assert row["prompt"].endswith("```python\n") and row["benchmark"] == "quixbugs"
        assert 0 < row["n_tokens"] <= 16
    results = _evaluate(tmp_path / "s.jsonl", tmp_path / "eval")
    assert set(results["eval"]) == set(SHORT) and set(results["pass_at_k"]["repair"]) == {
        "exact_match", "line_exact_match", "plausible"}


def test_tiny_encoder_decoder_generates_source_to_target_then_evaluate(tmp_path):
    model = str(tiny_t5_dir())
    assert is_seq2seq(resolve_model(model)) and not is_seq2seq(resolve_model(str(tiny_model_dir())))
    cache = tmp_path / "cache"
    loads = HFBackend.loads
    plain = _generate(tmp_path / "plain.jsonl", cache, "--model", model, "--max-new-tokens", "6",
                      "--batch-mode", "plain", "--batch-size", "3")
    assert HFBackend.loads == loads + 1
    for row in plain:
        assert row["prompt_style"] == "seq2seq" and row["prompt"].startswith("# Buggy program\n")
        assert row["prompt"].endswith("# Fixed program\n") and "<|im_start|>" not in row["prompt"]
        assert row["decoding"]["batch_mode"] == "plain" and row["decoding"]["batch_size"] == 3
        assert 0 < row["n_tokens"] <= 6 and row["raw"]
    # invariant mode decodes each source alone: the same text as plain batches of 1
    one = _generate(tmp_path / "one.jsonl", cache, "--model", model, "--max-new-tokens", "6",
                    "--batch-mode", "plain", "--batch-size", "1")
    alone = _generate(tmp_path / "alone.jsonl", cache, "--model", model, "--max-new-tokens", "6", "--batch-size", "3")
    assert [r["raw"] for r in alone] == [r["raw"] for r in one]
    assert all(r["decoding"]["batch_size"] == 1 for r in alone)
    # the same command again: every row from the cache, under the same keys, nothing loaded
    loads = HFBackend.loads
    again = _generate(tmp_path / "again.jsonl", cache, "--model", model, "--max-new-tokens", "6",
                      "--batch-mode", "plain", "--batch-size", "3")
    assert HFBackend.loads == loads and all(r["cached"] for r in again)
    assert [r["cache_key"] for r in again] == [r["cache_key"] for r in plain]
    results = _evaluate(tmp_path / "plain.jsonl", tmp_path / "eval")
    assert set(results["eval"]) == set(IDS)


def test_seq2seq_prompt_style_rules():
    meta = {"dataset": "humaneval", "entry_point": "f"}
    assert choose_style("auto", False, meta, seq2seq=True) == "seq2seq"
    assert choose_style("auto", False, meta) == "direct"
    for requested, seq2seq in (("direct", True), ("seq2seq", False)):
        with pytest.raises(BadInput):
            choose_style(requested, False, meta, seq2seq=seq2seq)
    # HumanEval: the decoder continues the prompt (CodeT5+'s convention); QuixBugs: it writes the whole program
    prompt = "def f(x):\n"
    solution, completion = extract(make_template("seq2seq", meta, None), prompt, "    return x\n", "f")
    assert solution.startswith("def f(x):\n    return x") and completion == "    return x\n"
    repair = {"dataset": "quixbugs", "answer_is_program": True}
    solution, completion = extract(make_template("seq2seq", repair, None), "# Buggy program\n...",
                                   "def f(x):\n    return x\n", "f")
    assert solution.startswith("def f(x):") and completion is None
    direct = make_template("direct", meta, None)
    assert direct.template_hash() == make_template("direct", {**meta, "answer_is_program": False}, None).template_hash()
    assert make_template("seq2seq", meta, None).template_hash() != direct.template_hash()

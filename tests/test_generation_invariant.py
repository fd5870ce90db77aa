"""Batch-invariant decoding on tiny random models: outputs must not depend on batch size or batch company.

Every check compares token for token against batch 1; tiny random models make each decoding step cheap, and the
batch company varies (sizes 1 to 11, reversed order) so that every sequence sees different row positions.
"""

from __future__ import annotations

import json
import random

import pytest
import torch

from harness.app.cli import main
from harness.generation.base import DecodingConfig, GenerationRequest
from harness.generation.hf import HFBackend
from harness.generation.invariant import InvariantDecoder, _row_blocked_linear, invariant_model
from tests.generation_support import tiny_model_dir


def _prompts(count: int, vocab: int, seed: int = 1) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(vocab) for _ in range(rng.randrange(4, 60))] for _ in range(count)]


def _decode_all(model, prompts, batch_size, max_new_tokens=24, row_block=8):
    outputs = {}
    decoder = InvariantDecoder(model, eos_ids={-1}, row_block=row_block)
    decoder.generate(prompts, max_new_tokens, batch_size, lambda tokens: False,
                     lambda i, tokens: outputs.__setitem__(i, list(tokens)))
    return [outputs[i] for i in range(len(prompts))]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy machine thread barriers make tiny ops 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir(), dtype=torch.float32).eval()


def test_invariant_outputs_do_not_depend_on_batch_size(tiny):
    prompts = _prompts(11, tiny.config.vocab_size)
    reference = _decode_all(tiny, prompts, batch_size=1)
    assert all(len(tokens) == 24 for tokens in reference)
    for batch_size in (2, 5, 11):
        assert _decode_all(tiny, prompts, batch_size) == reference, f"batch {batch_size} differs from batch 1"
    # batch company: the same task among other tasks decodes the same
    shuffled = prompts[::-1]
    assert _decode_all(tiny, shuffled, batch_size=4) == reference[::-1]


def test_invariant_prefill_matches_plain_transformers(tiny):
    """The first token (prefill, batch 1) is exactly what transformers' own generate computes."""
    prompts = _prompts(4, tiny.config.vocab_size, seed=3)
    ours = _decode_all(tiny, prompts, batch_size=4, max_new_tokens=1)
    with torch.inference_mode():
        for prompt, tokens in zip(prompts, ours, strict=True):
            out = tiny.generate(torch.tensor([prompt]), max_new_tokens=1, do_sample=False, pad_token_id=0)
            assert out[0, -1].item() == tokens[0]


def test_model_is_restored_after_invariant_decoding(tiny):
    before = tiny.config._attn_implementation
    with invariant_model(tiny):
        assert tiny.config._attn_implementation == "fgit_ragged"
        assert "forward" in vars(tiny.lm_head)
    assert tiny.config._attn_implementation == before
    assert "forward" not in vars(tiny.lm_head)


def test_row_blocked_linear_is_invariant_where_plain_linear_is_not():
    """Why the linear layers are row-blocked: CPU BLAS results for a row depend on how many rows share the call."""
    from harness.generation import invariant

    torch.manual_seed(0)
    layer = torch.nn.Linear(576, 1536)
    x = torch.randn(13, 576)
    token = invariant._ROW_BLOCK.set(8)
    try:
        blocked = [_row_blocked_linear(layer, x[:m]) for m in range(1, 14)]
    finally:
        invariant._ROW_BLOCK.reset(token)
    for m in range(1, 14):
        assert torch.equal(blocked[m - 1], blocked[-1][:m])
    plain = [torch.nn.functional.linear(x[:m], layer.weight, layer.bias) for m in range(1, 14)]
    assert any(not torch.equal(plain[m - 1], plain[-1][:m]) for m in range(1, 14))


def test_invariant_with_lora_adapter_and_gqa():
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir(seed=1, kv_heads=1), dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False))
    model.eval()
    prompts = _prompts(6, base.config.vocab_size, seed=5)
    reference = _decode_all(model, prompts, batch_size=1, max_new_tokens=16)
    assert _decode_all(model, prompts, batch_size=6, max_new_tokens=16) == reference


def test_backend_modes_on_chat_prompts(tiny):
    """Through the hf backend with chat prompts of different lengths: invariant batch 8 == invariant batch 1, and
    plain batch 1 is exactly transformers' own greedy generate."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir())
    texts = [f"<|im_start|>user\nWrite function number {i} {'please ' * i}<|im_end|>\n<|im_start|>assistant\n"
             for i in range(8)]
    requests = [GenerationRequest(i, t, ()) for i, t in enumerate(texts)]

    def run(mode, batch_size):
        backend = HFBackend(str(tiny_model_dir()), DecodingConfig(max_new_tokens=32, batch_mode=mode))
        backend.adopt(tiny, tokenizer)
        outputs = {}
        backend.generate(requests, lambda o: outputs.__setitem__(o.index, o), batch_size=batch_size)
        return [outputs[i] for i in range(len(texts))]

    inv1, inv8 = run("invariant", 1), run("invariant", 8)
    assert [o.text for o in inv1] == [o.text for o in inv8]
    assert all(o.n_tokens == 32 for o in inv8) and {o.batch_size for o in inv8} == {8}
    plain1, plain8 = run("plain", 1), run("plain", 8)
    with torch.inference_mode():
        for text, out in zip(texts, plain1, strict=True):
            ids = tokenizer(text, return_tensors="pt")["input_ids"]
            full = tiny.generate(ids, max_new_tokens=32, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            assert out.text == tokenizer.decode(full[0, ids.shape[1]:], skip_special_tokens=True)
    assert all(o.n_tokens == 32 and o.batch_size == 8 for o in plain8)


def test_cli_check_batch_invariance_reports_zero_in_invariant_mode(tmp_path, capsys):
    out = tmp_path / "samples.jsonl"
    args = ["generate", "--model", str(tiny_model_dir()), "--benchmark", "humaneval", "--limit", "5",
            "--max-new-tokens", "24", "--batch-size", "4", "--cache-dir", str(tmp_path / "cache"), "--no-progress",
            "--output", str(out)]
    assert main([*args, "--check-batch-invariance", "--batch-mode", "invariant"]) == 0
    report = json.loads((tmp_path / "samples.batch_invariance.json").read_text())
    assert report["mismatches"] == 0 and report["tasks"] == 5 and report["batch_size"] == 4
    assert "0 of 5 tasks differ" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == [f"HumanEval/{i}" for i in range(5)]
    assert {r["decoding"]["batch_mode"] for r in rows} == {"invariant"}
    assert {r["decoding"]["row_block"] for r in rows} == {8}
    # plain mode: the check lists each differing task once, with the two diverging texts (how many differ depends
    # on the machine's kernels: the bench measures it on the embedded model)
    assert main([*args, "--check-batch-invariance", "--batch-mode", "plain"]) == 0
    report = json.loads((tmp_path / "samples.batch_invariance.json").read_text())
    listed = [item["task_id"] for item in report["differing"]]
    assert report["mismatches"] == len(listed) == len(set(listed))
    assert all(item["batch_1"] != item["batch_4"] for item in report["differing"])


def test_an_invariant_mode_mismatch_is_exit_3_not_the_gates_1(tmp_path, capsys, monkeypatch):
    """A mock, named as such: invariant batching that differs cannot be produced for real on a correct engine, so
    the check's report is replaced by one with a difference; what is tested is the CLI's exit code and message."""
    import harness.generation as generation

    real = generation.check_batch_invariance

    def differing(config, backend=None):
        result, report = real(config, backend)
        return result, {**report, "mismatches": 1,
                        "differing": [{"task_id": "HumanEval/0", "first_difference_at": 3}]}

    monkeypatch.setattr(generation, "check_batch_invariance", differing)
    out = tmp_path / "samples.jsonl"
    code = main(["generate", "--model", str(tiny_model_dir()), "--benchmark", "humaneval", "--limit", "2",
                 "--max-new-tokens", "8", "--batch-size", "2", "--cache-dir", str(tmp_path / "cache"),
                 "--no-progress", "--output", str(out), "--check-batch-invariance", "--batch-mode", "invariant"])
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "differed from batch 1 on 1 of 2 tasks" in err[-1]

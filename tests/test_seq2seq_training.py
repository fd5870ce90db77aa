"""Training encoder–decoder models (a tiny T5 built from a config in tests.generation_support): labels on the
decoder side, checked against transformers' own seq2seq loss; `train --variant sft` and `--variant fgit` on CPU
produce artifacts that generate; dpo and the teacher variant source say in one line that they cannot."""

from __future__ import annotations

import json

import pytest
import torch

from harness.app.cli import main
from harness.models import load_model, load_tokenizer, resolve_model
from plugins.methods.sft import SFTVariantConfig
from plugins.training.fault_weighted import encode_fault_weighted
from plugins.training.fgit_loss import FGitLossConfig, fgit_loss
from plugins.training.fgit_masks import INCORRECT_IDS, LINE_MASK
from plugins.training.trainer import (
    DecoderView,
    PadCollator,
    encode_sft,
    encoder_columns,
    mark_seq2seq,
    token_mean_cross_entropy,
)
from plugins.training.training_data import make_example
from tests.conftest import SHARED_DATA, read_jsonl
from tests.generation_support import tiny_t5_dir

EVOL = SHARED_DATA / "EvolInstruct-Code-4k.jsonl.gz"
EXAMPLES = [("Write add.", "```python\ndef add(a, b):\n    return a + b\n```"),
            ("Write a function that doubles x.", "Here:\n```python\ndef double(x):\n    return x * 2\n```\nDone.")]


@pytest.fixture(scope="module")
def t5():
    spec = resolve_model(str(tiny_t5_dir()))
    tokenizer, model = load_tokenizer(spec), load_model(spec)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    mark_seq2seq(tokenizer, model)
    return tokenizer, model


def _batch(tokenizer, encode, examples, config):
    rows = []
    for example in examples:
        row = encode(tokenizer, example, config)
        rows.append(row | encoder_columns(tokenizer, example.instruction, config.max_length))
    return PadCollator(tokenizer.pad_token_id)(rows)


def test_decoder_labels_are_the_target_and_the_loss_is_transformers_own(t5):
    tokenizer, model = t5
    config = SFTVariantConfig(max_length=256)
    examples = [make_example(instruction, response, {}) for instruction, response in EXAMPLES]
    batch = _batch(tokenizer, encode_sft, examples, config)
    start = model.config.decoder_start_token_id
    for i, (instruction, response) in enumerate(EXAMPLES):
        # independent layout check: the target is the response's tokens then </s>; the decoder reads it after start
        target = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        n = len(target)
        assert batch["input_ids"][i, 0] == start and batch["input_ids"][i, 1 : n + 1].tolist() == target
        assert batch["labels"][i, 0] == -100 and batch["labels"][i, 1 : n + 1].tolist() == target
        assert (batch["labels"][i, n + 1 :] == -100).all()
        assert batch["encoder_input_ids"][i, : batch["encoder_attention_mask"][i].sum()].tolist() == \
            tokenizer(instruction)["input_ids"]
    model.eval()
    with torch.no_grad():
        ours = token_mean_cross_entropy(DecoderView(model, batch), batch)
        # transformers' seq2seq loss: labels = the target (pad -100), decoder input = labels shifted right
        labels = batch["labels"][:, 1:].contiguous()
        theirs = model(input_ids=batch["encoder_input_ids"], attention_mask=batch["encoder_attention_mask"],
                       labels=labels).loss
        # and by hand: mean over target tokens of −log softmax at the step before each
        logits = model(input_ids=batch["encoder_input_ids"], attention_mask=batch["encoder_attention_mask"],
                       decoder_input_ids=batch["input_ids"]).logits
        logp = torch.log_softmax(logits[:, :-1].double(), -1)
        picked = [-logp[b, t, labels[b, t]] for b in range(labels.size(0)) for t in range(labels.size(1))
                  if labels[b, t] != -100]
        by_hand = torch.stack(picked).mean()
    assert torch.allclose(ours, theirs, atol=1e-5) and torch.allclose(ours.double(), by_hand, atol=1e-5)


def test_fgit_rows_mask_decoder_tokens_and_weight_one_is_sft(t5):
    tokenizer, model = t5
    config = SFTVariantConfig(max_length=256)
    response = "```python\ndef add(a, b):\n    return a + b\n```"
    example = make_example("Write add.", response, {}, incorrect="def add(a, b):\n    return a - b")
    batch = _batch(tokenizer, encode_fault_weighted, [example], config)
    changed = [tokenizer.decode([int(t)]) for t, m in zip(batch["input_ids"][0], batch[LINE_MASK][0], strict=True)
               if m]
    assert "+" in "".join(changed) and "def" not in "".join(changed)  # the changed line, on the decoder side
    assert batch[INCORRECT_IDS][0, 0] == model.config.decoder_start_token_id
    with torch.no_grad():
        fixed = fgit_loss(DecoderView(model, batch), batch, FGitLossConfig(fixed_weight=1.0)).loss
        sft = token_mean_cross_entropy(DecoderView(model, batch), batch)
        dynamic = fgit_loss(DecoderView(model, batch), batch, FGitLossConfig(alpha=2.0)).loss
    assert torch.allclose(fixed, sft, atol=1e-6) and torch.isfinite(dynamic)


TOML = """
[plugins.sft]
max_length = 192
batch_size = 2
gradient_accumulation_steps = 1
max_steps = 2
learning_rate = 1e-3

[plugins.fgit]
variant_source = "mutation"
max_length = 192
batch_size = 2
gradient_accumulation_steps = 1
max_steps = 2
learning_rate = 1e-3
[plugins.fgit.variants]
n_candidates = 2

[plugins.dpo]
variant_source = "mutation"
"""


@pytest.mark.parametrize("variant", ["sft", "fgit"])
def test_train_then_generate_from_the_artifact(variant, tmp_path, capsys):
    config = tmp_path / "cfg.toml"
    config.write_text(TOML)
    out = tmp_path / variant
    assert main(["train", "--variant", variant, "--model", str(tiny_t5_dir()), "--data", str(EVOL), "--limit", "4",
                 "--benchmarks", "none", "--config", str(config), "--output", str(out)]) == 0
    manifest = json.loads((out / "artifact.json").read_text())
    assert manifest["plugin"] == variant
    losses = [r["loss"] for r in read_jsonl(out / "train_log.jsonl") if "loss" in r]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    if variant == "fgit":
        assert manifest["pairs"]["paired"] >= 1
    samples = tmp_path / "samples.jsonl"
    assert main(["generate", "--model", str(out), "--benchmark", "quixbugs", "--limit", "1", "--max-new-tokens", "4",
                 "--no-progress", "--output", str(samples)]) == 0
    (row,) = read_jsonl(samples)
    assert row["prompt_style"] == "seq2seq" and row["n_tokens"] > 0 and row["model"] == str(out)


@pytest.mark.parametrize(("variant", "extra", "message"), [
    ("dpo", [], "DPOTrainer trains causal models only"),
    ("fgit", ["--config-none"], "the teacher variant source samples from a causal model"),
])
def test_unsupported_plugins_say_so_in_one_line(variant, extra, message, tmp_path, capsys):
    config = tmp_path / "cfg.toml"
    config.write_text(TOML if not extra else "[plugins.fgit]\nmax_length = 128\n[plugins.fgit.variants]\nn_candidates = 1\n"
                                             "max_new_tokens = 8\n")
    rc = main(["train", "--variant", variant, "--model", str(tiny_t5_dir()), "--data", str(EVOL), "--limit", "2",
               "--benchmarks", "none", "--config", str(config), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and message in lines[0], err

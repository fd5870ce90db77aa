"""The shared training engine and Standard-SFT, on tiny random Llama models with the real SmolLM2 tokenizer."""

from __future__ import annotations

import json
import math

import pytest
import torch

from harness.core.config import from_dict
from harness.core.errors import BadInput
from harness.models import load_model, resolve_model
from plugins.methods.sft import SFTPlugin, SFTVariantConfig
from plugins.training.trainer import (
    PadCollator,
    encode_example,
    token_mean_cross_entropy,
    trainer_classes,
    training_arguments,
)
from plugins.training.training_data import make_example
from tests.generation_support import load_saved_tokenizer, tiny_model_dir


def _example(instruction: str, body: str):
    return make_example(instruction, f"Here you go:\n```python\n{body}\n```", {})


EXAMPLES = [
    _example("Write add.", "def add(a, b):\n    return a + b"),
    _example("Write a function that returns the largest of three numbers, then explain nothing else.",
             "def largest(a, b, c):\n    best = a\n    if b > best:\n        best = b\n    if c > best:\n"
             "        best = c\n    return best"),
    _example("Write neg.", "def neg(x):\n    return -x"),
]


@pytest.fixture(scope="module")
def tokenizer():
    return load_saved_tokenizer()


@pytest.fixture(scope="module")
def tiny_model():
    return load_model(resolve_model(str(tiny_model_dir())))


def _independent_boundary(tokenizer, instruction, response):
    """Prompt length in tokens, from the chat template alone (not from the code under test)."""
    user = [{"role": "user", "content": instruction}]
    prompt = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=True, return_dict=True)
    full = tokenizer.apply_chat_template(user + [{"role": "assistant", "content": response}], tokenize=True,
                                         return_dict=True)
    assert full["input_ids"][: len(prompt["input_ids"])] == prompt["input_ids"]
    return len(prompt["input_ids"]), full["input_ids"]


def test_prompt_tokens_get_no_labels(tokenizer):
    example = EXAMPLES[1]
    encoded = encode_example(tokenizer, example.instruction, example.response, max_length=1024)
    boundary, full_ids = _independent_boundary(tokenizer, example.instruction, example.response)
    assert encoded["input_ids"] == full_ids
    assert encoded["labels"][:boundary] == [-100] * boundary
    assert encoded["labels"][boundary:] == full_ids[boundary:]
    assert tokenizer.decode(full_ids[boundary:]) == example.response + "<|im_end|>\n"
    start = encoded["response_start"]
    assert encoded["text"][start:].startswith(example.response)
    assert encoded["offsets"][boundary][0] == start  # the first answer token starts where the answer starts


def test_prompt_positions_get_no_gradient(tokenizer, tiny_model):
    encoded = encode_example(tokenizer, EXAMPLES[0].instruction, EXAMPLES[0].response, max_length=1024)
    batch = PadCollator(tokenizer.pad_token_id)([{k: encoded[k] for k in ("input_ids", "attention_mask", "labels")}])
    captured = {}

    def keep_logits(module, args, output):
        output.logits.retain_grad()
        captured["logits"] = output.logits

    handle = tiny_model.register_forward_hook(keep_logits)
    try:
        token_mean_cross_entropy(tiny_model, batch).backward()
    finally:
        handle.remove()
    per_position = captured["logits"].grad[0].abs().sum(-1)  # position t predicts token t + 1
    boundary = encoded["labels"].index(next(x for x in encoded["labels"] if x != -100))
    assert torch.all(per_position[: boundary - 1] == 0)  # predicting prompt tokens: no loss
    assert torch.all(per_position[boundary - 1: -1] > 0)  # predicting each answer token: loss
    assert per_position[-1] == 0  # the last position predicts nothing


def test_plain_concatenation_without_a_chat_template(tokenizer):
    plain = load_saved_tokenizer()
    plain.chat_template = None
    encoded = encode_example(plain, "Write neg.", "def neg(x): return -x", max_length=1024)
    prompt_ids = plain("Write neg.\n")["input_ids"]
    assert encoded["input_ids"][: len(prompt_ids)] == prompt_ids
    assert encoded["labels"][: len(prompt_ids)] == [-100] * len(prompt_ids)
    assert encoded["labels"][-1] == plain.eos_token_id
    assert plain.decode(encoded["input_ids"][len(prompt_ids):]) == "def neg(x): return -x" + plain.eos_token


def test_truncation_keeps_the_start_and_drops_rows_without_answer(tokenizer):
    example = EXAMPLES[1]
    boundary, _ = _independent_boundary(tokenizer, example.instruction, example.response)
    short = encode_example(tokenizer, example.instruction, example.response, max_length=boundary + 3)
    assert len(short["input_ids"]) == boundary + 3 and sum(x != -100 for x in short["labels"]) == 3
    assert encode_example(tokenizer, example.instruction, example.response, max_length=boundary) is None


def _independent_token_losses(model, tokenizer, examples):
    losses = []
    for example in examples:
        boundary, ids = _independent_boundary(tokenizer, example.instruction, example.response)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0]
        targets = torch.tensor(ids[boundary:])
        losses.append(torch.nn.functional.cross_entropy(logits[boundary - 1: -1], targets, reduction="none"))
    return losses


def test_sft_loss_equals_the_independent_token_mean_cross_entropy(tokenizer, tiny_model):
    rows = [encode_example(tokenizer, e.instruction, e.response, 1024) for e in EXAMPLES]
    batch = PadCollator(tokenizer.pad_token_id)([{k: r[k] for k in ("input_ids", "attention_mask", "labels")}
                                                 for r in rows])
    assert batch["input_ids"].shape[0] == 3 and len({len(r["input_ids"]) for r in rows}) == 3  # padding happens
    with torch.no_grad():
        loss = token_mean_cross_entropy(tiny_model, batch)
    expected = torch.cat(_independent_token_losses(tiny_model, tokenizer, EXAMPLES)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_accumulation_logs_the_token_mean_over_the_accumulated_batch(tmp_path, tokenizer):
    spec = resolve_model(str(tiny_model_dir()))
    config = SFTVariantConfig(learning_rate=0.0, batch_size=1, gradient_accumulation_steps=3, warmup=0,
                              lr_scheduler="constant", max_length=512)
    SFTPlugin().train(spec, EXAMPLES, config, tmp_path / "artifact")
    log = [json.loads(line) for line in (tmp_path / "artifact" / "train_log.jsonl").read_text().splitlines()]
    first = log[0]
    assert first["step"] == 1 and first["peak_memory_mb"] > 0 and first["samples_per_second_window"] > 0
    losses = _independent_token_losses(load_model(spec), tokenizer, EXAMPLES)
    token_mean = torch.cat(losses).mean().item()
    mean_of_means = sum(x.mean().item() for x in losses) / 3
    assert abs(token_mean - mean_of_means) > 1e-3  # the two normalisations differ on these rows
    assert first["loss"] == pytest.approx(token_mean, rel=1e-4)
    manifest = json.loads((tmp_path / "artifact" / "artifact.json").read_text())
    assert manifest["kind"] == "merged" and manifest["training"]["steps"] == 1
    assert manifest["training"]["tokens_seen"] == sum(len(r) for r in (encode_example(
        tokenizer, e.instruction, e.response, 512)["input_ids"] for e in EXAMPLES))


def test_padding_of_plugin_columns():
    rows = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "attention_mask": [1, 1, 1], "token_weights": [0.0, 1.0, 2.0],
             "incorrect_input_ids": [5], "incorrect_line_mask": [1], "sample_id": 3, "name": "a"},
            {"input_ids": [8], "labels": [-100], "attention_mask": [1], "token_weights": [1.0],
             "incorrect_input_ids": [5, 9, 9, 9], "incorrect_line_mask": [0, 1, 1, 2], "sample_id": 4, "name": "b"}]
    batch = PadCollator(pad_token_id=2, pad_values={"token_weights": 1.0})(rows)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 2, 2]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [-100, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["token_weights"].dtype == torch.float32 and batch["token_weights"].tolist() == [[0, 1, 2], [1, 1, 1]]
    assert batch["incorrect_input_ids"].tolist() == [[5, 2, 2, 2], [5, 9, 9, 9]]
    assert batch["incorrect_line_mask"].tolist() == [[1, 0, 0, 0], [0, 1, 1, 2]]
    assert batch["sample_id"].tolist() == [3, 4] and batch["name"] == ["a", "b"]


def _learning_rates(tmp_path, tiny_model, **overrides):
    config = SFTVariantConfig(learning_rate=1.0, **overrides)
    _, trainer_class = trainer_classes()
    trainer = trainer_class(model=tiny_model, args=training_arguments(config, tmp_path))
    trainer.wsd_decay = config.wsd_decay
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    rates = []
    for _ in range(10):
        rates.append(trainer.lr_scheduler.get_last_lr()[0])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    return rates


def test_learning_rate_schedules(tmp_path, tiny_model):
    assert _learning_rates(tmp_path, tiny_model, lr_scheduler="constant", warmup=0) == [1.0] * 10
    warm = _learning_rates(tmp_path, tiny_model, lr_scheduler="constant", warmup=2)
    assert warm == pytest.approx([0.0, 0.5] + [1.0] * 8)
    assert _learning_rates(tmp_path, tiny_model, lr_scheduler="linear", warmup=0) == pytest.approx(
        [1 - i / 10 for i in range(10)])
    assert _learning_rates(tmp_path, tiny_model, lr_scheduler="cosine", warmup=0) == pytest.approx(
        [0.5 * (1 + math.cos(math.pi * i / 10)) for i in range(10)])
    # WSD, 10 steps: 1 warmup step (0.1), stable, then the last 3 steps (0.3) decay (cosine).
    wsd = _learning_rates(tmp_path, tiny_model, lr_scheduler="wsd", warmup=0.1, wsd_decay=0.3)
    assert wsd[:7] == pytest.approx([0.0] + [1.0] * 6)
    assert wsd[7:] == pytest.approx([0.5 * (1 + math.cos(math.pi * i / 3)) for i in range(3)])


def test_config_from_a_toml_table_and_its_validation():
    config = from_dict(SFTVariantConfig, {"learning_rate": 1e-5, "lora": True, "lr_scheduler": "wsd"})
    assert (config.learning_rate, config.lora, config.epochs, config.max_length) == (1e-5, True, 1.0, 1024)
    defaults = SFTVariantConfig()
    assert (defaults.epochs, defaults.learning_rate, defaults.max_length) == (1.0, 5e-6, 1024)  # the paper's
    with pytest.raises(BadInput, match="did you mean 'learning_rate'"):
        from_dict(SFTVariantConfig, {"lerning_rate": 1e-5})
    with pytest.raises(BadInput, match="lr_scheduler must be one of"):
        from_dict(SFTVariantConfig, {"lr_scheduler": "cosnie"})


def _logits(spec, ids):
    with torch.no_grad():
        return load_model(spec)(input_ids=ids).logits


def test_lora_adapter_and_merged_artifacts_load_generate_and_agree(tmp_path, tokenizer):
    base = resolve_model(str(tiny_model_dir()))
    common = dict(lora=True, lora_r=4, lora_alpha=8, learning_rate=5e-2, batch_size=3,
                  gradient_accumulation_steps=1, max_length=256, warmup=0)
    SFTPlugin().train(base, EXAMPLES, SFTVariantConfig(**common), tmp_path / "adapter")
    SFTPlugin().train(base, EXAMPLES, SFTVariantConfig(**common, lora_merge=True), tmp_path / "merged")
    adapter_spec, merged_spec = resolve_model(str(tmp_path / "adapter")), resolve_model(str(tmp_path / "merged"))
    assert adapter_spec.adapter and adapter_spec.path == base.path
    assert merged_spec.adapter is None and merged_spec.path.endswith("merged/model")
    ids = torch.tensor([tokenizer("def add(a, b):")["input_ids"]])
    before, with_adapter, merged = _logits(base, ids), _logits(adapter_spec, ids), _logits(merged_spec, ids)
    assert (with_adapter - before).abs().max() > 1e-3  # training changed the model
    assert torch.allclose(with_adapter, merged, atol=1e-4)  # same seed, same training: merge == adapter
    generated = load_model(adapter_spec).generate(ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == ids.shape[1] + 4


def test_a_killed_run_resumes_from_its_last_checkpoint_without_double_counting(tmp_path):
    from plugins.training.trainer import run_training

    spec = resolve_model(str(tiny_model_dir()))
    config = SFTVariantConfig(batch_size=1, gradient_accumulation_steps=1, save_steps=1, max_length=256,
                              learning_rate=1e-3, warmup=0)
    calls = []

    def dies_at_step_three(model, inputs, num_items_in_batch):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return token_mean_cross_entropy(model, inputs, num_items_in_batch)

    with pytest.raises(RuntimeError, match="killed"):
        run_training(spec, EXAMPLES, config, tmp_path, plugin="sft", loss_fn=dies_at_step_three)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["checkpoint-2"]
    run_training(spec, EXAMPLES, config, tmp_path, plugin="sft")
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log if "loss" in row] == [1, 2, 3]
    manifest = json.loads((tmp_path / "artifact.json").read_text())
    assert manifest["training"]["steps"] == 3

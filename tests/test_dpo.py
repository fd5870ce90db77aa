"""DPO baseline: preference pairs from real correct/buggy programs, TRL tokenization equal to SFT's, a frozen
reference (a copy for full fine-tuning, the adapter-disabled model for LoRA)."""

from __future__ import annotations

import copy
import difflib
import json
import math

import pytest

from harness.models import load_model, resolve_model
from plugins.methods.dpo import DPOPlugin, DPOVariantConfig, _dpo_trainer_class, build_dpo_rows
from plugins.training.trainer import encode_example, training_arguments
from plugins.training.training_data import load_pairs_file, make_example
from tests.generation_support import load_saved_tokenizer, tiny_model_dir


@pytest.fixture(scope="module")
def tokenizer():
    return load_saved_tokenizer()


@pytest.fixture(scope="module")
def quixbugs(shared_data):
    path = shared_data / "QuixBugs-python.jsonl"
    return load_pairs_file(path), {r["name"]: r for r in map(json.loads, path.read_text().splitlines())}


def _changed_lines(a: str, b: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.ndiff(a.splitlines(), b.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_pairs_are_prompt_correct_and_buggy(tokenizer, quixbugs):
    pairs, raw = quixbugs
    rows, skipped = build_dpo_rows(pairs, tokenizer)
    assert len(rows) == 40 and skipped == 0
    for row, pair in zip(rows, pairs, strict=True):
        program = raw[pair.meta["task"]]
        assert row["prompt"] == [{"role": "user", "content": pair.instruction}]
        assert row["chosen"] == [{"role": "assistant", "content": "```python\n" + program["solution"].strip() + "\n```"}]
        assert row["rejected"] == [{"role": "assistant",
                                    "content": "```python\n" + program["buggy_program"].strip() + "\n```"}]
        # the pair differs exactly where the file's correct and buggy programs differ
        assert _changed_lines(row["chosen"][0]["content"], row["rejected"][0]["content"]) == _changed_lines(
            program["solution"].strip(), program["buggy_program"].strip())
    bitcount = rows[[p.meta["task"] for p in pairs].index("bitcount")]
    assert _changed_lines(bitcount["chosen"][0]["content"], bitcount["rejected"][0]["content"]) == (
        ["        n &= n - 1"], ["        n ^= n - 1"])


def test_rejected_keeps_the_prose_and_swaps_the_code(tokenizer):
    example = make_example("Write inc.", "Sure.\n\n```python\ndef inc(x):\n    return x + 1\n```\n\nIt adds one.", {},
                           incorrect="def inc(x):\n    return x - 1")
    no_variant = make_example("Write id.", "```python\ndef ident(x):\n    return x\n```", {})
    same = make_example("Write id.", "```python\ndef ident(x):\n    return x\n```", {},
                        incorrect="def ident(x):\n    return x\n")
    rows, skipped = build_dpo_rows([no_variant, example, same], tokenizer)
    assert skipped == 2 and len(rows) == 1
    assert rows[0]["rejected"][0]["content"] == "Sure.\n\n```python\ndef inc(x):\n    return x - 1\n```\n\nIt adds one."
    code_rows, _ = build_dpo_rows([example], tokenizer, target="code")
    assert code_rows[0]["chosen"][0]["content"] == "```python\ndef inc(x):\n    return x + 1\n```"
    plain = load_saved_tokenizer()
    plain.chat_template = None
    plain_rows, _ = build_dpo_rows([example], plain)
    assert plain_rows[0]["prompt"] == "Write inc.\n" and plain_rows[0]["chosen"] == example.response


def test_trl_sees_the_same_tokens_as_sft(tokenizer, quixbugs, tmp_path):
    pairs = quixbugs[0][:3]
    rows, _ = build_dpo_rows(pairs, tokenizer)
    model = load_model(resolve_model(str(tiny_model_dir())))
    config = DPOVariantConfig(max_length=4096)
    from datasets import Dataset
    from trl import DPOConfig

    args = training_arguments(config, tmp_path, args_class=DPOConfig, max_length=config.max_length)
    trainer = _dpo_trainer_class()(model=model, ref_model=copy.deepcopy(model), args=args,
                                   train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    for processed, pair in zip(trainer.train_dataset, pairs, strict=True):
        chosen = encode_example(tokenizer, pair.instruction, pair.response, 4096)
        rejected = encode_example(tokenizer, pair.instruction, rows[pairs.index(pair)]["rejected"][0]["content"], 4096)
        assert processed["prompt_ids"] + processed["chosen_ids"] == chosen["input_ids"]
        assert processed["prompt_ids"] + processed["rejected_ids"] == rejected["input_ids"]
        assert chosen["labels"].count(-100) == len(processed["prompt_ids"])


def _short_pairs(quixbugs, n=4):
    pairs, _ = quixbugs
    return sorted(pairs, key=lambda p: len(p.instruction) + len(p.code))[:n]


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_dpo_starts_at_log2_and_moves_away_from_the_frozen_reference(tmp_path, quixbugs, tokenizer, lora):
    config = DPOVariantConfig(batch_size=2, gradient_accumulation_steps=1, learning_rate=5e-2, warmup=0,
                              lr_scheduler="constant", max_length=320, epochs=2, lora=lora, lora_r=4, lora_alpha=8)
    DPOPlugin().train(resolve_model(str(tiny_model_dir())), _short_pairs(quixbugs, 2), config, tmp_path / "dpo")
    log = [json.loads(line) for line in (tmp_path / "dpo" / "train_log.jsonl").read_text().splitlines()]
    steps = [row for row in log if "loss" in row]
    assert len(steps) == 2
    # Policy == reference at the first step: every implicit reward is 0 and the loss is -log σ(0) = log 2.
    assert steps[0]["loss"] == pytest.approx(math.log(2), abs=1e-6) and steps[0]["rewards/margins"] == 0
    # Later the policy has moved while the reference stayed where it was: the rewards are no longer 0.
    assert abs(steps[1]["rewards/chosen"]) > 1e-4
    manifest = json.loads((tmp_path / "dpo" / "artifact.json").read_text())
    assert manifest["kind"] == ("adapter" if lora else "merged")
    assert manifest["training"]["pairs"] == manifest["training"]["pairs_trained"] == 2
    spec = resolve_model(str(tmp_path / "dpo"))
    ids = tokenizer("def gcd(a, b):", return_tensors="pt")["input_ids"]
    assert load_model(spec).generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3


def test_config_names_the_variant_source_and_pair_files_keep_their_variants(quixbugs):
    from harness.core.config import from_dict
    from harness.core.errors import BadInput
    from plugins.training.fault_weighted import pair_examples

    assert DPOVariantConfig().variant_source == "teacher"  # the paper: DPO on the teacher's pairs
    config = from_dict(DPOVariantConfig, {"variant_source": "mutation", "variants": {"n_candidates": 2}, "beta": 0.2})
    assert (config.variant_source, config.variants.n_candidates, config.beta) == ("mutation", 2, 0.2)
    with pytest.raises(BadInput, match="did you mean 'mutation'"):
        from_dict(DPOVariantConfig, {"variant_source": "mutations"})
    pairs = quixbugs[0][:3]
    kept, report = pair_examples(pairs, DPOVariantConfig(), resolve_model("smollm2"), "dpo")
    assert kept == pairs and report == {"given": 3, "generated_for": 0, "examples": 3, "paired": 3, "unpaired": 0}

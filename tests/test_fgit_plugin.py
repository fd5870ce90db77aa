"""The `fgit` and `mutation` training plugins end to end, and DPO fed by the variant generator.

- `fgit-bench train --variant fgit` / `--variant mutation` with the embedded SmolLM2 on 4 Evol-Instruct rows (LoRA
  on the last layer, 2 steps, the teacher drawing 1 variant of at most 96 tokens), then `fgit-bench generate`
  loads each artifact; a second identical call is a cache hit; DPO's identical variant table reuses FGit's cached
  teacher variants without loading a model.
- `--variant dpo` without a pair file: its rejected sides come from universalmutator (a tiny model: cheap).
- The plugin's rows: the same tokens as Standard-SFT, masks on exactly the changed tokens, ĉ = c for no variant.

CLI runs get one torch thread: on a shared two-core machine two threads spin-wait (≈ 8× slower sampling).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.config import from_dict
from harness.models import resolve_model
from plugins.training.artifact_cache import cache_root
from plugins.training.fault_weighted import FaultWeightedConfig, encode_fault_weighted, pair_examples
from plugins.training.fgit_masks import (
    INCORRECT_IDS,
    INCORRECT_LINE_MASK,
    INCORRECT_TOKEN_MASK,
    LINE_MASK,
    TOKEN_MASK,
)
from plugins.training.trainer import encode_sft
from plugins.training.training_data import make_example
from tests.conftest import SHARED_DATA, read_jsonl, run_cli
from tests.generation_support import load_saved_tokenizer, tiny_model_dir

EVOL = SHARED_DATA / "EvolInstruct-Code-4k.jsonl.gz"
ENV = {"OMP_NUM_THREADS": "1", "FGIT_BENCH_PROGRESS": "0"}
ALPHA = 2.0
SMALL = """
max_length = 256
batch_size = 2
gradient_accumulation_steps = 1
max_steps = 2
learning_rate = 1e-4
lora = true
lora_layers = [29]
"""
CONFIG = f"""
[plugins.fgit]
{SMALL}
[plugins.fgit.loss]
alpha = {ALPHA}

[plugins.fgit.variants]
n_candidates = 1
max_new_tokens = 96

[plugins.mutation]
{SMALL}
[plugins.mutation.variants]
n_candidates = 2

[plugins.dpo]
variant_source = "mutation"
max_length = 256
batch_size = 2
gradient_accumulation_steps = 1
max_steps = 1

[plugins.dpo.variants]
n_candidates = 2
"""


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fgit-plugin") / "cfg.toml"
    path.write_text(CONFIG)
    return path


def _train(variant: str, config_file, output, model: str = "smollm2"):
    done = run_cli("train", "--variant", variant, "--model", model, "--data", str(EVOL), "--limit", "4",
                   "--config", str(config_file), "--output", str(output), env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _loss_rows(artifact) -> list[dict]:
    return [row for row in read_jsonl(artifact / "train_log.jsonl") if "loss" in row]


def _check_variant_report(manifest: dict, source: str) -> dict:
    pairs = manifest["pairs"]
    report = pairs["variants"]
    counts = report["counts"]
    assert report["source"] == source
    assert pairs["examples"] == counts["examples"] == counts["examples_with_code"] == 4
    assert counts["kept"] + counts["no_variant"] == counts["examples_with_code"]
    assert counts["generated"] == sum(counts[k] for k in ("unparsable", "identical", "duplicate", "passing_tests",
                                                          "candidates_left"))
    assert pairs["given"] == 0 and pairs["paired"] == counts["kept"] and pairs["unpaired"] == counts["no_variant"]
    return pairs


def _generate_loads(artifact, tmp_path) -> None:
    samples = tmp_path / f"{artifact.name}-samples.jsonl"
    done = run_cli("generate", "--model", str(artifact), "--benchmark", "humaneval", "--limit", "1",
                   "--max-new-tokens", "16", "--no-progress", "--output", str(samples), env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = read_jsonl(samples)
    assert row["task_id"] == "HumanEval/0" and row["raw"].strip()
    base_hash = resolve_model("smollm2").content_hash()
    assert row["model_hash"].startswith(base_hash + "+")  # the base weights plus this artifact's adapter


@pytest.mark.model
def test_fgit_trains_with_teacher_variants_loads_and_is_cached(config_file, tmp_path, monkeypatch):
    first = _train("fgit", config_file, tmp_path / "fgit")
    assert "fgit: trained artifact" in first.stdout
    manifest = json.loads((tmp_path / "fgit" / "artifact.json").read_text())
    assert manifest["kind"] == "adapter" and manifest["plugin"] == "fgit" and manifest["device"] == "cpu"
    pairs = _check_variant_report(manifest, "teacher")
    assert f"fgit: {pairs['paired']}/4 examples paired" in first.stderr
    identity = pairs["variants"]["source_identity"]
    # the teacher defaults to the model being trained
    assert identity["model"] == "smollm2" and identity["model_hash"] == resolve_model("smollm2").content_hash()
    assert pairs["variants"]["config"]["n_candidates"] == 1 and pairs["variants"]["counts"]["generated"] == 4
    # unpaired examples are trained as plain SFT (weight 1), not dropped
    assert pairs["examples_trained_on"] == manifest["training"]["examples_trained"] == 4
    assert manifest["config"]["loss"]["alpha"] == ALPHA and manifest["config"]["variant_source"] == "teacher"

    rows = _loss_rows(tmp_path / "fgit")
    assert [r["step"] for r in rows] == [1, 2]
    # weight statistics over paired rows only: every pair counted once over the epoch, unpaired rows not at all
    assert sum(r["fgit_pairs"] for r in rows) == pairs["paired"]
    weights = [r["fgit_weight_mean"] for r in rows if r["fgit_pairs"]]
    assert all(1.0 <= w <= ALPHA for w in weights), weights
    summary = manifest["training"]["loss_statistics"]
    assert summary["pairs"] == pairs["paired"] and summary["rows_seen"] == 4
    assert sum(summary["histograms"]["weight"]["counts"]) == pairs["paired"]
    assert manifest["resolved"]["variants"]["teacher"]["hash"] == resolve_model("smollm2").content_hash()
    assert manifest["resolved"]["variant_set"] == pairs["variant_set"]

    second = _train("fgit", config_file, tmp_path / "fgit-again")
    assert "fgit: cached artifact" in second.stdout and "paired" not in second.stderr  # no variant work at all
    assert json.loads((tmp_path / "fgit-again" / "artifact.json").read_text()) == manifest

    # DPO with the same variant table hits the variants FGit generated: no model is loaded, nothing generated
    from plugins.methods.dpo import DPOVariantConfig
    from plugins.training.training_data import prepare_training_set

    def refuse(*args, **kwargs):
        raise AssertionError("a cached variant run loaded a model")

    monkeypatch.setattr("harness.models.load_model", refuse)
    examples, _ = prepare_training_set(str(EVOL), limit=4, benchmarks=["humaneval", "mbpp", "bigcodebench"],
                                       cache_dir=cache_root())
    dpo_config = from_dict(DPOVariantConfig, {"variants": {"n_candidates": 1, "max_new_tokens": 96}})  # [fgit]'s
    paired, dpo_pairs = pair_examples(examples, dpo_config, resolve_model("smollm2"), "dpo")
    assert dpo_pairs["variants"]["cache"]["hits"] == 4 and dpo_pairs["variants"]["cache"]["misses"] == 0
    assert dpo_pairs["variants"]["counts"] == pairs["variants"]["counts"]
    assert sum(e.incorrect is not None for e in paired) == pairs["paired"]

    _generate_loads(tmp_path / "fgit", tmp_path)


@pytest.mark.model
def test_mutation_trains_with_universalmutator_variants_and_loads(config_file, tmp_path):
    done = _train("mutation", config_file, tmp_path / "mutation")
    assert "mutation: trained artifact" in done.stdout
    manifest = json.loads((tmp_path / "mutation" / "artifact.json").read_text())
    assert manifest["kind"] == "adapter" and manifest["plugin"] == "mutation"
    pairs = _check_variant_report(manifest, "mutation")
    assert pairs["variants"]["source_identity"]["tool"] == "universalmutator"
    assert pairs["variants"]["source_stats"]["valid"] >= pairs["variants"]["source_stats"]["drawn"] > 0
    assert pairs["paired"] >= 1  # every Evol-Instruct solution here has mutable operators
    rows = _loss_rows(tmp_path / "mutation")
    weights = [r["fgit_weight_mean"] for r in rows if r["fgit_pairs"]]
    assert len(rows) == 2 and all(1.0 <= w <= ALPHA for w in weights), weights  # paired rows only
    assert sum(r["fgit_pairs"] for r in rows) == pairs["paired"]
    _generate_loads(tmp_path / "mutation", tmp_path)


def test_dpo_trains_from_mutation_variants_without_a_pair_file(config_file, tmp_path):
    done = _train("dpo", config_file, tmp_path / "dpo", model=str(tiny_model_dir()))
    assert "dpo: trained artifact" in done.stdout
    manifest = json.loads((tmp_path / "dpo" / "artifact.json").read_text())
    pairs = _check_variant_report(manifest, "mutation")
    assert manifest["plugin"] == "dpo" and pairs["paired"] >= 1
    assert manifest["training"]["pairs"] == pairs["paired"]
    assert manifest["training"]["skipped_without_variant"] == pairs["unpaired"]
    assert [r["step"] for r in _loss_rows(tmp_path / "dpo")] == [1]


# ---- the rows the loss sees -----------------------------------------------------------------------------------


def _marked(tokenizer, row, ids_key, mask_key) -> list[str]:
    return [tokenizer.decode([t]) for t, m in zip(row[ids_key], row[mask_key], strict=True) if m]


@pytest.mark.parametrize("target", ["response", "code"])
def test_rows_have_sft_tokens_and_masks_on_the_changed_tokens(target):
    tokenizer = load_saved_tokenizer()
    config = FaultWeightedConfig(target=target)
    example = make_example("Write inc.", "Sure.\n\n```python\ndef inc(x):\n    return x + 1\n```\n\nIt adds one.", {},
                           incorrect="def inc(x):\n    return x - 1")
    row = encode_fault_weighted(tokenizer, example, config)
    sft = encode_sft(tokenizer, example, config)
    assert {k: row[k] for k in sft} == sft  # FGit trains on exactly the tokens Standard-SFT trains on
    assert _marked(tokenizer, row, "input_ids", TOKEN_MASK) == [" +"]
    assert _marked(tokenizer, row, INCORRECT_IDS, INCORRECT_TOKEN_MASK) == [" -"]
    # the changed line `    return x + 1`; its first token carries the previous line's newline
    assert _marked(tokenizer, row, "input_ids", LINE_MASK) == ["\n   ", " return", " x", " +", " ", "1"]
    assert _marked(tokenizer, row, INCORRECT_IDS, INCORRECT_LINE_MASK) == ["\n   ", " return", " x", " -", " ", "1"]
    assert all(label != -100 for label, m in zip(row["labels"], row[LINE_MASK], strict=True) if m)

    unpaired = encode_fault_weighted(tokenizer, make_example("Write id.", "```python\ndef ident(x):\n    return x\n```",
                                                             {}), config)
    assert unpaired[INCORRECT_IDS] == unpaired["input_ids"]
    assert not any(unpaired[LINE_MASK] + unpaired[TOKEN_MASK] + unpaired[INCORRECT_LINE_MASK]
                   + unpaired[INCORRECT_TOKEN_MASK])


def test_the_teacher_can_name_the_trained_model(tmp_path):
    from plugins.training.fault_weighted import model_reference

    smol = resolve_model("smollm2")
    assert model_reference(smol) == "smollm2"
    by_file = resolve_model(str(Path(smol.path) / smol.gguf_file))  # its name is the bare file name
    assert by_file.name == smol.gguf_file and resolve_model(model_reference(by_file)) == by_file
    tiny = resolve_model(str(tiny_model_dir()))
    assert model_reference(tiny) == str(tiny_model_dir())

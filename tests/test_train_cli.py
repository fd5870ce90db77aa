"""`fgit-bench train`: bad input in one line, artifacts that load and generate, the content-addressed cache.

The two `slow` tests are the issue's acceptance runs: the embedded SmolLM2 with `--limit 32` on CPU (LoRA on the
top two layers, short sequences, to keep them to minutes on two cores).
"""

from __future__ import annotations

import json
import os

import pytest

from harness.app.cli import main
from harness.models import load_model, load_tokenizer, resolve_model
from plugins.methods.sft import SFTVariantConfig
from plugins.training.artifact_cache import artifact_key
from tests.generation_support import tiny_model_dir

TINY_TOML = """
[plugins.sft]
max_length = 320
batch_size = 2
gradient_accumulation_steps = 1
"""

SMOLLM2_TOML = """
[plugins.sft]
max_length = 128
batch_size = 8
gradient_accumulation_steps = 1
learning_rate = 1e-4
lora = true
lora_layers = [28, 29]
lora_merge = true

[plugins.dpo]
max_length = 192
batch_size = 8
gradient_accumulation_steps = 1
learning_rate = 1e-4
lora = true
lora_layers = [28, 29]
"""


def _forbid_model_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the cached call loaded a model")

    monkeypatch.setattr("harness.models.load_model", refuse)
    monkeypatch.setattr("harness.models.load_tokenizer", refuse)


def test_unknown_variant_and_config_typos_are_one_line_errors(tmp_path, capsys):
    assert main(["train", "--variant", "sfft", "--output", str(tmp_path / "o")]) == 2
    assert "unknown training variant 'sfft'; did you mean 'sft'?" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("[plugins.sft]\nlerning_rate = 1e-5\n")
    assert main(["train", "--variant", "sft", "--config", str(tmp_path / "bad.toml"), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'lerning_rate'; did you mean 'learning_rate'?" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_dpo_with_no_usable_variant_is_bad_input(tmp_path, capsys):
    """No pair file: DPO asks the teacher (here the tiny random model, whose text never parses) for variants,
    gets none it can use, and stops with one line instead of training on nothing."""
    data = tmp_path / "plain.jsonl"
    data.write_text(json.dumps({"instruction": "Write id.", "output": "```python\ndef ident(x):\n    return x\n```"}))
    rc = main(["train", "--variant", "dpo", "--model", str(tiny_model_dir()), "--data", str(data), "--benchmarks",
               "none", "--output", str(tmp_path / "o")])
    assert rc == 2 and "dpo needs examples with an incorrect variant" in capsys.readouterr().err


def test_base_variant_and_an_occupied_output(tmp_path, capsys):
    assert main(["train", "--variant", "base", "--model", "smollm2", "--output", str(tmp_path / "base")]) == 0
    manifest = json.loads((tmp_path / "base" / "artifact.json").read_text())
    assert manifest["kind"] == "base" and resolve_model(str(tmp_path / "base")) == resolve_model("smollm2")
    assert main(["train", "--variant", "base", "--model", str(tiny_model_dir()), "--output", str(tmp_path / "base")]) == 2
    assert "already exists and holds something else" in capsys.readouterr().err


def test_second_identical_call_returns_the_cached_artifact_without_loading_a_model(tmp_path, monkeypatch, capsys,
                                                                                 shared_data):
    (tmp_path / "cfg.toml").write_text(TINY_TOML)
    args = ["train", "--variant", "sft", "--model", str(tiny_model_dir()), "--data",
            str(shared_data / "QuixBugs-python.jsonl"), "--limit", "4", "--config", str(tmp_path / "cfg.toml")]
    assert main([*args, "--output", str(tmp_path / "first")]) == 0
    assert "sft: trained artifact" in capsys.readouterr().out
    first = json.loads((tmp_path / "first" / "artifact.json").read_text())
    report = json.loads((tmp_path / "first" / "data_report.json").read_text())
    assert report["rows_used"] == 4 and report["decontamination"]["benchmarks"] == ["humaneval", "mbpp", "bigcodebench"]

    _forbid_model_loading(monkeypatch)
    assert main([*args, "--output", str(tmp_path / "second")]) == 0
    assert "sft: cached artifact" in capsys.readouterr().out
    assert json.loads((tmp_path / "second" / "artifact.json").read_text()) == first
    cached = resolve_model(str(tmp_path / "second"))
    cache_copy = os.stat(os.path.join(os.environ["FGIT_BENCH_CACHE"], "artifacts", first["cache_key"], "model",
                                      "model.safetensors"))
    assert os.stat(os.path.join(cached.path, "model.safetensors")).st_ino == cache_copy.st_ino  # a hard link
    # the same call into the same output is a no-op too
    assert main([*args, "--output", str(tmp_path / "second")]) == 0


def test_the_cache_key_covers_model_data_plugin_and_config(shared_data):
    from plugins.training.training_data import load_pairs_file

    pairs = load_pairs_file(shared_data / "QuixBugs-python.jsonl")
    tiny, smol = resolve_model(str(tiny_model_dir())), resolve_model("smollm2")
    key = artifact_key("sft", tiny, pairs[:4], SFTVariantConfig())
    assert key == artifact_key("sft", tiny, list(pairs[:4]), SFTVariantConfig())
    assert len({key, artifact_key("sft", smol, pairs[:4], SFTVariantConfig()),
                artifact_key("sft", tiny, pairs[:5], SFTVariantConfig()),
                artifact_key("dpo", tiny, pairs[:4], SFTVariantConfig()),
                artifact_key("sft", tiny, pairs[:4], SFTVariantConfig(learning_rate=1e-5))}) == 5


def _generates(artifact_dir) -> str:
    spec = resolve_model(str(artifact_dir))
    tokenizer, model = load_tokenizer(spec), load_model(spec)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Write a Python function that squares x."}],
                                           add_generation_prompt=True, return_dict=True, return_tensors="pt")
    output = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    return tokenizer.decode(output[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("variant,data,kind", [("sft", "EvolInstruct-Code-4k.jsonl.gz", "merged"),
                                               ("dpo", "QuixBugs-python.jsonl", "adapter")])
def test_smollm2_limit_32_trains_on_cpu_loads_and_is_cached(variant, data, kind, tmp_path, monkeypatch, capsys,
                                                            shared_data):
    (tmp_path / "cfg.toml").write_text(SMOLLM2_TOML)
    args = ["train", "--variant", variant, "--model", "smollm2", "--data", str(shared_data / data), "--limit", "32",
            "--config", str(tmp_path / "cfg.toml")]
    assert main([*args, "--output", str(tmp_path / "run1")]) == 0
    assert f"{variant}: trained artifact" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "run1" / "artifact.json").read_text())
    assert manifest["kind"] == kind and manifest["training"]["examples"] == 32 and manifest["device"] == "cpu"
    assert manifest["base_model_hash"] == resolve_model("smollm2").content_hash()
    log = [json.loads(line) for line in (tmp_path / "run1" / "train_log.jsonl").read_text(encoding="utf-8").split("\n")
           if line.strip()]
    assert [row["step"] for row in log if "loss" in row] == [1, 2, 3, 4]  # 32 rows / batch 8
    assert _generates(tmp_path / "run1").strip()

    _forbid_model_loading(monkeypatch)
    assert main([*args, "--output", str(tmp_path / "run2")]) == 0
    assert f"{variant}: cached artifact" in capsys.readouterr().out
    assert json.loads((tmp_path / "run2" / "artifact.json").read_text()) == manifest

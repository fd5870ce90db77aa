"""sed-sft, gem, dft and hotfix as plugins: trained end to end through `fgit-bench train`, artifacts that load and
generate, a second identical call from the cache; labels in the leaderboard; the hotfix data and line probes.

The default-selection test trains all four on a tiny random Llama (the SmolLM2 tokenizer) with a few steps; the
`slow` one is the acceptance run on the embedded SmolLM2 with `--limit 8` on CPU.
"""

from __future__ import annotations

import json

import pytest

from harness.app.cli import main
from harness.models import load_model, load_tokenizer, resolve_model
from plugins.api import PLUGINS
from tests.generation_support import tiny_model_dir

NEW_PLUGINS = ("sed-sft", "gem", "dft", "hotfix")

TINY_TOML = """
[plugins.sed-sft]
max_length = 256
batch_size = 3
gradient_accumulation_steps = 1
max_steps = 2
learning_rate = 1e-3
calibration_sequences = 2

[plugins.gem]
max_length = 256
batch_size = 4
gradient_accumulation_steps = 1
max_steps = 1
learning_rate = 1e-3

[plugins.dft]
max_length = 256
batch_size = 4
gradient_accumulation_steps = 1
max_steps = 1
learning_rate = 1e-3

[plugins.hotfix]
max_pairs = 6
epochs = 2
max_length = 384
batch_size = 2
decontaminate_against = ["humaneval"]

[plugins.hotfix.evaluation]
samples = 2
max_new_tokens = 8
"""

SMOLLM2_TOML = """
[plugins.sed-sft]
max_length = 192
batch_size = 3
gradient_accumulation_steps = 1
learning_rate = 1e-4
lora = true
lora_layers = [29]
calibration_sequences = 2

[plugins.gem]
max_length = 192
batch_size = 4
gradient_accumulation_steps = 1
learning_rate = 1e-4
lora = true
lora_layers = [29]

[plugins.dft]
max_length = 192
batch_size = 4
gradient_accumulation_steps = 1
learning_rate = 1e-4
lora = true
lora_layers = [29]

[plugins.hotfix]
max_pairs = 8
epochs = 2
max_length = 384
batch_size = 4
lora_layers = [28, 29]

[plugins.hotfix.evaluation]
samples = 4
max_new_tokens = 32
"""


def _generates(artifact_dir) -> str:
    spec = resolve_model(str(artifact_dir))
    tokenizer, model = load_tokenizer(spec), load_model(spec)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Write a Python function that squares x."}],
                                           add_generation_prompt=True, return_dict=True, return_tensors="pt")
    output = model.generate(**prompt, max_new_tokens=4, do_sample=False, min_new_tokens=4)
    return tokenizer.decode(output[0, prompt["input_ids"].shape[1]:])


def _forbid_model_loading(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the cached call loaded a model")

    monkeypatch.setattr("harness.models.load_model", refuse)
    monkeypatch.setattr("harness.models.load_tokenizer", refuse)


def _train_all(model: str, toml: str, limit: str, tmp_path, monkeypatch, capsys, shared_data) -> dict:
    (tmp_path / "cfg.toml").write_text(toml)
    manifests = {}
    def args(variant: str) -> list[str]:
        data = ["--data", str(shared_data / "EvolInstruct-Code-4k.jsonl.gz"), "--limit", limit,
                "--benchmarks", "humaneval"] if variant != "hotfix" else []  # hotfix: the pairs of its config
        return ["train", "--variant", variant, "--model", model, "--config", str(tmp_path / "cfg.toml"), *data]

    for variant in NEW_PLUGINS:
        assert main([*args(variant), "--output", str(tmp_path / variant)]) == 0, variant
        assert f"{variant}: trained artifact" in capsys.readouterr().out
        manifests[variant] = json.loads((tmp_path / variant / "artifact.json").read_text())
        assert manifests[variant]["plugin"] == variant and manifests[variant]["device"] == "cpu"
        assert _generates(tmp_path / variant)
    with monkeypatch.context() as patched:
        _forbid_model_loading(patched)
        for variant in NEW_PLUGINS:
            assert main([*args(variant), "--output", str(tmp_path / f"{variant}-again")]) == 0
            assert f"{variant}: cached artifact" in capsys.readouterr().out
            assert json.loads((tmp_path / f"{variant}-again" / "artifact.json").read_text()) == manifests[variant]
    return manifests


def _log(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _check_manifests(manifests: dict, limit: int, pairs: int, artifacts) -> None:
    sed = manifests["sed-sft"]["sed_sft"]
    assert sed["calibration_sequences"] == 2 and sed["calibration_split"] == "held_out"
    assert 0 < sed["tau"] <= 1 and sed["calibration_positions"] > 0
    assert 0 <= sed["masked_fraction_at_start"] <= 1 and 0 <= sed["masked_fraction_training"] <= 1
    assert sed["trained_positions"] > 0
    assert manifests["sed-sft"]["training"]["examples"] == limit - 2  # the calibration rows are held out
    assert manifests["gem"]["loss"] == {"gem_beta": 0.7}
    hotfix = manifests["hotfix"]
    assert hotfix["kind"] == "adapter" and hotfix["config"]["lora_r"] == 8 and hotfix["config"]["lora_alpha"] == 16
    report = hotfix["hotfix"]
    assert report["sources"] == ["quixbugs"] and report["train"] + report["validation"] + report["test"] == pairs
    steps = hotfix["training"]["steps"]  # 2 epochs: the best is the end of epoch 1 or 2
    assert report["best_checkpoint"] in (f"checkpoint-{steps // 2}", f"checkpoint-{steps}")
    validation = [row["eval_loss"] for row in _log(artifacts / "hotfix" / "train_log.jsonl") if "eval_loss" in row]
    assert len(validation) == 2 and report["best_validation_loss"] == pytest.approx(min(validation), rel=1e-3)
    for when in ("before", "after"):
        rates = report["rates"][when]
        assert rates["pairs_scored"] + rates["pairs_not_scorable"] == report["test"]
        assert rates["completions"] == rates["pairs_scored"] * hotfix["config"]["evaluation"]["samples"]
        assert rates["fixed_rate"] is None or 0 <= rates["fixed_rate"] <= 1


def test_new_plugins_train_generate_and_are_cached_on_a_tiny_model(tmp_path, monkeypatch, capsys, shared_data):
    manifests = _train_all(str(tiny_model_dir()), TINY_TOML, "6", tmp_path, monkeypatch, capsys, shared_data)
    _check_manifests(manifests, 6, pairs=6, artifacts=tmp_path)
    log = _log(tmp_path / "sed-sft" / "train_log.jsonl")
    assert all("masked_fraction" in row for row in log if "loss" in row)
    hotfix_log = _log(tmp_path / "hotfix" / "train_log.jsonl")
    assert [row["epoch"] for row in hotfix_log if "eval_loss" in row] == [1.0, 2.0]  # validation every epoch
    assert all("retain_kl" in row and "l_del" in row for row in hotfix_log if "loss" in row)


@pytest.mark.model
@pytest.mark.slow
def test_new_plugins_on_smollm2_limit_8(tmp_path, monkeypatch, capsys, shared_data):
    manifests = _train_all("smollm2", SMOLLM2_TOML, "8", tmp_path, monkeypatch, capsys, shared_data)
    for manifest in manifests.values():
        assert manifest["base_model_hash"] == resolve_model("smollm2").content_hash()
    _check_manifests(manifests, 8, pairs=8, artifacts=tmp_path)


def test_every_new_plugin_is_in_train_help_and_the_leaderboard_with_its_label(capsys):
    from leaderboards.table import order_variants, variant_label

    assert main(["plugins"]) == 0  # the registry lists the plugins (train --help points there)
    listing = capsys.readouterr().out
    for name in NEW_PLUGINS:
        cls = PLUGINS.get(name)
        assert f"{name}: {cls.label} (order {cls.order}" in listing
        assert variant_label(name) == cls.label and cls.order >= 50
        assert cls.needs_data is (name != "hotfix")
    orders = [PLUGINS.get(name).order for name in NEW_PLUGINS]
    assert orders == sorted(orders) and order_variants(reversed(NEW_PLUGINS)) == list(NEW_PLUGINS)


def test_sed_sft_refuses_to_hold_out_every_row(tmp_path, capsys, shared_data):
    (tmp_path / "cfg.toml").write_text("[plugins.sed-sft]\ncalibration_sequences = 100\n")
    assert main(["train", "--variant", "sed-sft", "--model", str(tiny_model_dir()), "--config", str(tmp_path / "cfg.toml"),
                 "--data", str(shared_data / "QuixBugs-python.jsonl"), "--limit", "4", "--benchmarks", "none",
                 "--output", str(tmp_path / "o")]) == 2
    assert "calibration_sequences = 100 held out would leave none" in capsys.readouterr().err


def test_the_methods_profile_names_every_method_with_valid_settings(tmp_path):
    from harness.app.pipeline.config import load_run_config
    from harness.app.pipeline.run import ComparisonRun

    config = load_run_config("methods", None)
    assert config.variants == ["base", "sft", "dpo", "mutation", "fgit", *NEW_PLUGINS] and config.training.limit
    run = ComparisonRun(config, tmp_path / "run")  # builds every plugin's config: typos are BadInput here
    assert run.plugin_configs["sed-sft"].calibration_sequences == 2
    hotfix = run.plugin_configs["hotfix"]
    assert (hotfix.pairs, hotfix.learning_rate, hotfix.lora_r, hotfix.evaluation.samples) == ("quixbugs", 3e-4, 8, 10)


def test_run_trains_hotfix_by_name_and_the_leaderboard_reports_it(tmp_path):
    from tests.conftest import run_cli
    from tests.run_support import canonical_samples, write_samples

    tasks = {"humaneval": 3, "mbpp": 2}
    for variant in ("base", "hotfix"):
        for benchmark, limit in tasks.items():
            write_samples(tmp_path / "replay" / f"{variant}-{benchmark}.jsonl", canonical_samples(benchmark, limit))
    config = tmp_path / "run.toml"
    config.write_text(f"""
model = "{tiny_model_dir()}"
variants = ["base", "hotfix"]
sandbox = "process"
[generation]
backend = "replay"
samples_from = "{tmp_path}/replay/{{variant}}-{{benchmark}}.jsonl"
[plugins.hotfix]
max_pairs = 4
epochs = 1
max_length = 384
batch_size = 2
decontaminate_against = ["humaneval", "mbpp"]
evaluation = {{ samples = 2, max_new_tokens = 4 }}
[[benchmarks]]
name = "humaneval"
limit = 3
[[benchmarks]]
name = "mbpp"
limit = 2
""")
    result = run_cli("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["artifacts"]["hotfix"]["hotfix"]["sources"] == ["quixbugs"]
    board = (tmp_path / "out" / "leaderboard.md").read_text()
    row = next(line for line in board.splitlines() if line.startswith("| Hotfix (LoRA) | quixbugs"))
    # every replayed canonical solution passes: 100% for both, no discordant task
    assert "100.0 (Δ +0.0 pp vs Base, McNemar p 1.000)" in row and "| Hotfix (LoRA) | 100.0 (100.0)" in board


@pytest.mark.model
@pytest.mark.slow
def test_the_methods_profile_runs_on_cpu_and_its_leaderboard_has_every_method(tmp_path):
    from tests.conftest import run_cli

    # --limit 4 as the acceptance has it (and the README's measured run: 20 min here on a warm cache)
    result = run_cli("run", "--profile", "methods", "--limit", "4", "--output", str(tmp_path / "methods"),
                     timeout=7200)
    assert result.returncode == 0, result.stderr[-3000:]
    board = (tmp_path / "methods" / "leaderboard.md").read_text()
    main_table = board.split("## pass@1 (%) with 95% Wilson intervals")[0]
    for variant in ("base", "sft", "dpo", "mutation", "fgit", *NEW_PLUGINS):
        assert f"| {PLUGINS.get(variant).label} | " in main_table, variant
    hotfix = next(line for line in board.splitlines() if line.startswith("| Hotfix (LoRA) | quixbugs"))
    assert " → " in hotfix and "vs Base, McNemar p" in hotfix

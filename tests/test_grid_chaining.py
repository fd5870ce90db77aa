"""Chaining inside a grid (harness.app.pipeline.grid × harness.app.pipeline.chaining): a unit of an instance with
`from = ...` starts from the upstream unit of the same model and seed; an ambiguous upstream is one clear line."""

from __future__ import annotations

import json

import pytest

from harness.app.pipeline.config import load_run_config
from harness.app.pipeline.grid import plan_units
from harness.core.errors import BadInput
from tests.conftest import run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import TINY_SFT, canonical_samples, run_config, toml_value, write_samples

CHAIN = """
variants = ["base", "sft", "sft-grpo", "sft-again"]
[plugins.sft]
learning_rate = 2e-4
[plugins.sft-grpo]
plugin = "grpo"
from = "sft"
[variant.sft-again]
plugin = "sft"
from = "sft"
max_steps = 1
"""


def _units(tmp_path, text: str, sweeps=None) -> dict:
    path = tmp_path / "grid.toml"
    path.write_text(text + CHAIN)  # top-level keys before the tables
    return {u.id: u for u in plan_units(load_run_config(None, str(path)), sweeps)}


def test_both_instance_forms_chain_on_the_upstream_unit(tmp_path):
    units = _units(tmp_path, "")
    assert units["sft-grpo"].plugin == "grpo" and units["sft-grpo"].upstream == "sft"
    assert units["sft-again"].plugin == "sft" and units["sft-again"].upstream == "sft"
    # [variant.*] layers on [plugins.<plugin>]; [plugins.<name>] plugin = ... only on its own table (as before grids)
    assert units["sft-again"].config.learning_rate == 2e-4 and units["sft-again"].config.max_steps == 1
    assert units["base"].upstream is None and units["sft"].upstream is None
    assert units["sft-grpo"].describe()["from"] == "sft"


def test_per_seed_units_chain_on_the_upstream_of_their_own_seed(tmp_path):
    units = _units(tmp_path, "seeds = [0, 1]\n")
    assert units["sft-grpo@seed=0"].upstream == "sft@seed=0"
    assert units["sft-grpo@seed=1"].upstream == "sft@seed=1"
    assert units["sft-again@seed=1"].upstream == "sft@seed=1"


def test_per_model_units_chain_on_the_upstream_of_their_own_model(tmp_path):
    units = _units(tmp_path, 'models = ["smollm2", "/m/other"]\n')
    assert units["sft-grpo@other"].upstream == "sft@other" and units["sft-grpo@smollm2"].upstream == "sft@smollm2"


def test_a_swept_chained_instance_keeps_one_upstream(tmp_path):
    units = _units(tmp_path, "", [{"variant": "sft-grpo", "key": "num_generations", "values": [2, 4]}])
    assert {units[f"sft-grpo[num_generations={n}]"].upstream for n in (2, 4)} == {"sft"}


def test_a_swept_upstream_must_be_named_by_its_instance(tmp_path):
    sweep = [{"variant": "sft", "key": "learning_rate", "values": [1e-4, 2e-4]}]
    with pytest.raises(BadInput, match=r"from = 'sft' matches 2 trained units.*name one instance"):
        _units(tmp_path, "", sweep)
    text = CHAIN.replace('from = "sft"\n', 'from = "sft[learning_rate=0.0002]"\n')
    (tmp_path / "named.toml").write_text(text)
    units = {u.id: u for u in plan_units(load_run_config(None, str(tmp_path / "named.toml")), sweep)}
    assert units["sft-grpo"].upstream == units["sft-again"].upstream == "sft[learning_rate=0.0002]"


def test_an_ambiguous_chain_is_exit_2_before_any_work(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('model = "smollm2"\n' + CHAIN + '[[benchmarks]]\nname = "humaneval"\nlimit = 1\n')
    proc = run_cli("run", "--config", str(config), "--output", str(tmp_path / "r"),
                   "--sweep", "sft:learning_rate=1e-4,2e-4")
    assert proc.returncode == 2 and "name one instance" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "r" / "sft[learning_rate=0.0001]").exists()


@pytest.mark.slow  # four tiny trainings (two seeds × sft and its chained instance): minutes on 2 cores
def test_a_chained_grid_trains_each_seed_from_its_own_upstream_artifact(tmp_path):
    variants = ["sft", "sft-again"]
    for variant in variants:
        write_samples(tmp_path / "replay" / f"{variant}-humaneval.jsonl", canonical_samples("humaneval", 2))
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=variants,
                        replay=str(tmp_path / "replay" / "{name}-humaneval.jsonl"), benchmarks={"humaneval": 2},
                        plugins={"sft": TINY_SFT})
    instance = "[variant.sft-again]\nplugin = \"sft\"\nfrom = \"sft\"\n" + "".join(
        f"{k} = {toml_value(v)}\n" for k, v in TINY_SFT.items())
    config.write_text("seeds = [0, 1]\n" + config.read_text() + "\n" + instance)  # top-level keys before tables
    proc = run_cli("run", "--config", str(config), "--output", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    for seed in (0, 1):
        chained = json.loads((run / f"sft-again@seed={seed}" / "artifact" / "artifact.json").read_text())
        upstream = json.loads((run / f"sft@seed={seed}" / "artifact" / "artifact.json").read_text())
        assert chained["base_model"]["name"] == str(run / f"sft@seed={seed}" / "artifact")
        stage = json.loads((run / f"sft-again@seed={seed}" / "train.stage.json").read_text())
        assert stage["info"]["from"] == f"sft@seed={seed}"
        assert manifest["instances"][f"sft-again@seed={seed}"]["from"] == f"sft@seed={seed}"
        assert chained["cache_key"] != upstream["cache_key"]
    keys = {json.loads((run / f"sft-again@seed={s}" / "artifact" / "artifact.json").read_text())["cache_key"]
            for s in (0, 1)}
    assert len(keys) == 2  # each seed chained on its own upstream artifact
    board = json.loads((run / "leaderboard.json").read_text())
    chained = {i["name"]: i.get("from") for i in board["instances"]}
    assert chained == {"sft@seed=0": None, "sft@seed=1": None, "sft-again@seed=0": "sft@seed=0",
                       "sft-again@seed=1": "sft@seed=1"}
    assert "from=sft@seed=1" in (run / "leaderboard.md").read_text()

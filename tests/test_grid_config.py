"""Grid expansion (harness.app.pipeline.grid) without training: instance layering, sweep products and names, seeds,
models, and one clear line for every bad grid."""

from __future__ import annotations

import pytest

from harness.app.pipeline.config import load_run_config
from harness.app.pipeline.grid import parse_sweep_option, plan_units
from harness.core.errors import BadInput
from tests.conftest import run_cli

BASE = """
variants = ["base", "sft", "fgit", "fgit-line"]
[training.shared]
learning_rate = 1e-4
lr_scheduler = "constant"
[plugins.fgit]
max_length = 300
loss = { alpha = 2.5 }
[variant.fgit-line]
plugin = "fgit"
loss = { mask = "line" }
"""


def _units(tmp_path, text: str, sweeps=None):
    path = tmp_path / "grid.toml"
    path.write_text(BASE + text)
    return {u.id: u for u in plan_units(load_run_config(None, str(path)), sweeps)}


def test_an_instance_inherits_the_plugin_table_and_the_shared_settings(tmp_path):
    units = _units(tmp_path, "")
    line, fgit = units["fgit-line"].config, units["fgit"].config
    assert line.loss.mask == "line" and line.loss.alpha == 2.5 and line.max_length == 300
    assert line.learning_rate == 1e-4 and fgit.loss.mask != "line"
    assert units["fgit-line"].settings["loss.mask"] == "line" and units["fgit-line"].plugin == "fgit"


def test_two_sweeps_multiply_and_name_the_instances(tmp_path):
    units = _units(tmp_path, """
[[sweep]]
variant = "fgit"
key = "loss.alpha"
values = [1.5, 3]
[[sweep]]
variant = "*"
key = "training.shared.lr_scheduler"
values = ["constant", "cosine"]
""")
    assert "fgit[loss.alpha=3.0,training.shared.lr_scheduler=cosine]" in units  # 3 is the float field's 3.0
    assert units["fgit[loss.alpha=1.5,training.shared.lr_scheduler=cosine]"].config.lr_scheduler == "cosine"
    assert "sft[training.shared.lr_scheduler=cosine]" in units and "base" in units
    assert "fgit-line[training.shared.lr_scheduler=constant]" in units  # "*": every trained variant
    assert len([u for u in units if u.startswith("fgit[")]) == 4


def test_seeds_and_models_make_one_unit_each(tmp_path):
    path = tmp_path / "seeded.toml"
    path.write_text('seeds = [0, 1]\nmodels = ["smollm2", "/models/Other-Model"]\n' + BASE)
    units = {u.id: u for u in plan_units(load_run_config(None, str(path)))}
    assert units["sft@Other-Model@seed=1"].config.seed == 1 and units["sft@smollm2@seed=0"].model == "smollm2"
    assert "base@smollm2" in units and not any(u.startswith("base@smollm2@seed") for u in units)
    assert len(units) == 2 * (1 + 3 * 2)


def test_a_command_line_sweep_replaces_the_configs_sweep_in_place(tmp_path):
    text = "[[sweep]]\nvariant = \"fgit\"\nkey = \"loss.alpha\"\nvalues = [1.5]\n"
    text += "[[sweep]]\nvariant = \"fgit\"\nkey = \"max_length\"\nvalues = [256]\n"
    units = _units(tmp_path, text, [parse_sweep_option("fgit:loss.alpha=1.5,2")])
    assert sorted(u for u in units if u.startswith("fgit[")) == [
        "fgit[loss.alpha=1.5,max_length=256]", "fgit[loss.alpha=2.0,max_length=256]"]


@pytest.mark.parametrize("text, sweeps, message", [
    ("[[sweep]]\nvariant = \"fgit\"\nkey = \"loss.alpah\"\nvalues = [1]\n", None, "not a setting of fgit"),
    ("[[sweep]]\nvariant = \"dpo\"\nkey = \"beta\"\nvalues = [1]\n", None, "not a selected plugin or instance"),
    ("[[sweep]]\nvariant = \"fgit\"\nkey = \"loss.alpha\"\nvalues = []\n", None, "non-empty list"),
    ("[variant.x]\nloss = { mask = \"line\" }\n", None, "needs plugin"),
    ("[variant.sft]\nplugin = \"fgit\"\n", None, "the name of a training plugin"),
    # [plugins.fgit] sets max_length itself: a shared-layer sweep of it would change nothing
    ("[[sweep]]\nvariant = \"fgit\"\nkey = \"training.shared.max_length\"\nvalues = [128]\n", None,
     "has no effect"),
    (None, [{"variant": "fgit", "key": "loss.alpha", "values": [1.5, 1.5]}], "listed twice"),
])
def test_bad_grids_are_bad_input(tmp_path, text, sweeps, message):
    with pytest.raises(BadInput, match=message):
        _units(tmp_path, text or "", sweeps)


def test_repeated_seeds_are_bad_input(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("seeds = [1, 1]\n" + BASE)
    with pytest.raises(BadInput, match="seeds"):
        plan_units(load_run_config(None, str(path)))


def test_a_malformed_sweep_option_is_one_line_and_exit_2(tmp_path):
    result = run_cli("run", "--profile", "smoke", "--output", str(tmp_path / "o"), "--sweep", "fgit-loss.alpha")
    assert result.returncode == 2 and "--sweep must look like" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_the_recorded_config_holds_the_grid_fields_only_when_used(tmp_path):
    from harness.app.pipeline.config import config_record

    path = tmp_path / "plain.toml"
    path.write_text(BASE)
    plain = config_record(load_run_config(None, str(path)))
    assert "sweep" not in plain and "seeds" not in plain and plain["variant"]["fgit-line"]["plugin"] == "fgit"
    path.write_text("seeds = [0, 1]\n" + BASE)
    assert config_record(load_run_config(None, str(path)))["seeds"] == [0, 1]

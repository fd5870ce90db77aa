"""Chaining in a comparison run: `[plugins.<v>] plugin = ..., from = ...` trains a variant from another variant's
artifact; the artifact keys chain (changing the upstream settings retrains both)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import TINY_SFT, canonical_samples, run_config, write_samples


def _key(run_dir, variant) -> str:
    return json.loads((run_dir / variant / "artifact" / "artifact.json").read_text())["cache_key"]


@pytest.mark.slow  # two runs of two tiny trainings each: 4 min on the loaded 2-core machine
def test_a_variant_trains_from_another_variants_artifact(tmp_path):
    for variant in ("sft", "sft-again"):
        write_samples(tmp_path / "replay" / f"{variant}-humaneval.jsonl", canonical_samples("humaneval", 2))
    plugins = {"sft": TINY_SFT, "sft-again": {"plugin": "sft", "from": "sft", **TINY_SFT}}
    replay = str(tmp_path / "replay" / "{variant}-humaneval.jsonl")
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=["sft", "sft-again"],
                        replay=replay, benchmarks={"humaneval": 2}, plugins=plugins)
    first = run_cli("run", "--config", str(config), "--output", str(tmp_path / "one"))
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "one"
    chained = json.loads((run / "sft-again" / "artifact" / "artifact.json").read_text())
    assert chained["base_model"]["name"] == str(run / "sft" / "artifact")  # it started from sft's artifact
    assert _key(run, "sft") != _key(run, "sft-again")
    assert "sft-again" in (run / "leaderboard.md").read_text()

    changed = {**plugins, "sft": {**TINY_SFT, "learning_rate": 3e-4}}
    config = run_config(tmp_path / "run2.toml", model=str(tiny_model_dir()), variants=["sft", "sft-again"],
                        replay=replay, benchmarks={"humaneval": 2}, plugins=changed)
    second = run_cli("run", "--config", str(config), "--output", str(tmp_path / "two"))
    assert second.returncode == 0, second.stderr[-3000:]
    two = tmp_path / "two"
    assert _key(two, "sft") != _key(run, "sft")
    assert _key(two, "sft-again") != _key(run, "sft-again")  # the chained variant retrained too


def test_from_a_later_variant_is_bad_input(tmp_path):
    write_samples(tmp_path / "replay" / "x-humaneval.jsonl", canonical_samples("humaneval", 1))
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=["sft-again", "sft"],
                        replay=str(tmp_path / "replay" / "x-humaneval.jsonl"), benchmarks={"humaneval": 1},
                        plugins={"sft-again": {"plugin": "sft", "from": "sft"}})
    proc = run_cli("run", "--config", str(config), "--output", str(tmp_path / "r"))
    assert proc.returncode == 2 and "must be listed before" in proc.stderr

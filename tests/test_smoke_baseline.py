"""The committed smoke baseline (leaderboards/baselines/smoke.json, written by `fgit-bench run --profile smoke`)
must stay what the gate can compare a fresh smoke run against: the profile's variants and exactly its task slices.
A profile change without a new baseline fails here, not in a user's CI gate."""

from __future__ import annotations

from pathlib import Path

from harness.app.pipeline.config import config_record, load_run_config
from leaderboards.baseline import pass_table_from_json

BASELINE = Path(__file__).resolve().parent.parent / "leaderboards" / "baselines" / "smoke.json"
METRICS = {"humaneval": ("HumanEval", "HumanEval+"), "mbpp": ("MBPP", "MBPP+"), "bigcodebench": ("BCB-hard",)}


def test_committed_smoke_baseline_matches_the_smoke_profile():
    config = load_run_config("smoke", None)
    table = pass_table_from_json(BASELINE)
    assert {variant for variant, _ in table.tasks} == set(config.variants)
    for spec in config.benchmarks:
        for metric in METRICS[spec.name]:
            for variant in config.variants:
                tasks = table.tasks.get((variant, metric))
                if tasks is None:
                    assert spec.optional, f"{variant}/{metric} missing from the baseline"
                    continue
                assert sorted(tasks) == sorted(spec.tasks), (variant, metric)
    manifest = table.provenance["manifest"]
    assert manifest["profile"] == "smoke" and manifest["config"] == config_record(config)

"""The grid profiles end to end on the embedded model on CPU, on a slice (`--limit 1`): every instance trained,
generated and evaluated, the leaderboard with a table per sweep axis. Slow (tens of minutes on 2 cores): the
whole comparison of 11–13 instances. LoRA on the top layer and short answers keep a CPU run affordable; the
profile's own settings are the GPU ones."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

CPU_SLICE = """
[generation]
max_new_tokens = 96
[training.shared]
lora = true
lora_layers = [29]
max_length = 512
[plugins.fgit]
variants = { n_candidates = 1, max_new_tokens = 96 }
"""
ENV = {"OMP_NUM_THREADS": "1", "FGIT_BENCH_PROGRESS": "0"}
AXES = {"ablation-fgit": ["loss.alpha", "loss.mask", "loss.fixed_weight"],
        "lr-annealing": ["training.shared.lr_scheduler", "wsd_decay"]}
UNITS = {"ablation-fgit": 11, "lr-annealing": 13}


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(AXES))
def test_grid_profile_runs_end_to_end_on_a_slice(profile, tmp_path):
    overlay = tmp_path / "cpu.toml"
    overlay.write_text(CPU_SLICE)
    output = tmp_path / profile
    result = run_cli("run", "--profile", profile, "--config", str(overlay), "--limit", "1", "--sandbox", "process",
                     "--output", str(output), env=ENV, timeout=7200)
    assert result.returncode == 0, result.stderr[-4000:]
    manifest = json.loads((output / "manifest.json").read_text())
    assert len(manifest["instances"]) == UNITS[profile]
    board = json.loads((output / "leaderboard.json").read_text())
    assert sorted(board["grid"]["axes"]) == sorted(AXES[profile])
    for unit in manifest["instances"]:
        assert (output / unit / "humaneval" / "eval" / "results.jsonl").is_file(), unit
    if profile == "ablation-fgit":  # the paper's setting appears in two sweeps: trained once
        assert manifest["stage_counts"]["shared"] >= 1

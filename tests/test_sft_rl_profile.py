"""The sft-rl profile end to end on CPU with the embedded model: base, sft, grpo, sft-grpo on composite, HumanEval+
and MBPP+, with `--limit`; the leaderboard has the composite column and all four variants."""

from __future__ import annotations

import pytest

from tests.conftest import read_jsonl, run_cli


@pytest.mark.slow  # measured: see README ("SFT and RL")
def test_sft_rl_profile_runs_end_to_end(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("run", "--profile", "sft-rl", "--limit", "2", "--output", str(out),
                   env={"OMP_NUM_THREADS": "1", "FGIT_BENCH_PROGRESS": "0"}, timeout=5400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "composite" in proc.stdout
    for variant in ("base", "sft", "grpo", "sft-grpo"):
        assert variant.replace("sft", "Standard-SFT", 1) in proc.stdout or variant in proc.stdout
        rows = read_jsonl(out / variant / "composite" / "eval" / "results.jsonl")
        assert len(rows) == 2 and all(r["benchmark"] == "composite" for r in rows)
    grpo = (out / "sft-grpo" / "artifact" / "artifact.json").read_text()
    assert str(out / "sft" / "artifact") in grpo  # it started from the sft artifact

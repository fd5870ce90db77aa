"""`fgit-bench power` (issue 25, Build 5): the MDE formula, its inverse, and the variance estimates from a run with
n samples per task, checked against values computed here by hand."""

from __future__ import annotations

import json
import math

import pytest

from leaderboards import power
from tests.conftest import run_cli

Z = 1.959963984540054 + 0.8416212335729143  # z_0.975 + z_0.8


def test_mde_and_samples_needed():
    v = power.Variance(s2=0.4, tau2=0.01, source="test")
    assert power.mde(v, 100, 10, 2) == pytest.approx(Z * math.sqrt((0.01 + 0.4 / 20) / 100))
    needed = power.samples_needed(v, 100, 0.06)
    assert power.mde(v, 100, needed) <= 0.06 < power.mde(v, 100, needed - 1)
    assert power.samples_needed(v, 100, Z * math.sqrt(0.01 / 100) * 0.99) is None  # below the τ² floor


def write_run(root, rates: dict[str, list[int]], n: int):
    for variant, correct in rates.items():
        path = root / variant / "humaneval" / "eval" / "results.jsonl"
        path.parent.mkdir(parents=True)
        rows = [{"benchmark": "humaneval", "task_id": f"HumanEval/{t}", "sample_index": i,
                 "base_pass": i < c, "plus_pass": i < c, "excluded": False}
                for t, c in enumerate(correct) for i in range(n)]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_estimate_from_an_n_sample_run(tmp_path):
    base, sft, n = [0, 2, 4, 1], [1, 2, 4, 3], 4
    write_run(tmp_path, {"base": base, "sft": sft}, n)
    from leaderboards.table import load_run

    v = power.estimate(load_run(tmp_path), "HumanEval+")
    p, q = [c / n for c in base], [c / n for c in sft]
    s2 = sum(a * (1 - a) * n / (n - 1) + b * (1 - b) * n / (n - 1) for a, b in zip(p, q, strict=True)) / 4
    d2 = sum((b - a) ** 2 for a, b in zip(p, q, strict=True)) / 4
    assert v.s2 == pytest.approx(s2) and v.tau2 == pytest.approx(max(0.0, d2 - s2 / n))
    out = run_cli("power", "--benchmark", "humaneval", "--from", str(tmp_path), "--n-samples", "10", "--effect", "20")
    assert out.returncode == 0, out.stderr
    assert f"{100 * Z * math.sqrt((v.tau2 + v.s2 / 10) / 4):.1f} pp" in out.stdout

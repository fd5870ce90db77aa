"""Issue 26: the gate against a `controls` baseline — exit 0 on a repeat, exit 1 naming the series when planted-loss
takes planted-gain's place — and (slow) the `controls` profile's three facts on its own leaderboard.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "leaderboards" / "baselines" / "controls.json"


def _constructed() -> dict:
    """A controls export as the profile's leaderboard writes it: 16 HumanEval tasks, Base passes 6, planted-gain all,
    planted-loss none, the A/A unit exactly Base."""
    tasks = [f"HumanEval/{i}" for i in range(16)]
    series = {"base": set(tasks[:6]), "base-aa": set(tasks[:6]), "planted-gain": set(tasks), "planted-loss": set()}
    return {"format": "fgit-bench-leaderboard", "version": 1,
            "variants": {v: {"HumanEval": {"tasks": {t: t in passed for t in tasks}}} for v, passed in series.items()}}


def _swapped(document: dict) -> dict:
    """The same export with planted-loss's outcomes where planted-gain's were (and the other way round)."""
    swapped = json.loads(json.dumps(document))
    variants = swapped["variants"]
    variants["planted-gain"], variants["planted-loss"] = variants["planted-loss"], variants["planted-gain"]
    return swapped


def _baselines() -> list[Path | None]:
    return [None, COMMITTED] if COMMITTED.is_file() else [None]


@pytest.mark.parametrize("committed", _baselines(), ids=lambda p: "committed" if p else "constructed")
def test_the_gate_passes_a_repeat_and_fails_when_planted_loss_takes_planted_gains_place(tmp_path, committed):
    document = json.loads(committed.read_text()) if committed else _constructed()
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(document))
    repeat, swapped = tmp_path / "repeat.json", tmp_path / "swapped.json"
    repeat.write_text(json.dumps(document))
    swapped.write_text(json.dumps(_swapped(document)))
    same = run_cli("gate", "--baseline", str(baseline), "--current", str(repeat))
    assert same.returncode == 0, same.stdout + same.stderr
    worse = run_cli("gate", "--baseline", str(baseline), "--current", str(swapped))
    assert worse.returncode == 1, worse.stdout + worse.stderr
    regressions = worse.stdout.split("### Regressions", 1)[1]
    assert "- planted-gain/" in regressions and "planted-loss/" not in regressions
    assert "base/" not in regressions and "base-aa/" not in regressions


def check_three_facts(board: dict) -> None:
    """planted-gain above Base with p < 0.05 on some metric (below on none), planted-loss below with p < 0.05 on
    some metric (above on none), the A/A pair different on no metric."""
    rows = [r for r in board["paired"] if r["reference"] == "base"]

    def significant(variant: str, sign: int) -> list[str]:
        return [r["metric"] for r in rows if r["variant"] == variant and r["p_value"] < 0.05 and r["delta"] * sign > 0]

    assert significant("planted-gain", +1) and not significant("planted-gain", -1), rows
    assert significant("planted-loss", -1) and not significant("planted-loss", +1), rows
    assert [r for r in rows if r["variant"] == "base-aa"] and not significant("base-aa", +1) + significant(
        "base-aa", -1), rows


def test_the_three_facts_are_checked_on_a_constructed_board():
    """The check itself can fail: it rejects a board whose controls did not move."""
    board = {"paired": [
        {"variant": "planted-gain", "reference": "base", "metric": "HumanEval", "delta": 0.6, "p_value": 0.002},
        {"variant": "planted-loss", "reference": "base", "metric": "HumanEval", "delta": -0.4, "p_value": 0.03},
        {"variant": "base-aa", "reference": "base", "metric": "HumanEval", "delta": 0.0, "p_value": 1.0}]}
    check_three_facts(board)
    board["paired"][1]["p_value"] = 0.06
    with pytest.raises(AssertionError):
        check_three_facts(board)


@pytest.mark.model
@pytest.mark.slow
def test_the_controls_profile_sees_its_planted_effects(tmp_path):
    """The `controls` profile end to end on CPU (README: its time); the three facts on its leaderboard.json."""
    out = tmp_path / "controls"
    result = run_cli("run", "--profile", "controls", "--output", str(out), timeout=7200)
    assert result.returncode == 0, result.stderr[-3000:]
    check_three_facts(json.loads((out / "leaderboard.json").read_text()))

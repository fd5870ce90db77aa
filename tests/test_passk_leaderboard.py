"""A run with n = 4 samples per task (issue 25, Build 3 and 4): `fgit-bench run` with [generation] n_samples = 4
(samples replayed from files, so the test decides which are right; training on a tiny Llama; evaluation in the
process sandbox), then the leaderboard's pass@k table and curves (the page loaded in headless Chromium) and the
gate on pass@1-from-n: it passes the run itself, fails a planted drop, refuses a design change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.browser_support import load
from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import TINY_SFT, break_solution, canonical_samples, toml_value, write_samples

N, TASKS = 4, 6
CORRECT = {"base": [0, 1, 2, 3, 4, 4], "sft": [1, 2, 3, 4, 4, 2]}  # correct samples per task, by hand


def samples(variant: str) -> list[dict]:
    rows = []
    for index, row in enumerate(canonical_samples("humaneval", TASKS)):
        right = CORRECT[variant][index]
        rows += [row if i < right else break_solution(row) for i in range(N)]
    return rows


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("passk-run")
    for variant in CORRECT:
        write_samples(root / f"{variant}.jsonl", samples(variant))
    lines = [f"model = {toml_value(str(tiny_model_dir()))}", 'variants = ["base", "sft"]', 'sandbox = "process"',
             "jobs = 2", "", "[generation]", 'backend = "replay"',
             f"samples_from = {toml_value(str(root / '{variant}.jsonl'))}", f"n_samples = {N}", "temperature = 0.8",
             "top_p = 0.95", "", "[training]", "limit = 4", "", "[[benchmarks]]", 'name = "humaneval"',
             f"limit = {TASKS}", "", "[plugins.sft]", *[f"{k} = {toml_value(v)}" for k, v in TINY_SFT.items()], ""]
    config = root / "run.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    output = root / "run"
    result = run_cli("run", "--config", str(config), "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def expected_pass_at_k(correct: list[int], k: int) -> float:
    from math import comb

    return sum(1 - comb(N - c, k) / comb(N, k) for c in correct) / len(correct)


def test_results_and_leaderboard(run_dir, tmp_path):
    rows = read_jsonl(run_dir / "sft" / "humaneval" / "eval" / "results.jsonl")
    assert len(rows) == N * TASKS and {r["sample_index"] for r in rows} == set(range(N))
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert board["design"] == {"n_samples": N, "temperature": 0.8, "top_p": 0.95}
    at_4 = next(r for r in board["pass_at_k"] if (r["variant"], r["metric"], r["k"]) == ("sft", "HumanEval+", 4))
    assert at_4["pass_at_k"] == pytest.approx(expected_pass_at_k(CORRECT["sft"], 4)) and at_4["tasks"] == TASKS
    for variant, correct in CORRECT.items():
        entry = board["variants"][variant]["HumanEval+"]
        assert entry["pass_at_1"] == pytest.approx(sum(correct) / (N * TASKS))
        assert entry["tasks"]["HumanEval/0"] == pytest.approx(correct[0] / N)
    markdown = (run_dir / "leaderboard.md").read_text()
    assert "## pass@k (%) from n samples per task" in markdown
    line = next(x for x in markdown.splitlines() if x.startswith("| Base | HumanEval+ |"))
    assert f"{TASKS} × {N}" in line
    for k in (1, 2, 4):  # every column: the estimator computed here by hand
        assert f"{100 * expected_pass_at_k(CORRECT['base'], k):.1f} [" in line, (k, line)
    # diversity: each task's samples are the canonical program and/or one broken one (2 distinct at most)
    line = next(x for x in markdown.splitlines() if x.startswith("| Standard-SFT | HumanEval+ | 4 |"))
    distinct = sum(2 if 0 < c < N else 1 for c in CORRECT["sft"]) / TASKS
    distinct_correct = sum(1 if c else 0 for c in CORRECT["sft"]) / TASKS
    assert line.split(" | ")[3:5] == [f"{distinct:.2f}", f"{distinct_correct:.2f}"], line
    paired = next(r for r in board["paired"] if r["variant"] == "sft" and r["metric"] == "HumanEval+")
    assert paired["delta"] == pytest.approx((sum(CORRECT["sft"]) - sum(CORRECT["base"])) / (N * TASKS))
    assert paired["wins"] == 4 and paired["losses"] == 1  # tasks whose rate rose / fell
    html = run_cli("leaderboard", str(run_dir), "--format", "html", "--output", str(tmp_path / "board.html"))
    assert html.returncode == 0, html.stderr
    dom, console = load(tmp_path / "board.html", tmp_path)
    assert not [c for c in console if "Error" in c], console
    assert dom.count('class="passk-curve"') == 2 * 2  # base and sft, on HumanEval and HumanEval+
    assert all(f"pass@{k}" in dom for k in (1, 2, 4))



def test_explorer_with_n_samples(run_dir, tmp_path):
    """The task explorer (issue 30) with n = 4: a task is won or lost by its pass rate; a task shows every sample of
    each variant with its verdict (the chips), and the shown sample's failing input."""
    import re

    dom, console = load(run_dir / "explorer.html", tmp_path, fragment="b=humaneval&a=sft&vs=base&t=HumanEval/5",
                        settle_ms=3000)
    assert not [c for c in console if "rror" in c], console
    found = dict(re.findall(r'<li data-task="([^"]+)" data-category="([^"]+)"', dom))
    rates = {f"HumanEval/{i}": (CORRECT["sft"][i], CORRECT["base"][i]) for i in range(TASKS)}  # by hand
    assert found == {t: "won" if a > b else "lost" if a < b else "both-pass" if a == N else "both-fail" if a == 0
                     else "tie" for t, (a, b) in rates.items()}
    chips = re.findall(r'<span class="(ok|bad)(?: sel)?" title="[^"]*">(\d)</span>', dom)
    assert len(chips) == 2 * N  # sft: 2 of 4 right on HumanEval/5, base: 4 of 4
    assert sorted(kind for kind, _ in chips) == sorted(["ok"] * (CORRECT["sft"][5] + CORRECT["base"][5])
                                                        + ["bad"] * (2 * N - CORRECT["sft"][5] - CORRECT["base"][5]))
    assert "2 of 4 samples pass" in dom and "4 of 4 samples pass" in dom


def _gate(baseline: Path, current: Path, *extra: str):
    return run_cli("gate", "--baseline", str(baseline), "--current", str(current), *extra)


def test_gate_on_pass_at_1_from_n(run_dir, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert run_cli("leaderboard", str(run_dir), "--format", "json", "--output", str(baseline)).returncode == 0
    assert _gate(baseline, run_dir).returncode == 0
    # a planted drop: every correct sft sample now fails
    dropped = tmp_path / "dropped"
    shutil.copytree(run_dir, dropped)
    path = dropped / "sft" / "humaneval" / "eval" / "results.jsonl"
    rows = [{**r, "base_pass": False, "plus_pass": False, "base_status": "fail", "plus_status": "fail"}
            for r in read_jsonl(path)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _gate(baseline, dropped).returncode == 2  # an edited run directory is refused (issue 28) ...
    manifest = json.loads((dropped / "manifest.json").read_text())
    for stage in manifest["stages"]:  # ... so it is made a hand-assembled one: no output hashes to check against
        stage.pop("outputs", None)
    (dropped / "manifest.json").write_text(json.dumps(manifest))
    result = _gate(baseline, dropped)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sft" in result.stdout.lower()
    # a design change (another temperature) is refused in one line, unless allowed
    changed = tmp_path / "changed"
    shutil.copytree(run_dir, changed)
    manifest = json.loads((changed / "manifest.json").read_text())
    manifest["config"]["generation"]["temperature"] = 0.2
    (changed / "manifest.json").write_text(json.dumps(manifest))
    refused = _gate(baseline, changed)
    assert refused.returncode == 2 and "temperature 0.8 → 0.2" in refused.stderr, refused.stderr
    assert _gate(baseline, changed, "--allow-design-change").returncode == 0


def test_diversity_profile():
    from harness.app.pipeline.config import config_record, load_run_config

    config = load_run_config("diversity", None)
    assert config.variants == ["base", "sft", "sed-sft", "gem", "grpo"]
    g = config.generation
    assert (g.n_samples, g.temperature, g.top_p, g.batch_mode) == (8, 0.8, 0.95, "invariant")
    assert config_record(config)["generation"]["n_samples"] == 8  # sampling fields are in its stage keys

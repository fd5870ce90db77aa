"""Leaderboards from hand-written run directories: the long table, Markdown, CSV, HTML, LaTeX, JSON and the CLI."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from harness.app.cli import main
from harness.core.errors import BadInput
from leaderboards.baseline import dumps, leaderboard_to_json, pass_table_from_json, run_provenance
from leaderboards.html import render_html
from leaderboards.render import render_csv, render_markdown, render_tex
from leaderboards.stats import build_leaderboard
from leaderboards.table import comparable, load_run

VARIANTS = ["base", "sft", "dpo", "mutation", "fgit"]
LABELS = ["Base", "Standard-SFT", "DPO", "Mutation-based", "FGit"]


def write_results(run_dir: Path, variant: str, benchmark: str, outcomes: dict, excluded=()) -> Path:
    """results.jsonl as the evaluator writes it. outcome: base_pass, or (base_pass, plus_pass)."""
    rows = []
    for task_id, outcome in outcomes.items():
        base, plus = outcome if isinstance(outcome, tuple) else (outcome, None)
        rows.append(
            {
                "benchmark": benchmark,
                "task_id": task_id,
                "base_status": "pass" if base else "fail",
                "plus_status": None if plus is None else ("pass" if plus else "fail"),
                "base_pass": base,
                "plus_pass": plus,
                "detail": "" if base else "fail",
                "excluded": task_id in excluded,
            }
        )
    path = run_dir / variant / benchmark / "eval" / "results.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# HumanEval: 4 scored tasks (+ HumanEval/4 excluded: its ground truth fails). (base_pass, plus_pass).
HUMANEVAL = {
    "base": [(True, True), (True, False), (False, False), (False, False), (False, False)],
    "sft": [(True, True), (True, True), (False, False), (False, False), (False, False)],
    "dpo": [(True, True), (False, False), (False, False), (False, False), (True, True)],
    "mutation": [(True, True), (True, True), (True, False), (False, False), (False, False)],
    "fgit": [(True, True), (True, True), (True, True), (True, False), (True, True)],
}
# MBPP: 10 tasks (MBPP+ the same). base passes Mbpp/2-6; fgit those and 7-9; sft 2-5; mutation 2-7.
MBPP = {
    "base": [True] * 5 + [False] * 5,
    "sft": [True] * 4 + [False] * 6,
    "dpo": [True] * 5 + [False] * 5,
    "mutation": [True] * 6 + [False] * 4,
    "fgit": [True] * 8 + [False] * 2,
}
# BigCodeBench-Hard: 3 tasks, base-only metric.
BCB_HARD = {v: [True, False, False] if v == "base" else [True, True, False] for v in VARIANTS}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    for variant in VARIANTS:
        write_results(
            root,
            variant,
            "humaneval",
            {f"HumanEval/{i}": o for i, o in enumerate(HUMANEVAL[variant])},
            excluded={"HumanEval/4"},
        )
        write_results(root, variant, "mbpp", {f"Mbpp/{i + 2}": (o, o) for i, o in enumerate(MBPP[variant])})
        write_results(
            root,
            variant,
            "bigcodebench-hard",
            {f"BigCodeBench/{i}": o for i, o in enumerate(BCB_HARD[variant])},
        )
    (root / "manifest.json").write_text(json.dumps({"profile": "test", "seed": 0}))
    return root


@pytest.fixture
def board(run_dir):
    return build_leaderboard(load_run(run_dir), run_provenance(run_dir), resamples=2000)


def test_load_run_long_table(run_dir):
    table = load_run(run_dir)
    assert list(table.columns) == [
        "variant",
        "benchmark",
        "metric",
        "task_id",
        "passed",
        "status",
        "detail",
        "excluded",
        "flags",
    ]
    # per variant: 5 HumanEval + 5 HumanEval+ + 10 MBPP + 10 MBPP+ + 3 BCB-hard (no plus metric)
    assert len(table) == 5 * (5 + 5 + 10 + 10 + 3)
    assert set(table["metric"]) == {"HumanEval", "HumanEval+", "MBPP", "MBPP+", "BCB-hard"}
    row = table[
        (table["variant"] == "base") & (table["metric"] == "HumanEval+") & (table["task_id"] == "HumanEval/1")
    ]
    assert row["passed"].item() is False
    assert row["status"].item() == "fail"
    assert table.loc[table["excluded"], "task_id"].unique().tolist() == ["HumanEval/4"]
    usable = comparable(table)
    assert "HumanEval/4" not in set(usable["task_id"])
    assert len(usable) == 5 * (4 + 4 + 10 + 10 + 3)


def test_markdown_has_paper_layout_numbers_and_statistics(board):
    text = render_markdown(board)
    for label in LABELS:
        assert f"| {label} |" in text
    # Paper layout: HumanEval (+) | MBPP (+) | BCB full | BCB hard | relative improvement over Base.
    assert "| Variant | HumanEval (+) | MBPP (+) | BCB full | BCB hard | Avg. rel. vs Base |" in text
    assert "| Base | 50.0 (25.0) | 50.0 (50.0) | – | 33.3 | – |" in text
    # FGit: HumanEval 4/4 (+ 3/4), MBPP 8/10, BCB-hard 2/3. Relative: (1.0, 2.0, 0.6, 0.6, 1.0) → mean +104.0%.
    assert "| FGit | 100.0 (75.0) | 80.0 (80.0) | – | 66.7 | +104.0% |" in text
    # Standard-SFT: HumanEval 2/4 (+2/4), MBPP 4/10 → rel (0, 1, -0.2, -0.2, 1) → mean +32.0%.
    assert "| Standard-SFT | 50.0 (50.0) | 40.0 (40.0) | – | 66.7 | +32.0% |" in text
    # Wilson interval of 2/4: [15.0, 85.0] (hand-computed in test_stats).
    assert "| Base | 50.0 [15.0, 85.0] |" in text
    # Paired vs Base on MBPP: FGit wins 3, loses 0 → Δ +30.0 pp, McNemar p = 2/8 = 0.25.
    assert re.search(
        r"\| MBPP \| FGit \| 10 \| 3 \| 0 \| \+30\.0 \| \[[-+]\d+\.\d, \+\d+\.\d\] \| 0\.250 \|", text
    )
    # Paired vs Standard-SFT: MBPP FGit wins 4 → p = 2/16 = 0.125; Base is not repeated against SFT.
    sft_section = text.split("## Paired against Standard-SFT", 1)[1]
    assert "| MBPP | FGit | 10 | 4 | 0 | +40.0 |" in sft_section
    assert "| Base |" not in sft_section.split("## Notes")[0]
    assert "0.125" in sft_section
    assert "HumanEval: 1 task(s) excluded" in text
    assert "manifest sha256" in text


def test_csv_rows_are_machine_readable(board):
    rows = list(csv.DictReader(io.StringIO(render_csv(board))))
    assert len(rows) == 5 * 5  # variants × metrics
    by_key = {(r["variant"], r["metric"]): r for r in rows}
    assert {v for v, _ in by_key} == set(VARIANTS)
    fgit_mbpp = by_key[("fgit", "MBPP")]
    assert (fgit_mbpp["n"], fgit_mbpp["passed"]) == ("10", "8")
    assert float(fgit_mbpp["pass_at_1"]) == pytest.approx(0.8)
    assert float(fgit_mbpp["rel_vs_base"]) == pytest.approx(0.6)
    assert (fgit_mbpp["wins_vs_base"], fgit_mbpp["losses_vs_base"]) == ("3", "0")
    assert float(fgit_mbpp["p_value_vs_base"]) == pytest.approx(0.25)
    assert float(fgit_mbpp["delta_vs_sft"]) == pytest.approx(0.4)
    assert float(fgit_mbpp["p_value_vs_sft"]) == pytest.approx(0.125)
    assert by_key[("base", "MBPP")]["p_value_vs_base"] == ""
    assert float(by_key[("base", "HumanEval")]["ci_low"]) == pytest.approx(0.1500, abs=5e-5)


def test_html_is_self_contained_with_charts_and_win_loss_matrix(board):
    page = render_html(board)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.IGNORECASE)
    for tag in ("<script", "<link", "<img", "<iframe", "@import", "url("):
        assert tag not in page
    assert page.count("<svg") == 5  # one pass@1 chart per metric
    for label in LABELS:
        assert label in page
    # bar tooltip with the Wilson interval of FGit on MBPP: 8/10 → [49.0, 94.3]
    assert "FGit: 80.0% (8/10), 95% CI [49.0, 94.3]" in page
    # win/loss matrix: Mbpp/7..9 are FGit wins over Base; DPO loses HumanEval/1 to Base
    mbpp = page.split("<h3>MBPP</h3>", 1)[1].split("<h3>", 1)[0]
    assert "4 of 10 tasks differ from Base" in mbpp  # Mbpp/6 (SFT loss), Mbpp/7-9 (wins)
    assert '<tr><td>Mbpp/7</td><td class="fail">fail</td>' in mbpp
    assert mbpp.count('class="win"') == 1 + 3  # Mutation-based wins Mbpp/7; FGit wins Mbpp/7, 8, 9
    assert mbpp.count('class="loss"') == 1  # Standard-SFT loses Mbpp/6
    assert "<td>wins / losses</td><td></td><td>0 / 1</td><td>0 / 0</td><td>1 / 0</td><td>3 / 0</td>" in mbpp
    humaneval = page.split("<h3>HumanEval</h3>", 1)[1].split("<h3>", 1)[0]
    assert '<td class="loss">loss</td>' in humaneval


def test_tex_and_json_exports(board):
    tex = render_tex(board)
    assert r"\toprule" in tex and r"\bottomrule" in tex
    assert r"FGit & 100.0 (75.0) & 80.0 (80.0) & -- & 66.7 & +104.0\% \\" in tex

    document = json.loads(dumps(leaderboard_to_json(board)))
    assert document["format"] == "fgit-bench-leaderboard" and document["version"] == 1
    assert document["provenance"]["manifest"] == {"profile": "test", "seed": 0}
    entry = document["variants"]["fgit"]["HumanEval+"]
    assert entry["tasks"] == {
        "HumanEval/0": True,
        "HumanEval/1": True,
        "HumanEval/2": True,
        "HumanEval/3": False,
    }
    assert entry["excluded"] == ["HumanEval/4"]
    assert (entry["n"], entry["passed"]) == (4, 3)
    assert list(document["variants"]) == VARIANTS
    assert list(document["variants"]["base"]) == ["HumanEval", "HumanEval+", "MBPP", "MBPP+", "BCB-hard"]
    # natural task order: Mbpp/2 .. Mbpp/11
    assert list(document["variants"]["base"]["MBPP"]["tasks"])[-2:] == ["Mbpp/10", "Mbpp/11"]


def test_cli_writes_every_format_and_json_reads_back(run_dir, tmp_path, capsys):
    assert main(["leaderboard", str(run_dir), "--resamples", "500"]) == 0
    assert "| FGit | 100.0 (75.0) |" in capsys.readouterr().out
    from leaderboards.formats import FORMATS

    assert sorted(FORMATS) == ["csv", "html", "json", "md", "tex"]
    for fmt in FORMATS:
        out = tmp_path / f"board.{fmt}"
        assert (
            main(["leaderboard", str(run_dir), "--format", fmt, "--output", str(out), "--resamples", "500"])
            == 0
        )
        assert out.stat().st_size > 200
    table = pass_table_from_json(tmp_path / "board.json")
    assert table.tasks[("base", "MBPP")]["Mbpp/2"] is True
    assert table.excluded[("sft", "HumanEval")] == {"HumanEval/4"}
    # same inputs, same seed: byte-identical output
    again = tmp_path / "again.json"
    assert (
        main(["leaderboard", str(run_dir), "--format", "json", "--output", str(again), "--resamples", "500"])
        == 0
    )
    assert again.read_bytes() == (tmp_path / "board.json").read_bytes()


def test_partial_run_reports_missing_variant(tmp_path):
    root = tmp_path / "run"
    write_results(root, "base", "humaneval", {"HumanEval/0": (True, True), "HumanEval/1": (False, False)})
    write_results(root, "fgit", "humaneval", {"HumanEval/0": (True, True)})
    write_results(root, "fgit", "mbpp", {"Mbpp/2": True})
    board = build_leaderboard(load_run(root), resamples=200)
    text = render_markdown(board)
    assert "| Base | 50.0 (50.0) | – (–) | – | – | – |" in text
    assert "HumanEval: variants were scored on different numbers of tasks (base=2, fgit=1)" in text
    assert "MBPP: no results for base" in text
    assert "Paired against Standard-SFT" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"task_id": "HumanEval/0", "base_pass": true}\n{not json\n', "results.jsonl:2: not valid JSON"),
        ('{"task_id": "HumanEval/0"}\n', "missing key 'base_pass'"),
        ('{"task_id": "HumanEval/0", "base_pass": "yes"}\n', "base_pass must be true or false"),
        ('{"task_id": "HumanEval/0", "base_pass": true, "base_status": "ok"}\n', "base_status 'ok'"),
        ('{"task_id": "H/0", "base_pass": true}\n{"task_id": "H/0", "base_pass": false}\n', "appears twice"),
        ("\n", "has no result rows"),
    ],
)
def test_bad_results_files_are_bad_input(tmp_path, content, message):
    path = tmp_path / "run" / "base" / "humaneval" / "eval" / "results.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(BadInput, match=re.escape(message)):
        load_run(tmp_path / "run")
    assert main(["leaderboard", str(tmp_path / "run")]) == 2


def test_missing_or_empty_run_dir_is_bad_input(tmp_path, capsys):
    assert main(["leaderboard", str(tmp_path / "absent")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", str(tmp_path / "empty")]) == 2
    assert "no evaluation results" in capsys.readouterr().err


def test_flagged_samples_are_counted_per_variant(run_dir):
    """Static gaming flags (results rows' `flags`) are counted per variant, once per sample (not per metric),
    without touching pass@1."""
    before = build_leaderboard(load_run(run_dir), run_provenance(run_dir), resamples=200)
    assert "Gaming flags" not in render_markdown(before)  # nothing flagged: no section
    path = run_dir / "dpo" / "mbpp" / "eval" / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    rows[0]["flags"], rows[1]["flags"] = ["custom_eq"], ["process_exit", "frame_walk"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    board = build_leaderboard(load_run(run_dir), run_provenance(run_dir), resamples=200)
    markdown = render_markdown(board)
    section = markdown.split("## Gaming flags", 1)[1].split("##", 1)[0]
    assert "| DPO | 2 | 18 | custom_eq 1, frame_walk 1, process_exit 1 |" in section  # 5 + 10 + 3 samples
    assert "| Base | 0 | 18 | – |" in section
    assert "Gaming flags" in render_html(board)
    assert before.pass_at_1.equals(board.pass_at_1)

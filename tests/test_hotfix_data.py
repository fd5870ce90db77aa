"""Hotfix pairs (sources, split, decontamination, HumanEvalPack's task exclusion), the line probe of the
fixed-line / buggy-line measure, and the leaderboard's hotfix section on a hand-made run directory."""

from __future__ import annotations

import json

import pytest

from harness.app.pipeline.manifest import artifact_record
from harness.app.reports import plugin_report
from harness.core.errors import BadInput
from leaderboards.baseline import run_provenance
from leaderboards.render import render_markdown
from leaderboards.stats import build_leaderboard
from leaderboards.table import comparable, load_run
from plugins.methods.hotfix import HotfixPlugin
from plugins.methods.hotfix_data import load_pair_source, prepare_pairs
from plugins.methods.hotfix_metrics import contains_line, line_probe
from tests.test_leaderboard import write_results


def test_quixbugs_pairs_split_without_overlap_and_reproducibly(shared_data):
    split = prepare_pairs("quixbugs", benchmarks=[], overlap="drop", max_pairs=None, validation=0.1, test=0.2,
                          seed=1, data_dir=shared_data)
    assert (split.report["loaded"], len(split.train), len(split.validation), len(split.test)) == (40, 28, 4, 8)
    names = [[e.meta["task"] for e in part] for part in (split.train, split.validation, split.test)]
    assert len({n for part in names for n in part}) == 40  # disjoint
    assert split.report["test_tasks"] == names[2]
    again = prepare_pairs("quixbugs", benchmarks=[], overlap="drop", max_pairs=None, validation=0.1, test=0.2,
                          seed=1, data_dir=shared_data)
    assert [e.meta["task"] for e in again.test] == names[2]
    other = prepare_pairs("quixbugs", benchmarks=[], overlap="drop", max_pairs=None, validation=0.1, test=0.2,
                          seed=2, data_dir=shared_data)
    assert [e.meta["task"] for e in other.test] != names[2]


def test_a_users_generic_pair_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"buggy": "def f(x):\n    return x - 1\n", "fixed": "def f(x):\n    return x + 1\n",
                                "instruction": "Increment."}) + "\n")
    (example,) = load_pair_source(str(path))
    assert (example.code, example.incorrect, example.instruction) == (
        "def f(x):\n    return x + 1", "def f(x):\n    return x - 1", "Increment.")
    path.write_text(json.dumps({"broken": "x"}) + "\n")
    with pytest.raises(BadInput, match="not a QuixBugs or HumanEvalPack pair file"):
        load_pair_source(str(path))
    with pytest.raises(BadInput, match="not a file and not one of quixbugs, humanevalpack"):
        load_pair_source("quixbug")


def test_humanevalpack_pairs_are_dropped_or_their_tasks_excluded(shared_data):
    dropped = prepare_pairs("humanevalpack,quixbugs", benchmarks=["humaneval"], overlap="drop", max_pairs=None,
                            validation=0.1, test=0.2, seed=0, data_dir=shared_data)
    assert dropped.report["loaded"] == 204 and dropped.report["exclude_tasks"] == {}
    assert not any(e.meta["pair_format"] == "humanevalpack" for e in dropped.train + dropped.validation + dropped.test)
    kept = prepare_pairs("humanevalpack", benchmarks=["humaneval"], overlap="exclude_tasks", max_pairs=20,
                         validation=0.1, test=0.2, seed=0, data_dir=shared_data)
    used = {"HumanEval/" + e.meta["task"].split("/")[1] for e in kept.train + kept.validation}
    assert set(kept.report["exclude_tasks"]["humaneval"]) == used and len(used) == 20 - len(kept.test)
    unchecked = prepare_pairs("humanevalpack", benchmarks=["mbpp"], overlap="drop", max_pairs=10, validation=0.1,
                              test=0.2, seed=0, data_dir=shared_data)  # HumanEval not checked: still excluded
    assert len(unchecked.report["exclude_tasks"]["humaneval"]) == len(unchecked.train + unchecked.validation)


def test_line_probe_of_a_quixbugs_pair(shared_data):
    pairs = {e.meta["task"]: e for e in load_pair_source("quixbugs", shared_data)}
    probe = line_probe(pairs["bitcount"])
    assert probe.context == "def bitcount(n):\n    count = 0\n    while n:\n"
    assert (probe.fixed_line, probe.buggy_line) == ("n &= n - 1", "n ^= n - 1")
    assert line_probe(pairs["depth_first_search"]) is None  # the fix only inserts a line: nothing replaced


def test_contains_line_matches_whole_lines_not_substrings():
    assert contains_line("        n &= n - 1\n        count += 1", "n &= n - 1")
    assert not contains_line("        n &= n - 1 + 2\n", "n &= n - 1")
    assert not contains_line("return x", "return x + 1") and not contains_line("return x + 1", "return x")


def test_leaderboard_shows_hotfix_rates_side_effects_and_excludes_trained_tasks(tmp_path):
    run = tmp_path / "run"
    outcomes = {"base": [True, False, True, False], "hotfix": [True, True, True, False]}
    for variant, passed in outcomes.items():
        write_results(run, variant, "humaneval", {f"HumanEval/{i}": (p, p) for i, p in enumerate(passed)})
        write_results(run, variant, "mbpp", {f"Mbpp/{i + 2}": (p, p) for i, p in enumerate(passed)})
    hotfix = {"sources": ["humanevalpack"], "train": 1, "validation": 1, "test": 2,
              "benchmark_overlap": "exclude_tasks", "exclude_tasks": {"humaneval": ["HumanEval/1"]},
              "rates": {"before": {"fixed_rate": 0.1, "buggy_rate": 0.4},
                        "after": {"fixed_rate": 0.6, "buggy_rate": 0.05, "decoding": "sampled: 10 per pair, top-p 0.95",
                                  "completions": 20, "pairs_scored": 2}}}
    # the manifest's record as the pipeline writes it: the plugin's `hotfix` entry and the tasks it trained on
    record = artifact_record(HotfixPlugin, {"hotfix": hotfix})
    (run / "manifest.json").write_text(json.dumps({"artifacts": {"hotfix": record, "base": {}}}))
    table = load_run(run)
    usable = comparable(table)
    assert "HumanEval/1" not in set(usable.loc[usable["benchmark"] == "humaneval", "task_id"])  # for every variant
    assert "Mbpp/3" in set(usable["task_id"])  # the exclusion is HumanEval's only
    board = build_leaderboard(table, run_provenance(run), resamples=200)
    text = render_markdown(board, plugin_report(board))  # the hotfix plugin's section
    assert "## Hotfixing: held-out pairs and side effects" in text
    row = next(line for line in text.splitlines() if line.startswith("| Hotfix (LoRA) | humanevalpack"))
    assert "10.0 → 60.0" in row and "40.0 → 5.0" in row
    assert "HumanEval tasks trained on excluded from every score: 1" in row
    # HumanEval+: 3 tasks left, both pass 0 and 2: 66.7, Δ 0; MBPP+: 4 tasks, hotfix +25 pp
    assert "66.7 (Δ +0.0 pp vs Base" in row and "75.0 (Δ +25.0 pp vs Base, McNemar p 1.000)" in row

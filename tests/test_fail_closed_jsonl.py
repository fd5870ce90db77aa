"""Issue 28, item 5: JSONL is split at "\\n" only. U+2028, U+2029 and U+0085 are valid unescaped inside JSON strings,
and the harness writes them unescaped (`jsonl_bytes`, ensure_ascii=False); `str.splitlines()` also splits at them
(and at U+000B, U+000C), which cut a run's own samples file in two: exit 2 "not a JSON line" on a file the harness
wrote itself. Real bytes in real files, through `evaluate`, a sharded `run` and `merge`."""

from __future__ import annotations

import json

import pytest

from harness.core.atomic import jsonl_bytes
from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import canonical_samples, run_config
from tests.test_fail_closed import canonical, evaluate, problems, statuses  # noqa: F401 (fixture)
from tests.test_fail_closed_io import errors

SEPARATORS = {"U+2028": "\u2028", "U+2029": "\u2029", "U+0085": "\u0085", "U+000B": "\u000b", "U+000C": "\u000c",
              "U+001E": "\u001e"}
TWO = ["HumanEval/0", "HumanEval/2"]


def with_separator(row: dict, char: str) -> dict:
    """The same (passing) solution with `char` inside its docstring: one Python string, one JSON string."""
    key = "solution" if "solution" in row else "completion"
    return {**row, key: row[key].replace('"""', f'"""{char} ', 1)}


@pytest.mark.parametrize("name", sorted(SEPARATORS))
def test_evaluate_reads_samples_holding_a_line_separator(problems, tmp_path, name):  # noqa: F811
    rows = canonical(problems, TWO)
    rows[0] = with_separator(rows[0], SEPARATORS[name])
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(jsonl_bytes(rows))  # as the harness writes samples: the separator unescaped where JSON allows
    if name in ("U+2028", "U+2029", "U+0085"):
        assert SEPARATORS[name].encode("utf-8") in samples.read_bytes()
    proc = evaluate(samples, tmp_path / "out", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    assert statuses(tmp_path / "out") == {t: ("pass", "pass") for t in TWO}


@pytest.mark.parametrize("char", ["\u000b", "\u000c"])
def test_a_raw_control_character_is_named_on_its_own_line(problems, tmp_path, char):  # noqa: F811
    """JSON forbids raw control characters inside strings: exit 2 on the line that holds one, not on a fragment."""
    rows = canonical(problems, TWO)
    text = json.dumps(rows[0]) + "\n" + json.dumps(with_separator(rows[1], "@")).replace("@", char) + "\n"
    samples = tmp_path / "samples.jsonl"
    samples.write_text(text, encoding="utf-8")
    proc = evaluate(samples, tmp_path / "out", tmp_path / "cache")
    assert proc.returncode == 2, proc.stderr
    assert errors(proc) == [f"fgit-bench: error: {samples}:2: not a JSON line (Invalid control character at)"]
    assert not (tmp_path / "out").exists()


def test_a_sharded_run_with_separators_merges(tmp_path):
    """The run writes its samples.jsonl itself (U+2028 and U+0085 unescaped), evaluates them, and merge joins
    the shards' files: every reader of the run's JSONL on the way."""
    rows = canonical_samples("humaneval", 4)
    for i, char in enumerate(("\u2028", "\u0085", "\u2029", "\u000c")):
        rows[i] = with_separator(rows[i], char)
    (tmp_path / "replay").mkdir()
    (tmp_path / "replay" / "base-humaneval.jsonl").write_bytes(jsonl_bytes(rows))
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=["base"],
                        replay=str(tmp_path / "replay" / "{variant}-{benchmark}.jsonl"), benchmarks={"humaneval": 4})
    output = tmp_path / "run"
    for shard in ("1/2", "2/2"):
        proc = run_cli("run", "--config", str(config), "--output", str(output), "--shard", shard)
        assert proc.returncode == 0, proc.stderr[-3000:]
    written = (output / "base" / "humaneval" / "shards" / "1-of-2" / "samples.jsonl").read_bytes()
    assert "\u2028".encode() in written  # the run's own file holds the separator unescaped
    merged = run_cli("merge", str(output))
    assert merged.returncode == 0, merged.stderr
    samples = read_jsonl(output / "base" / "humaneval" / "samples.jsonl")
    assert [r["task_id"] for r in samples] == [r["task_id"] for r in rows]
    results = read_jsonl(output / "base" / "humaneval" / "eval" / "results.jsonl")
    assert [r["base_pass"] for r in results] == [True] * 4
    board = json.loads((output / "leaderboard.json").read_text(encoding="utf-8"))
    assert "\u2028" not in json.dumps(board)  # sanity: the numbers, not the texts
    assert all(board["variants"]["base"][m]["tasks"] == {r["task_id"]: True for r in rows}
               for m in board["variants"]["base"])

"""`fgit-bench inspect-pair`: JSON and terminal views of a hand-checked QuixBugs pair, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.app.cli import main

QUIXBUGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "QuixBugs-python.jsonl"


@pytest.fixture(scope="module")
def sqrt_pair(tmp_path_factory) -> tuple[Path, Path]:
    row = next(json.loads(line) for line in QUIXBUGS.read_text(encoding="utf-8").split("\n") if '"name": "sqrt"' in line)
    directory = tmp_path_factory.mktemp("pair")
    correct, incorrect = directory / "correct.py", directory / "incorrect.py"
    correct.write_text(row["solution"] + "\n", encoding="utf-8")
    incorrect.write_text(row["buggy_program"] + "\n", encoding="utf-8")
    return correct, incorrect


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["inspect-pair", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_lists_tokens_with_offsets_and_masks(capsys, sqrt_pair):
    correct, incorrect = sqrt_pair
    code, out, _ = _run(capsys, "--correct", str(correct), "--incorrect", str(incorrect), "--json")
    assert code == 0
    report = json.loads(out)
    side_c, side_i = report["correct"], report["incorrect"]
    assert side_c["changed_lines"] == [2] and side_i["changed_lines"] == [2]
    changed_c = [(t["text"], t["start"], t["end"], t["hybrid"]) for t in side_c["tokens"] if t["token"]]
    # "    while abs(x - approx ** 2) > epsilon:" starts at 41; " **" at 65, " " at 68, "2" at 69
    assert changed_c == [(" **", 65, 68, 2), (" ", 68, 69, 2), ("2", 69, 70, 2)]
    changed_i = [(t["text"], t["start"], t["end"], t["hybrid"]) for t in side_i["tokens"] if t["token"]]
    assert changed_i == [(")", 65, 66, 2)]  # the insertion point of " ** 2"
    line_only = [t["text"] for t in side_i["tokens"] if t["line"] and not t["token"]]
    assert line_only == ["\n   ", " while", " abs", "(", "x", " -", " approx", " >", " epsilon", ":", "\n       "]
    first = side_c["tokens"][0]
    assert first == {"index": 0, "id": first["id"], "text": "def", "start": 0, "end": 3, "line": 0, "token": 0,
                     "hybrid": 0}
    assert "".join(t["text"] for t in side_c["tokens"]) == correct.read_text()
    assert side_c["counts"] == {"tokens": len(side_c["tokens"]), "line": 15, "token": 3, "hybrid_2": 3}


def test_terminal_view_highlights_hybrid_one_and_two(capsys, sqrt_pair):
    correct, incorrect = sqrt_pair
    code, out, _ = _run(capsys, "--correct", str(correct), "--incorrect", str(incorrect), "--color", "always")
    assert code == 0
    yellow, red, reset = "\x1b[30;43m", "\x1b[1;97;41m", "\x1b[0m"
    assert f"{yellow}    while abs(x - approx{reset}{red} ** 2{reset}{yellow}) > epsilon:↵{reset}" in out
    assert f"{yellow}    while abs(x - approx{reset}{red}){reset}{yellow} > epsilon:↵{reset}" in out
    assert "   3 !│ " in out and "   2  │ " in out  # changed-line gutter, 1-based line numbers


def test_plain_view_marks_with_symbols(capsys, sqrt_pair):
    correct, incorrect = sqrt_pair
    code, out, _ = _run(capsys, "--correct", str(correct), "--incorrect", str(incorrect), "--color", "never")
    assert code == 0 and "\x1b[" not in out
    lines = out.splitlines()
    row = lines.index("   3 !│     while abs(x - approx ** 2) > epsilon:↵")
    assert lines[row + 1] == "        " + "~" * 24 + "^^^^^" + "~" * 13  # the last ~ is under ↵


def test_missing_file_is_bad_input(capsys, sqrt_pair, tmp_path):
    correct, _ = sqrt_pair
    code, out, err = _run(capsys, "--correct", str(correct), "--incorrect", str(tmp_path / "nope.py"))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "file not found" in err and "nope.py" in err


def test_non_utf8_file_is_bad_input(capsys, sqrt_pair, tmp_path):
    correct, _ = sqrt_pair
    latin = tmp_path / "latin1.py"
    latin.write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    code, _, err = _run(capsys, "--correct", str(correct), "--incorrect", str(latin), "--json")
    assert code == 2 and "not UTF-8" in err


def test_console_script_reports_bad_input_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "harness.app.cli", "inspect-pair", "--correct", str(tmp_path / "a.py"),
         "--incorrect", str(tmp_path / "b.py")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"fgit-bench: error: --correct: file not found: {tmp_path / 'a.py'}"]

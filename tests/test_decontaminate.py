"""Decontamination against HumanEval+, MBPP+ and BigCodeBench: planted benchmark text is dropped and reported,
clean rows (including ones sharing a common idiom with a benchmark solution) are kept."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.core.errors import BadInput
from harness.decontaminate import decontaminate, normalize_benchmarks
from plugins.training.training_data import make_example


def _rows(path, n=None):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return rows[:n] if n else rows


def _example(instruction, code, note=""):
    return make_example(instruction, f"{note}\n```python\n{code}\n```\n", {"name": instruction[:20]})


CLEAN = [
    _example("Write a function that reverses the words of a sentence.",
             "def reverse_words(s):\n    return ' '.join(reversed(s.split()))"),
    _example("Count vowels in a string, case-insensitively.",
             "def count_vowels(text):\n    return sum(ch in 'aeiou' for ch in text.lower())"),
    # Shares HumanEval/31's loop idiom ("if n % i == 0: return False ... return True") but is another task.
    _example("Return the sum of all primes below n, using a helper that tests one number.",
             "def is_prime(n):\n    if n < 2:\n        return False\n    for i in range(2, n):\n"
             "        if n % i == 0:\n            return False\n    return True\n\n\n"
             "def sum_primes(limit):\n    total = 0\n    for candidate in range(limit):\n"
             "        if is_prime(candidate):\n            total += candidate\n    return total"),
]


def test_planted_humaneval_prompt_is_dropped_with_its_task_and_ngram(shared_data):
    task = _rows(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz", 1)[0]
    assert task["task_id"] == "HumanEval/0"
    planted = _example("Complete the following Python function.\n\n" + task["prompt"], "def f():\n    pass")
    kept, report = decontaminate([CLEAN[0], planted, CLEAN[1], CLEAN[2]], ["humaneval"], data_dir=shared_data)
    assert kept == [CLEAN[0], CLEAN[1], CLEAN[2]]
    assert report["checked"] == 4 and report["kept"] == 3
    (dropped,) = report["dropped"]
    assert dropped["position"] == 1 and dropped["task_id"] == "HumanEval/0" and dropped["benchmark"] == "humaneval"
    assert dropped["method"] == "ngram" and dropped["train_field"] == "instruction"
    assert len(dropped["match"].split()) == 10
    assert dropped["match"] in " ".join(task["prompt"].split())  # the n-gram really is in the benchmark prompt
    assert report["benchmark_files"]["humaneval"]["sha256"] == (
        "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101")  # SOURCES.md


def test_reworded_mbpp_statement_is_caught_by_the_normalized_substring(shared_data):
    task = next(t for t in _rows(shared_data / "MbppPlus-v0.2.0.jsonl") if t["task_id"] == "Mbpp/2")
    statement = task["prompt"].strip().strip('"').strip().splitlines()[0]  # "Write a function to find the shared..."
    shouted = "PLEASE:   " + statement.upper().replace(" ", "  ").rstrip(".") + "!!"
    kept, report = decontaminate([_example(shouted, "def f():\n    pass"), CLEAN[0]], ["mbpp"], data_dir=shared_data)
    assert kept == [CLEAN[0]]
    (dropped,) = report["dropped"]
    assert (dropped["task_id"], dropped["method"]) == ("Mbpp/2", "substring")


def test_copied_bigcodebench_solution_in_the_response_is_dropped(shared_data):
    task = _rows(shared_data / "BigCodeBench-v0.1.4.jsonl.gz", 1)[0]
    copied = _example("Average the sums of absolute differences over shuffled permutations.",
                      task["code_prompt"] + task["canonical_solution"])
    kept, report = decontaminate([copied, CLEAN[1]], ["bigcodebench-hard"], data_dir=shared_data)
    assert kept == [CLEAN[1]]
    (dropped,) = report["dropped"]
    assert dropped["task_id"] == task["task_id"] and dropped["train_field"] == "response"
    assert dropped["overlap"] >= 0.5 and dropped["match"] in " ".join(task["canonical_solution"].split())


def test_all_benchmarks_keep_clean_rows(shared_data):
    kept, report = decontaminate(CLEAN, ["humaneval", "mbpp", "bigcodebench"], data_dir=shared_data)
    assert kept == CLEAN and report["dropped"] == []
    assert report["benchmarks"] == ["humaneval", "mbpp", "bigcodebench"]


def test_benchmark_names():
    assert normalize_benchmarks(["humaneval", "mbpp", "bigcodebench-full", "bigcodebench-hard"]) == [
        "humaneval", "mbpp", "bigcodebench"]
    assert normalize_benchmarks(["none"]) == []
    kept, report = decontaminate(CLEAN, [])
    assert kept == CLEAN and report["benchmarks"] == []
    with pytest.raises(BadInput, match="unknown benchmark 'humaneavl'"):
        normalize_benchmarks(["humaneavl"])

"""Training data loading: JSONL / .jsonl.gz / saved HF datasets, Python code extraction, pair files, --limit."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.core.errors import BadInput
from plugins.training.training_data import (
    extract_python_code,
    load_pairs_file,
    load_training_data,
    make_example,
    prepare_training_set,
    replace_code,
    response_text,
)

RESPONSE = """Here is a helper first:

```python
x = 1
```

And the solution:

```Python
def add(a, b):
    return a + b
```

Usage in JavaScript:

```javascript
console.log(add(1, 2));
```
"""

ROWS = [
    {"instruction": "Write add in Python.", "output": RESPONSE},
    {"instruction": "Explain closures in JavaScript.", "output": "```js\nconst f = () => 1;\n```"},
    {"instruction": "Untagged block.", "output": "```\ndef g():\n    return 2\n```"},
    {"instruction": "Square a number.", "output": "```py\ndef square(n):\n    return n * n\n```\nDone."},
]


def _write_jsonl(path, rows, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return path


def test_longest_python_block_is_the_code_and_its_span_points_at_it():
    code, (start, end) = extract_python_code(RESPONSE)
    assert code == "def add(a, b):\n    return a + b"
    assert RESPONSE[start:end] == code
    assert extract_python_code("```javascript\nlet a = 1;\n```") is None
    assert extract_python_code("```\nlet a = 1;\n```", accept_untagged=True) is None  # does not parse as Python
    assert extract_python_code("```\ndef g():\n    return 2\n```", accept_untagged=True)[0] == "def g():\n    return 2"


def test_jsonl_gz_and_saved_hf_dataset_give_the_same_examples(tmp_path):
    plain, n_plain = load_training_data(str(_write_jsonl(tmp_path / "d.jsonl", ROWS)))
    gz, n_gz = load_training_data(str(_write_jsonl(tmp_path / "d.jsonl.gz", ROWS, gz=True)))
    import datasets

    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "hf"))
    hf, n_hf = load_training_data(str(tmp_path / "hf"))
    assert n_plain == n_gz == n_hf == 4
    for examples in (plain, gz, hf):
        assert [e.instruction for e in examples] == ["Write add in Python.", "Square a number."]
        assert [e.code for e in examples] == ["def add(a, b):\n    return a + b", "def square(n):\n    return n * n"]
        assert examples[1].meta["row"] == 3


def test_columns_are_detected_or_named(tmp_path):
    rows = [{"problem": "Square.", "solution": "```python\ndef sq(n):\n    return n * n\n```"}]
    examples, _ = load_training_data(str(_write_jsonl(tmp_path / "oss.jsonl", rows)))
    assert examples[0].instruction == "Square." and examples[0].code.startswith("def sq")
    with pytest.raises(BadInput, match="no response column 'answer'"):
        load_training_data(str(tmp_path / "oss.jsonl"), response_field="answer")
    with pytest.raises(BadInput, match="cannot find the instruction column"):
        load_training_data(str(_write_jsonl(tmp_path / "bad.jsonl", [{"text": "x", "output": "y"}])))
    with pytest.raises(BadInput, match="not found"):
        load_training_data(str(tmp_path / "missing.jsonl"))


def test_evol_instruct_sample_has_the_documented_python_rows(shared_data):
    # SOURCES.md: 3,919 rows, 1,197 outputs contain a fenced python code block.
    examples, n_rows = load_training_data(str(shared_data / "EvolInstruct-Code-4k.jsonl.gz"))
    assert (n_rows, len(examples)) == (3919, 1197)
    assert all(e.code and e.response[slice(*e.meta["code_span"])] == e.code for e in examples)


def test_quixbugs_pairs_hold_the_file_s_solution_and_buggy_program(shared_data):
    path = shared_data / "QuixBugs-python.jsonl"
    raw = {row["name"]: row for row in map(json.loads, filter(str.strip, path.read_text(encoding="utf-8").split("\n")))}
    pairs = load_pairs_file(path)
    assert len(pairs) == 40
    bitcount = next(p for p in pairs if p.meta["task"] == "bitcount")
    assert bitcount.code == raw["bitcount"]["solution"].strip()
    assert bitcount.incorrect == raw["bitcount"]["buggy_program"].strip()
    assert "n &= n - 1" in bitcount.code and "n ^= n - 1" in bitcount.incorrect
    assert "The number of 1-bits in the binary encoding of n" in bitcount.instruction
    assert bitcount.response == "```python\n" + bitcount.code + "\n```"


def test_humanevalpack_pairs_are_whole_functions(shared_data):
    pairs = load_pairs_file(shared_data / "HumanEvalPack-python.jsonl")
    assert len(pairs) == 164
    first = pairs[0]
    assert first.code.startswith("from typing import List") and "def has_close_elements" in first.code
    assert "distance = abs(elem - elem2)" in first.code and "distance = elem - elem2" in first.incorrect
    assert first.instruction.startswith("Write a Python function `has_close_elements")
    # the loader for generic data recognises the pair format too
    same, n_rows = load_training_data(str(shared_data / "HumanEvalPack-python.jsonl"))
    assert n_rows == 164 and same[0].incorrect == first.incorrect


def test_response_text_swaps_only_the_code():
    example = make_example("Write add.", RESPONSE, {})
    wrong = "def add(a, b):\n    return a - b"
    swapped = response_text(example, "response", code=wrong)
    assert swapped == RESPONSE.replace("return a + b", "return a - b")
    assert swapped == replace_code(example, wrong)
    assert response_text(example, "code") == "```python\ndef add(a, b):\n    return a + b\n```"
    assert response_text(example, "code", code=wrong) == "```python\n" + wrong + "\n```"


def test_limit_takes_the_first_clean_rows_and_the_result_is_cached(tmp_path):
    rows = [{"instruction": f"Task {i}", "output": f"```python\ndef f{i}():\n    return {i}\n```"} for i in range(6)]
    source = str(_write_jsonl(tmp_path / "six.jsonl", rows))
    examples, report = prepare_training_set(source, limit=4, benchmarks=["none"], cache_dir=tmp_path / "cache")
    assert [e.instruction for e in examples] == ["Task 0", "Task 1", "Task 2", "Task 3"]
    assert report["rows_used"] == 4 and report["rows_with_python"] == 6 and report["decontamination"]["dropped"] == []
    cached_files = list((tmp_path / "cache" / "training-data").glob("*.json"))
    assert len(cached_files) == 1
    again, report_again = prepare_training_set(source, limit=4, benchmarks=["none"], cache_dir=tmp_path / "cache")
    assert again == examples and report_again == report
    with pytest.raises(BadInput, match="at least 1"):
        prepare_training_set(source, limit=0)

"""Training data: instruction/response rows (Evol-Instruct style) from JSONL, .jsonl.gz or Hugging Face datasets,
with the Python code extracted from the response's fenced blocks; and correct/buggy pair files (QuixBugs,
HumanEvalPack) for the preference baselines until the FGit variant generator provides pairs.

`prepare_training_set` is the one entry point the CLI and the comparison run use: load → keep rows with Python →
decontaminate against the evaluated benchmarks → take the first `limit` clean rows.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.core.atomic import write_json
from harness.core.config import to_dict
from harness.core.errors import BadInput
from harness.core.hashing import file_digest, json_digest
from plugins.api import TrainingExample

# Column names the common instruction-tuning sets use, in order of preference.
INSTRUCTION_COLUMNS = ("instruction", "problem", "prompt", "question", "query")
RESPONSE_COLUMNS = ("output", "response", "solution", "completion", "answer")

# A fence opens with ```python / ```py / ```python3 (any case, optional attributes after the tag) and closes with
# a line holding only ```. Untagged blocks are other languages as often as Python in Evol-Instruct, so they are
# taken only on request (and then only when they parse).
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_PYTHON_TAGS = {"python", "py", "python3", "py3"}
_PREPARED_FORMAT = 2  # bump when loading or decontamination changes what a source yields


def python_code_spans(text: str, accept_untagged: bool = False) -> list[tuple[int, int]]:
    """Character spans of the contents of the Python fenced blocks of `text`, in order."""
    spans = []
    for match in _FENCE.finditer(text):
        tag = match.group(1).lower()
        if tag in _PYTHON_TAGS or (accept_untagged and not tag and _parses(match.group(2))):
            spans.append((match.start(2), match.end(2)))
    return spans


def _parses(code: str) -> bool:
    import ast

    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return bool(code.strip())


def extract_python_code(text: str, accept_untagged: bool = False) -> tuple[str, tuple[int, int]] | None:
    """The solution code of a response: its longest Python block (others are usually usage examples)."""
    spans = python_code_spans(text, accept_untagged)
    if not spans:
        return None
    start, end = max(spans, key=lambda span: span[1] - span[0])
    return text[start:end].rstrip("\n"), (start, start + len(text[start:end].rstrip("\n")))


def replace_code(example: TrainingExample, new_code: str) -> str:
    """The example's response with its code block's contents replaced (the incorrect variant's response)."""
    span = example.meta.get("code_span")
    if not span:
        raise ValueError("example has no code_span: was it loaded with plugins.training.training_data?")
    start, end = span
    return example.response[:start] + new_code + example.response[end:]


def fenced(code: str) -> str:
    return f"```python\n{code.strip(chr(10))}\n```"


def response_text(example: TrainingExample, target: str = "response", code: str | None = None) -> str:
    """What the model is trained to answer: the whole response (`target="response"`) or only the fenced code
    (`"code"`), with `code` (e.g. the incorrect variant) in place of the example's own code when given."""
    if code is None or code == example.code:
        return example.response if target == "response" else fenced(example.code or "")
    return replace_code(example, code) if target == "response" else fenced(code)


def make_example(instruction: str, response: str, meta: dict[str, Any], accept_untagged: bool = False,
                 incorrect: str | None = None) -> TrainingExample | None:
    """A TrainingExample with `code` and `meta["code_span"]` filled in, or None when the response has no Python."""
    found = extract_python_code(response, accept_untagged)
    if found is None:
        return None
    code, span = found
    meta = {**meta, "code_span": list(span), "python_blocks": len(python_code_spans(response, accept_untagged))}
    return TrainingExample(instruction=instruction, response=response, code=code, incorrect=incorrect, meta=meta)


# ---- reading rows -----------------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise BadInput(f"{path}:{number}: not valid JSON: {exc.msg}") from None
    except (OSError, EOFError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    return rows


def _read_rows(source: str, split: str) -> list[dict]:
    path = Path(source)
    name = path.name.lower()
    if path.is_file():
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            return _read_jsonl(path)
        if name.endswith(".json"):
            text = path.read_text(encoding="utf-8")
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                return _read_jsonl(path)  # JSON lines under a .json name
            if not isinstance(data, list):
                raise BadInput(f"{path}: expected a JSON array of rows or JSON lines")
            return data
        if name.endswith(".parquet"):
            return _hf_rows("parquet", split, data_files=str(path))
        raise BadInput(f"training data {source}: unknown file type (use .jsonl, .jsonl.gz, .json, .parquet)")
    if path.is_dir():
        if (path / "dataset_info.json").is_file() or (path / "state.json").is_file():
            from datasets import DatasetDict, load_from_disk

            data = load_from_disk(str(path))
            if isinstance(data, DatasetDict):
                if split not in data:
                    raise BadInput(f"{source}: no split {split!r} (has {', '.join(data)})")
                data = data[split]
            return data.to_list()
        return _hf_rows(str(path), split)
    if source.count("/") == 1 and not source.startswith((".", "/")):
        return _hf_rows(source, split)  # a Hugging Face hub id
    raise BadInput(f"training data {source!r} not found (a .jsonl/.jsonl.gz/.json/.parquet file, a saved dataset "
                   "directory or a Hugging Face dataset id)")


def _hf_rows(name: str, split: str, **kwargs) -> list[dict]:
    from datasets import load_dataset

    try:
        return load_dataset(name, split=split, **kwargs).to_list()
    except Exception as exc:  # datasets raises many types (network, format, missing split)
        raise BadInput(f"cannot load dataset {name!r} split {split!r}: {str(exc).splitlines()[0]}") from None


def _pick_column(row: dict, explicit: str | None, candidates: Iterable[str], what: str, source: str) -> str:
    if explicit:
        if explicit not in row:
            raise BadInput(f"{source}: no {what} column {explicit!r} (columns: {', '.join(row)})")
        return explicit
    for name in candidates:
        if name in row:
            return name
    raise BadInput(f"{source}: cannot find the {what} column among {', '.join(row)}; name it with "
                   f"--{what}-field")


def load_training_data(source: str, *, instruction_field: str | None = None, response_field: str | None = None,
                       split: str = "train", accept_untagged: bool = False) -> tuple[list[TrainingExample], int]:
    """All rows whose response holds Python code, and the number of rows read.

    Pair files (QuixBugs, HumanEvalPack) are recognised by their columns and read with `load_pairs_file`.
    """
    rows = _read_rows(str(source), split)
    if not rows:
        raise BadInput(f"training data {source} is empty")
    if _pair_format(rows[0]):
        return _pairs_from_rows(rows, str(source)), len(rows)
    instruction_col = _pick_column(rows[0], instruction_field, INSTRUCTION_COLUMNS, "instruction", str(source))
    response_col = _pick_column(rows[0], response_field, RESPONSE_COLUMNS, "response", str(source))
    examples = []
    for index, row in enumerate(rows):
        instruction, response = row.get(instruction_col), row.get(response_col)
        if not isinstance(instruction, str) or not isinstance(response, str) or not instruction.strip():
            continue
        meta = {"source": Path(str(source)).name, "row": index}
        if isinstance(row.get("task"), dict):  # a task with tests (fgit-bench synth): what GRPO's reward runs
            meta["task"] = row["task"]
        example = make_example(instruction, response, meta, accept_untagged)
        if example is not None:
            examples.append(example)
    return examples, len(rows)


# ---- correct / incorrect pair files -----------------------------------------------------------------------------


def _pair_format(row: dict) -> str | None:
    if {"buggy_program", "solution", "name"} <= row.keys():
        return "quixbugs"
    if {"buggy_solution", "canonical_solution", "declaration", "instruction"} <= row.keys():
        return "humanevalpack"
    return None


def _quixbugs_instruction(row: dict) -> str:
    doc = textwrap.dedent(row.get("docstring") or "").strip().strip('"').strip()
    return f"Write a Python function `{row['name']}` as described below.\n\n{doc}".strip()


def _pairs_from_rows(rows: list[dict], source: str) -> list[TrainingExample]:
    examples = []
    for index, row in enumerate(rows):
        kind = _pair_format(row)
        if kind == "quixbugs":
            instruction, correct, buggy, task = (_quixbugs_instruction(row), row["solution"],
                                                 row["buggy_program"], row["name"])
        elif kind == "humanevalpack":
            # The declaration carries the imports and signature; the solutions are function bodies.
            instruction, task = row["instruction"], row.get("task_id", str(index))
            correct = row["declaration"] + row["canonical_solution"]
            buggy = row["declaration"] + row["buggy_solution"]
        else:
            raise BadInput(f"{source}: row {index} is not a QuixBugs or HumanEvalPack pair")
        correct, buggy = correct.strip("\n").rstrip(), buggy.strip("\n").rstrip()
        example = make_example(instruction, fenced(correct), {"source": Path(source).name, "row": index,
                                                              "task": task, "pair_format": kind},
                               incorrect=buggy)
        examples.append(example)
    return examples


def load_pairs_file(path: str | Path) -> list[TrainingExample]:
    """QuixBugs-python.jsonl or HumanEvalPack-python.jsonl → examples with `code` (correct) and `incorrect`."""
    rows = _read_jsonl(Path(path))
    if not rows or not _pair_format(rows[0]):
        raise BadInput(f"{path}: not a QuixBugs or HumanEvalPack pair file")
    return _pairs_from_rows(rows, str(path))


# ---- the whole preparation --------------------------------------------------------------------------------------


def prepare_training_set(source: str, *, limit: int | None = None, benchmarks: Iterable[str] = (),
                         instruction_field: str | None = None, response_field: str | None = None,
                         split: str = "train", accept_untagged: bool = False, decontamination=None,
                         data_dir: str | Path | None = None,
                         cache_dir: str | Path | None = None) -> tuple[list[TrainingExample], dict]:
    """Load, keep Python rows, decontaminate, limit. Returns the examples and a report for the artifact.

    With `cache_dir`, a local source's result is cached by content (source file, options, benchmark files,
    decontamination settings), so a repeated run skips loading the benchmarks.
    """
    from harness.decontaminate import (
        DecontaminationConfig,
        benchmark_file,
        decontaminate,
        normalize_benchmarks,
    )

    if limit is not None and limit < 1:
        raise BadInput(f"--limit must be at least 1, got {limit}")
    names = normalize_benchmarks(benchmarks)
    decontamination = decontamination or DecontaminationConfig()
    cache_file = None
    if cache_dir is not None and Path(source).is_file():
        key = json_digest({"source": file_digest(source), "limit": limit, "split": split,
                           "fields": [instruction_field, response_field], "untagged": accept_untagged,
                           "decontamination": to_dict(decontamination), "format": _PREPARED_FORMAT,
                           "benchmarks": {n: file_digest(f) if (f := benchmark_file(n, data_dir)) else None
                                          for n in names}})
        cache_file = Path(cache_dir) / "training-data" / f"{key}.json"
        if cache_file.is_file():
            cached = json.loads(cache_file.read_text(encoding="utf-8"))
            return [TrainingExample(**row) for row in cached["examples"]], cached["report"]
    examples, n_rows = load_training_data(source, instruction_field=instruction_field,
                                          response_field=response_field, split=split,
                                          accept_untagged=accept_untagged)
    kept, contamination = decontaminate(examples, names, config=decontamination, data_dir=data_dir)
    selected = kept[:limit] if limit else kept
    if not selected:
        raise BadInput(f"no training rows left from {source}: {n_rows} read, {len(examples)} with Python code, "
                       f"{len(kept)} after decontamination")
    report = {"source": str(source), "rows_read": n_rows, "rows_with_python": len(examples),
              "rows_after_decontamination": len(kept), "limit": limit, "rows_used": len(selected),
              "decontamination": contamination}
    if cache_file is not None:
        write_json(cache_file, {"examples": [dataclasses.asdict(e) for e in selected], "report": report}, indent=None)
    return selected, report

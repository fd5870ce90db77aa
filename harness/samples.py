"""Reading and validating a samples file (evalplus format: `task_id` plus `solution` or `completion`)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.atomic import jsonl_lines
from harness.core.errors import BadInput


def check_text(where: str, key: str, value) -> None:
    """A string field must be valid Unicode: "\\ud800" in JSON parses, but no program text can hold it."""
    if not isinstance(value, str):
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInput(f"{where}: {key} holds a lone surrogate at character {exc.start} (not valid Unicode text)") \
            from None


def read_samples(path: str | Path, known_tasks: dict) -> dict[str, list[dict]]:
    """task_id -> its sample rows in file order (evalplus's format takes any number of samples per task: pass@k
    from n samples). Every problem is bad input with one clear line."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"samples file not found: {path}")
    if not path.is_file():
        raise BadInput(f"samples file {path} is not a regular file")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:  # EIO, EACCES, a file that vanished: the file is unusable, not the harness broken
        raise BadInput(f"cannot read samples file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 (byte {exc.start})") from None
    samples: dict[str, list[dict]] = {}
    for number, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{where}: not a JSON line ({exc.msg})") from None
        except RecursionError:
            raise BadInput(f"{where}: JSON nested too deeply") from None
        if not isinstance(row, dict):
            raise BadInput(f"{where}: expected a JSON object, got {type(row).__name__}")
        task_id = row.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise BadInput(f"{where}: no task_id")
        if task_id not in known_tasks:
            raise BadInput(f"{where}: unknown task_id {task_id!r}")
        for key in ("solution", "completion"):
            if row.get(key) is not None and not isinstance(row[key], str):
                raise BadInput(f"{where}: {key} must be a string")
            check_text(where, key, row.get(key))
        if row.get("solution") is None and row.get("completion") is None:
            raise BadInput(f"{where}: neither solution nor completion")
        samples.setdefault(task_id, []).append(row)
    if not samples:
        raise BadInput(f"{path}: no samples")
    return samples

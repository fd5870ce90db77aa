"""Helpers for tests of the comparison run: replayable sample files and small run configurations.

The runs are real (`fgit-bench run` in a subprocess: training on a tiny Llama, evaluation in a real sandbox);
only generation is replayed from files, so a test decides which solutions are right and which are broken.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.benchmarks import get_benchmark
from harness.core.data import data_dir

BROKEN_BODY = "    raise NotImplementedError('broken on purpose')\n"


def canonical_samples(benchmark: str, limit: int | None = None) -> list[dict]:
    """The benchmark's canonical solutions as evalplus-format samples (known to pass: the tests decide which ones to break)."""
    dataset = get_benchmark(benchmark).load(data_dir(None))
    sep = "" if benchmark == "humaneval" else "\n"
    rows = [{"task_id": t, "solution": p["prompt"] + sep + p["canonical_solution"], "entry_point": p["entry_point"]}
            for t, p in dataset.problems.items()]
    return rows[:limit] if limit else rows


def break_solution(row: dict) -> dict:
    """The same task answered by a function that raises: fails every test, parses fine."""
    signature = f"def {row['entry_point']}(*args, **kwargs):\n"
    return {**row, "solution": signature + BROKEN_BODY}


def write_samples(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def toml_value(value) -> str:
    return json.dumps(value)  # JSON strings, numbers, booleans and lists are valid TOML values


def run_config(path: Path, *, model: str, variants: list[str], replay: str, benchmarks: dict[str, int],
               sandbox: str = "process", plugins: dict[str, dict] | None = None, training_limit: int = 4) -> Path:
    lines = [f"model = {toml_value(model)}", f"variants = {toml_value(variants)}",
             f"sandbox = {toml_value(sandbox)}", "jobs = 2", "",
             "[generation]", 'backend = "replay"', f"samples_from = {toml_value(replay)}", "",
             "[training]", f"limit = {training_limit}", ""]
    for name, limit in benchmarks.items():
        lines += ["[[benchmarks]]", f"name = {toml_value(name)}", f"limit = {limit}", ""]
    for variant, table in (plugins or {}).items():
        lines.append(f"[plugins.{variant}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


TINY_SFT = {"max_steps": 1, "batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 256,
            "learning_rate": 1e-4}


def leaderboard_numbers(run_dir: Path) -> dict:
    """The leaderboard JSON without its provenance (timestamps and paths differ between runs by design)."""
    document = json.loads((run_dir / "leaderboard.json").read_text(encoding="utf-8"))
    document.pop("provenance", None)
    return document

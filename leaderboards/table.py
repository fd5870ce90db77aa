"""Load a run directory into one long pandas table: variant × metric × task → passed / status / excluded.

A run directory holds `RUN_DIR/<variant>/<benchmark>/eval/results.jsonl`, one row per task as the evaluator
writes it (see DESIGN.md). Each row gives one table row per metric: the base tests ("HumanEval") and, where
the benchmark has them, the extra tests ("HumanEval+").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from harness.core.errors import BadInput
from leaderboards import naming
from leaderboards.naming import MetricSpec

RESULTS_RELPATH = Path("eval") / "results.jsonl"
COLUMNS = ["variant", "benchmark", "metric", "task_id", "passed", "status", "detail", "excluded", "flags"]
# only in tables of runs with n samples per task: n, c, and the diversity of the task's samples (distinct programs
# by their normalised id, distinct correct ones for this metric, mean pairwise edit similarity; harness/diversity.py)
SAMPLE_COLUMNS = ["n_samples", "correct", "distinct", "distinct_correct", "similarity"]
# With n samples per task (results rows with `sample_index`) a task's `passed` is its pass rate c/n (a float), and
# `n_samples`/`correct` give n and c (pass@k); with one sample per task `passed` stays a bool, n 1, c 0 or 1.


_STATUSES = {"pass", "fail", "timeout"}
TRAINED_DETAIL = "trained on by a variant of the run"


def task_sort_key(task_id: str) -> tuple:
    """Natural order: "HumanEval/2" before "HumanEval/10"."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", task_id)
    )


def sort_tasks(task_ids) -> list[str]:
    return sorted(task_ids, key=task_sort_key)


def variant_label(variant: str) -> str:
    declared = naming.current().variant(variant)
    return declared[1] if declared else variant


def metric_spec(benchmark: str, plus: bool) -> MetricSpec | None:
    """The column of `benchmark`'s base or plus tests; None for plus where the benchmark declares base only, and
    for both where its columns are per-task fields instead (`field_metrics`)."""
    declared = naming.current().metrics(benchmark)
    if declared is not None:
        return next((m for m in declared if m.plus == plus and m.field is None), None)
    return MetricSpec(benchmark + ("+" if plus else ""), benchmark, plus)


def field_metrics(benchmark: str) -> list[MetricSpec]:
    """Columns that read another per-task boolean of the rows (`field`, e.g. a repair's exact match)."""
    return [m for m in naming.current().metrics(benchmark) or [] if m.field is not None]


def field_metric_names() -> set[str]:
    """Names of every per-task-field column (shown as their own block, not as pass@1)."""
    return {m.name for m in naming.current().known_metrics() if m.field is not None}


def order_variants(names) -> list[str]:
    """Declared display order (the plugins' `order`), then undeclared names alphabetically."""
    lookup = naming.current().variant
    return sorted(set(names), key=lambda v: (0, lookup(v)[0], v) if lookup(v) else (1, 0, v))


def order_metrics(names) -> list[str]:
    names = set(names)
    known = [m.name for m in naming.current().known_metrics()]
    return [m for m in known if m in names] + sorted(names - set(known))


def find_results(run_dir: str | Path) -> list[tuple[str, str, Path]]:
    """(variant, benchmark directory, results.jsonl) for every evaluated benchmark of every variant."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BadInput(f"run directory {run_dir} does not exist or is not a directory")
    found = []
    for path in sorted(run_dir.glob(f"*/*/{RESULTS_RELPATH.as_posix()}")):
        benchmark_dir = path.parent.parent
        found.append((benchmark_dir.parent.name, benchmark_dir.name, path))
    if not found:
        raise BadInput(
            f"no evaluation results in {run_dir} (expected <variant>/<benchmark>/eval/results.jsonl)"
        )
    return found


def _parse_row(raw: bytes, where: str) -> dict:
    try:
        row = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{where}: not valid JSON ({exc})") from None
    except RecursionError:
        raise BadInput(f"{where}: JSON nested too deeply") from None
    if not isinstance(row, dict):
        raise BadInput(f"{where}: expected a JSON object per line")
    for key in ("task_id", "base_pass"):
        if key not in row:
            raise BadInput(f"{where}: missing key {key!r}")
    if not isinstance(row["task_id"], str) or not row["task_id"]:
        raise BadInput(f"{where}: task_id must be a non-empty string")
    if not isinstance(row["base_pass"], bool):
        raise BadInput(f"{where}: base_pass must be true or false")
    if row.get("plus_pass") is not None and not isinstance(row["plus_pass"], bool):
        raise BadInput(f"{where}: plus_pass must be true, false or null")
    for key in ("base_status", "plus_status"):
        status = row.get(key)
        if status is not None and status not in _STATUSES:
            raise BadInput(f"{where}: {key} {status!r} is not one of {sorted(_STATUSES)}")
    return row


def read_results(path: str | Path, benchmark_dir: str | None = None) -> list[dict]:
    """Rows of one results.jsonl, validated. Duplicate task ids must agree, else the file is ambiguous."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    rows: dict[tuple, dict] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        row = _parse_row(raw, f"{path}:{number}")
        benchmark = row.get("benchmark") or benchmark_dir
        if not benchmark:
            raise BadInput(f"{path}:{number}: missing key 'benchmark'")
        row["benchmark"] = benchmark
        key = (row["task_id"], row.get("sample_index"))
        previous = rows.get(key)
        if previous is not None and previous != row:
            raise BadInput(f"{path}:{number}: task {row['task_id']!r} appears twice with different results")
        rows[key] = row
    if not rows:
        raise BadInput(f"{path} has no result rows")
    if any(index is not None for _, index in rows):
        return aggregate_samples(list(rows.values()))
    return list(rows.values())


def aggregate_samples(rows: list[dict]) -> list[dict]:
    """n samples per task → one row per task: each boolean result (base_pass, plus_pass, the benchmark's per-task
    fields) as its pass rate c/n, with n and c kept in `_samples` (metric key → (n, c))."""
    by_task: dict[str, list[dict]] = {}
    for row in rows:
        by_task.setdefault(row["task_id"], []).append(row)
    out = []
    for group in by_task.values():
        first = dict(group[0])
        first.pop("sample_index", None)
        first["_samples"] = {}
        for key, value in group[0].items():
            if key in ("base_pass", "plus_pass") or (isinstance(value, bool) and key != "excluded"):
                values = [r.get(key) for r in group]
                if any(v is None for v in values):
                    first[key] = None
                    continue
                correct = sum(bool(v) for v in values)
                first[key] = correct / len(values)
                ids = {r.get("program_id") for r, v in zip(group, values, strict=True) if v}
                first["_samples"][key] = (len(values), correct, len(ids) if None not in ids else None)
        ids = {r.get("program_id") for r in group}
        first["_distinct"] = len(ids) if None not in ids else None
        first["_similarity"] = group[0].get("pairwise_similarity")
        first["excluded"] = any(r.get("excluded") for r in group)
        first["flags"] = sorted({f for r in group for f in (r.get("flags") or [])})
        for status in ("base_status", "plus_status"):
            if first.get(status) is not None:
                first[status] = "pass" if all(r.get(status) == "pass" for r in group) else "fail"
        out.append(first)
    return out


def _status(passed: bool, status: str | None) -> str:
    return status if status is not None else ("pass" if passed else "fail")


def rows_to_records(variant: str, rows: list[dict]) -> list[dict]:
    """One record per (task, metric): the base metric always, the plus metric where plus_pass is given."""
    records = []
    for row in rows:
        excluded = bool(row.get("excluded", False))
        detail = row.get("detail") or ""
        specs = [(spec, row.get("plus_pass") if plus else row["base_pass"], plus)
                 for plus in (False, True) if (spec := metric_spec(row["benchmark"], plus)) is not None]
        specs += [(spec, row.get(spec.field), None) for spec in field_metrics(row["benchmark"])]
        counts = row.get("_samples")
        for spec, passed, plus in specs:
            if passed is None:
                continue
            key = ("plus_pass" if plus else "base_pass") if plus is not None else spec.field
            n, correct, distinct_correct = counts[key] if counts is not None else (1, int(bool(passed)), None)
            if counts is not None:
                status = "pass" if correct == n else "fail"
            elif not isinstance(passed, bool):
                raise BadInput(f"{row['benchmark']} {row['task_id']}: {spec.field} must be true or false")
            elif plus is None:  # a per-task field: passed or not, whatever the tests' status
                status = "pass" if passed else "fail"
            else:
                status = _status(passed, row.get("plus_status") if plus else row.get("base_status"))
            records.append(
                {
                    "variant": variant,
                    "benchmark": row["benchmark"],
                    "metric": spec.name,
                    "task_id": row["task_id"],
                    "passed": bool(passed) if counts is None else float(passed),
                    "status": status,
                    "detail": str(detail),
                    "excluded": excluded,
                    "flags": ",".join(row.get("flags") or []),  # static gaming flags (harness/flags.py)
                    "n_samples": n,
                    "correct": correct,
                    "distinct": row.get("_distinct"),
                    "distinct_correct": distinct_correct,
                    "similarity": row.get("_similarity"),
                }
            )
    return records


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})


def records_to_table(records: list[dict]) -> pd.DataFrame:
    if not records:
        return empty_table()
    if any(r["n_samples"] > 1 for r in records):  # pass rates
        table = pd.DataFrame.from_records(records, columns=COLUMNS + SAMPLE_COLUMNS)
        table["passed"] = table["passed"].astype(float)
    else:
        table = pd.DataFrame.from_records(records, columns=COLUMNS)
        table["passed"] = table["passed"].astype(bool)
    table["excluded"] = table["excluded"].astype(bool)
    return table.sort_values(["variant", "metric", "task_id"], kind="stable").reset_index(drop=True)


def trained_tasks(manifest: dict) -> dict[str, set[str]]:
    """benchmark → task ids some variant of the run trained on: each artifact's `trained_tasks` in the run manifest
    (what its plugin declares, `plugins.api.TrainingPlugin.trained_tasks`)."""
    found: dict[str, set[str]] = {}
    for entry in ((manifest or {}).get("artifacts") or {}).values():
        declared = entry.get("trained_tasks") if isinstance(entry, dict) else None
        for benchmark, tasks in (declared or {}).items():
            found.setdefault(benchmark, set()).update(tasks)
    return found


def exclude_trained_tasks(table: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    """`table` with the tasks a variant trained on flagged excluded (for every variant: no score and no paired test
    counts them) and named in `detail`."""
    tasks = trained_tasks(manifest)
    if table.empty or not tasks:
        return table
    hit = pd.Series(False, index=table.index)
    for benchmark, ids in tasks.items():
        hit |= (table["benchmark"] == benchmark) & table["task_id"].isin(ids)
    table = table.copy()
    table.loc[hit, "excluded"] = True
    table.loc[hit, "detail"] = TRAINED_DETAIL
    return table


def load_run(run_dir: str | Path) -> pd.DataFrame:
    """The long table of a run directory, excluded tasks included (flagged; also the tasks a variant trained on,
    `exclude_trained_tasks`); see `comparable`."""
    from leaderboards.verified import check_results

    records = []
    seen: dict[tuple[str, str], Path] = {}
    found = find_results(run_dir)
    manifest = read_manifest(run_dir)
    check_results(Path(run_dir), [path for _, _, path in found], manifest)
    for variant, benchmark_dir, path in found:
        rows = read_results(path, benchmark_dir)
        for benchmark in {row["benchmark"] for row in rows}:
            if (variant, benchmark) in seen:
                raise BadInput(
                    f"{path} and {seen[(variant, benchmark)]} both hold {variant}/{benchmark} results"
                )
            seen[(variant, benchmark)] = path
        records.extend(rows_to_records(variant, rows))
    return exclude_trained_tasks(records_to_table(records), manifest)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    """Drop excluded tasks: a task whose ground truth fails for any variant is dropped for every variant,
    so all variants are scored on the same tasks."""
    if table.empty:
        return table
    excluded = table.loc[table["excluded"], ["benchmark", "task_id"]].drop_duplicates()
    if excluded.empty:
        return table
    keys = pd.MultiIndex.from_frame(table[["benchmark", "task_id"]])
    drop = keys.isin(pd.MultiIndex.from_frame(excluded))
    return table.loc[~drop].reset_index(drop=True)


def excluded_by_series(table: pd.DataFrame) -> dict[tuple[str, str], set[str]]:
    """(variant, metric) → task ids that `comparable` drops from it (excluded for some variant)."""
    flagged = set(map(tuple, table.loc[table["excluded"], ["benchmark", "task_id"]].to_numpy()))
    excluded: dict[tuple[str, str], set[str]] = {}
    for row in table[["variant", "metric", "benchmark", "task_id"]].itertuples(index=False):
        if (row.benchmark, row.task_id) in flagged:
            excluded.setdefault((row.variant, row.metric), set()).add(row.task_id)
    return excluded


def read_manifest(run_dir: str | Path) -> dict:
    """RUN_DIR/manifest.json, or {} when the run has none (a hand-made or replayed run)."""
    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadInput(f"{path} is not valid JSON: nested too deeply") from None
    if not isinstance(manifest, dict):
        raise BadInput(f"{path} must hold a JSON object")
    return manifest

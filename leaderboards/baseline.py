"""The leaderboard JSON export, which is also the regression gate's baseline file format.

    {
      "format": "fgit-bench-leaderboard", "version": 1,
      "provenance": {"source": RUN_DIR, "fgit_bench_version": ..., "manifest_sha256": ..., "manifest": {...}},
      "statistics": {how the numbers below were computed},
      "variants": {
        VARIANT: {
          METRIC: {"benchmark": ..., "n": ..., "passed": ..., "pass_at_1": ..., "ci95": [low, high],
                   "tasks": {TASK_ID: true|false, ...},      # scored tasks, sorted by id
                   "excluded": [TASK_ID, ...]}               # ground truth fails: not scored
        }
      },
      "paired": [{"variant", "reference", "metric", "n", "wins", "losses", "delta", "delta_low", "delta_high",
                  "p_value"}, ...]
    }

With n samples per task (issue 25) a task's value in `tasks` is its pass rate c/n, each metric gets
`n_samples`, and the export has a top-level `design` ({"n_samples", "temperature", "top_p"}): the gate compares
pass@1-from-n and refuses a current run of another design. The gate reads only `format`, `version`, `design` and
`variants.*.*.tasks` / `excluded`; everything else is for people and may grow. Keys are sorted and the export has no timestamp, so an unchanged run exports identical bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from harness.core import __version__, outdir
from harness.core.errors import BadInput
from harness.core.hashing import json_digest
from leaderboards.passk_stats import sampled
from leaderboards.stats import Leaderboard
from leaderboards.table import (
    comparable,
    excluded_by_series,
    load_run,
    order_metrics,
    order_variants,
    read_manifest,
    sort_tasks,
)

FORMAT = "fgit-bench-leaderboard"
VERSION = 1


def _clean(value):
    """JSON has no NaN: undefined numbers become null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    return value


def run_provenance(run_dir: str | Path) -> dict:
    manifest = read_manifest(run_dir)
    return {
        "source": str(run_dir),
        "fgit_bench_version": __version__,
        "manifest_sha256": json_digest(manifest) if manifest else None,
        "manifest": manifest,
    }


def leaderboard_to_json(board: Leaderboard) -> dict:
    usable = comparable(board.table)
    excluded = excluded_by_series(board.table)
    stats = board.pass_at_1.set_index(["variant", "metric"])
    variants: dict[str, dict] = {}
    is_sampled = sampled(usable)
    for (variant, metric), group in usable.groupby(["variant", "metric"], sort=False):
        row = stats.loc[(variant, metric)]
        value = (lambda p: float(p)) if is_sampled else (lambda p: bool(p))
        passed = {str(t): value(p) for t, p in zip(group["task_id"], group["passed"], strict=True)}
        variants.setdefault(variant, {})[metric] = {
            "benchmark": str(group["benchmark"].iloc[0]),
            "n": int(row["n"]),
            **({"n_samples": int(group["n_samples"].max())} if is_sampled else {}),
            "passed": float(row["passed"]) if is_sampled else int(row["passed"]),
            "pass_at_1": float(row["pass_at_1"]),
            "ci95": [float(row["ci_low"]), float(row["ci_high"])],
            "tasks": {t: passed[t] for t in sort_tasks(passed)},
            "excluded": sort_tasks(excluded.get((variant, metric), ())),
        }
    ordered = {v: {m: variants[v][m] for m in order_metrics(variants[v])} for v in order_variants(variants)}
    return {
        "format": FORMAT,
        "version": VERSION,
        "provenance": board.provenance,
        "statistics": {
            "pass_at_1_interval": "Wilson score, 95%",
            "delta_interval": "paired percentile bootstrap over tasks, 95%",
            "resamples": board.resamples,
            "seed": board.seed,
            "test": "exact two-sided McNemar (binomial on discordant tasks)",
            "adjustment": "Holm over each reference's paired rows (statsmodels)",
            "mde": "minimum detectable effect at 80% power, alpha 0.05, from n and the discordance (Miller 2024)",
            "excluded_tasks": "dropped for every variant",
        },
        **({"design": run_design(board.table, board.provenance.get("manifest") or {}),
            "pass_at_k": [{k: _clean(v) for k, v in row.items()} for row in board.pass_at_k.to_dict("records")]}
           if is_sampled and board.pass_at_k is not None else {}),
        "variants": ordered,
        "paired": [{k: _clean(v) for k, v in row.items()} for row in board.paired.to_dict("records")],
        **grid_to_json(board),
    }


def grid_to_json(board: Leaderboard) -> dict:
    """`instances`: [{name, instance, plugin, model, seed, settings, axes}] (name: the unit id, the key of
    `variants`); with a grid also `grid`: cells over seeds, comparisons over tasks and seeds, a table per axis."""
    grid = board.grid
    if grid is None:
        return {}
    instances = [{"name": unit, "instance": info["name"], "plugin": info["plugin"], "model": info["model"],
                  "seed": info["seed"], "settings": info["settings"], "axes": info["axes"],
                  **({"from": info["from"]} if info.get("from") else {})}  # chaining: the unit it trained from
                 for unit, info in grid.instances.items()]
    out: dict = {"instances": instances}
    if grid.is_grid:
        records = lambda frame: [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]  # noqa: E731
        out["grid"] = {
            "cells": records(grid.cells), "comparisons": records(grid.comparisons),
            "axes": {axis: records(grid.axis_table(axis)) for axis in grid.axes},
            "statistics": {"seeds": "two-level bootstrap: tasks (paired) × seeds (per side); p inverted from it",
                           "adjustment": "Holm over the rows of each axis table (statsmodels)",
                           "mde": "80% power, alpha 0.05, Miller 2024 paired formula"},
        }
    return out


def dumps(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=False, allow_nan=False) + "\n"


@dataclass
class PassTable:
    """Per (variant, metric): task id → passed (excluded tasks left out), as the gate compares them."""

    source: str
    tasks: dict[tuple[str, str], dict[str, bool]]  # or task id → pass rate, with n samples per task
    excluded: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    design: dict = field(default_factory=lambda: dict(GREEDY_DESIGN))


GREEDY_DESIGN = {"n_samples": 1, "temperature": 0.0, "top_p": 1.0}


def run_design(table, manifest: dict) -> dict:
    """The evaluation design of a run: n samples per task (from its results), temperature and top-p (its
    manifest's [generation]; greedy where it has none)."""
    generation = ((manifest or {}).get("config") or {}).get("generation") or {}
    n = int(table["n_samples"].max()) if "n_samples" in table and not table.empty else 1
    return {"n_samples": n, "temperature": float(generation.get("temperature", 0.0)),
            "top_p": float(generation.get("top_p", 1.0))}


def pass_table_from_run(run_dir: str | Path) -> PassTable:
    table = load_run(run_dir)
    usable = comparable(table)
    value = float if sampled(usable) else bool
    tasks = {
        (variant, metric): dict(zip(group["task_id"], map(value, group["passed"]), strict=True))
        for (variant, metric), group in usable.groupby(["variant", "metric"], sort=False)
    }
    provenance = run_provenance(run_dir)
    return PassTable(str(run_dir), tasks, excluded_by_series(table), provenance,
                     run_design(table, provenance.get("manifest") or {}))


def _bad(path: Path, message: str) -> BadInput:
    return BadInput(f"baseline {path}: {message}")


def _lone_surrogate(value, where: str) -> str | None:
    """The path of the first key or string holding a lone surrogate, or None."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        inner = f"{where}.{key}" if where else str(key)
        for text in (key, item):
            if isinstance(text, str) and not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    return inner.encode("utf-8", "backslashreplace").decode("ascii", "replace")
        found = _lone_surrogate(item, inner)
        if found is not None:
            return found
    return None


def pass_table_from_json(path: str | Path) -> PassTable:
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise _bad(path, "JSON nested too deeply") from None
    where = _lone_surrogate(document, "")
    if where is not None:  # "\ud800" parses, but no task id can hold it (it failed later, writing the report)
        raise _bad(path, f"{where or 'the document'} holds a lone surrogate (not valid Unicode text)")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _bad(
            path, f"not a {FORMAT} file (write one with `fgit-bench leaderboard RUN_DIR --format json`)"
        )
    if document.get("version") != VERSION:
        raise _bad(path, f"format version {document.get('version')!r} is not supported (expected {VERSION})")
    variants = document.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise _bad(path, "'variants' must be a non-empty object")
    tasks: dict[tuple[str, str], dict[str, bool]] = {}
    excluded: dict[tuple[str, str], set[str]] = {}
    design = document.get("design", GREEDY_DESIGN)
    if not (isinstance(design, dict) and isinstance(design.get("n_samples"), int) and design["n_samples"] >= 1):
        raise _bad(path, "'design' must be an object with n_samples >= 1")
    rates = design["n_samples"] > 1
    for variant, metrics in variants.items():
        if not isinstance(metrics, dict):
            raise _bad(path, f"variants.{variant} must be an object")
        for metric, entry in metrics.items():
            where = f"variants.{variant}.{metric}"
            if not isinstance(entry, dict) or not isinstance(entry.get("tasks"), dict):
                raise _bad(path, f"{where}.tasks must be an object of task id → true/false")
            if rates and not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1
                                 for v in entry["tasks"].values()):
                raise _bad(path, f"{where}.tasks values must be pass rates in [0, 1] (design n_samples > 1)")
            if not rates and not all(isinstance(v, bool) for v in entry["tasks"].values()):
                raise _bad(path, f"{where}.tasks values must be true or false")
            dropped = entry.get("excluded", [])
            if not isinstance(dropped, list) or not all(isinstance(t, str) for t in dropped):
                raise _bad(path, f"{where}.excluded must be a list of task ids")
            tasks[(variant, metric)] = dict(entry["tasks"])
            excluded[(variant, metric)] = set(dropped)
    provenance = document.get("provenance") if isinstance(document.get("provenance"), dict) else {}
    full_design = {**GREEDY_DESIGN, **{k: design[k] for k in GREEDY_DESIGN if k in design}}
    return PassTable(str(path), tasks, excluded, provenance, full_design)


def load_pass_table(path: str | Path) -> PassTable:
    """A baseline or current side for the gate: a run directory or a leaderboard JSON export."""
    path = Path(path)
    if path.is_dir():
        with outdir.reading(path):  # a run still writing is refused; none can start while we read
            return pass_table_from_run(path)
    if not path.exists():
        raise BadInput(f"{path} does not exist")
    return pass_table_from_json(path)

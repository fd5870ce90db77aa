"""The grid view of a run: instances with their settings, cells over seeds, comparisons over tasks and seeds, one
table per sweep axis (Holm over each table), training curves.

Reads the run manifest's `instances` (harness.app.pipeline.grid: unit id → name, plugin, model, seed, axes,
settings); a run without them (a hand-made directory) is one instance per variant directory, one seed each.
Statistics: leaderboards.grid_stats (why the two-level bootstrap, Holm, Miller's MDE).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from harness.core.atomic import jsonl_lines
from leaderboards.binomial import mcnemar_exact, paired_bootstrap, wilson_interval
from leaderboards.grid_stats import holm, minimum_detectable_effect, seed_spread, seeded_bootstrap
from leaderboards.table import comparable, order_metrics, order_variants

REFERENCES = ("base", "sft")
CURVE_KEYS = ("loss", "learning_rate")  # and every logged key starting with fgit_ (the FGit weight statistics)
CELL_COLUMNS = ["name", "model", "metric", "seeds", "n", "pass_at_1", "spread", "low", "high"]
COMPARISON_COLUMNS = ["name", "model", "reference", "metric", "n", "seeds", "delta", "delta_low", "delta_high",
                      "p_value", "test", "mde"]


@dataclass
class GridBoard:
    instances: dict[str, dict]  # unit id → {name, plugin, model, seed, axes, settings}
    groups: dict[tuple[str, str | None], list[str]]  # (instance name, model) → unit ids (one per seed)
    cells: pd.DataFrame
    comparisons: pd.DataFrame
    axes: list[str]
    curves: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)

    @property
    def is_grid(self) -> bool:
        """Anything a plain comparison does not have: sweeps, several seeds or models, named instances."""
        models = {m for _, m in self.groups}
        return bool(self.axes) or len(models) > 1 or any(len(u) > 1 for u in self.groups.values()) or any(
            i["name"] != i["plugin"] for i in self.instances.values())

    def group_of(self, name: str, model) -> dict:
        return self.instances[self.groups[(name, model)][0]]

    def axis_table(self, axis: str, reference: str = "base") -> pd.DataFrame:
        """The comparisons against `reference` of every instance swept on `axis`, one row per (instance, metric),
        with the axis value, the other axes' values, the cell and the Holm-adjusted p over the table."""
        rows = []
        frame = self.comparisons.loc[self.comparisons["reference"] == reference]
        cells = {(r.name, r.model, r.metric): r for r in self.cells.itertuples(index=False)}
        for r in frame.itertuples(index=False):
            axes = self.group_of(r.name, r.model)["axes"]
            if axis not in axes:
                continue
            cell = cells[(r.name, r.model, r.metric)]
            rows.append({**r._asdict(), "value": axes[axis], "others": {k: v for k, v in axes.items() if k != axis},
                         "pass_at_1": cell.pass_at_1, "spread": cell.spread, "low": cell.low, "high": cell.high})
        table = pd.DataFrame(rows)
        if table.empty:
            return table
        table["p_holm"] = holm(table["p_value"])
        keys = table.apply(lambda r: (r["metric"], json.dumps(r["others"], sort_keys=True), _sortable(r["value"])),
                           axis=1)
        order = sorted(range(len(table)), key=lambda i: (order_metrics(table["metric"]).index(keys[i][0]),
                                                          keys[i][1], keys[i][2]))
        return table.iloc[order].reset_index(drop=True)


def _sortable(value):
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))


def instances_of(units: list[str], manifest: dict) -> dict[str, dict]:
    declared = manifest.get("instances") or {}
    out = {}
    for unit in units:
        entry = declared.get(unit) or {}
        out[unit] = {"name": entry.get("name", unit), "plugin": entry.get("plugin", unit),
                     "model": entry.get("model"), "seed": entry.get("seed"), "axes": entry.get("axes", {}),
                     "settings": entry.get("settings", {}), "from": entry.get("from")}
    return out


def _matrix(wide: pd.DataFrame, units: list[str], tasks) -> np.ndarray:
    """Outcomes [task, seed]: booleans, or per-task pass rates (floats) with n samples per task."""
    values = wide.loc[tasks, units]
    raw = values.to_numpy()
    rates = any(isinstance(x, (float, np.floating)) for x in raw.ravel())
    return raw.astype(float) if rates else raw.astype(bool)


def build_grid(table: pd.DataFrame, manifest: dict, resamples: int, seed: int,
               curves: dict | None = None) -> GridBoard:
    usable = comparable(table)
    units = order_variants(table["variant"].unique())
    instances = instances_of(units, manifest)
    groups: dict[tuple[str, str | None], list[str]] = {}
    for unit in units:
        groups.setdefault((instances[unit]["name"], instances[unit]["model"]), []).append(unit)
    cells, comparisons = [], []
    for metric in order_metrics(usable["metric"].unique()):
        wide = usable.loc[usable["metric"] == metric].pivot(index="task_id", columns="variant", values="passed")
        for (name, model), members in groups.items():
            present = [u for u in members if u in wide.columns]
            if not present:
                continue
            tasks = wide.index[wide[present].notna().all(axis=1)]
            matrix = _matrix(wide, present, tasks)
            rates = list(matrix.mean(axis=0)) if len(tasks) else []
            if len(present) == 1 and matrix.dtype == bool:
                low, high = wilson_interval(int(matrix.sum()), len(tasks))
            else:  # the mean over seeds with its two-level bootstrap interval (a zero reference)
                _, low, high, _ = seeded_bootstrap(matrix, np.zeros((len(tasks), 1)), resamples, seed)
            cells.append({"name": name, "model": model, "metric": metric, "seeds": len(present), "n": len(tasks),
                          "pass_at_1": float(np.mean(rates)) if rates else math.nan,
                          "spread": seed_spread(rates), "low": low, "high": high})
        for reference in REFERENCES:
            for (name, model), members in groups.items():
                ref_members = [u for u in groups.get((reference, model), []) if u in wide.columns]
                present = [u for u in members if u in wide.columns]
                if not ref_members or not present or name == reference or (reference == "sft" and name == "base"):
                    continue
                both = wide[present + ref_members].notna().all(axis=1)
                tasks = wide.index[both]
                if not len(tasks):
                    continue
                v, r = _matrix(wide, present, tasks), _matrix(wide, ref_members, tasks)
                if v.shape[1] == 1 and r.shape[1] == 1 and v.dtype == bool:
                    delta, low, high = paired_bootstrap(v[:, 0], r[:, 0], resamples, seed)
                    p = mcnemar_exact(int(np.sum(~v[:, 0] & r[:, 0])), int(np.sum(v[:, 0] & ~r[:, 0])))
                    test = "McNemar"
                else:  # several seeds, or pass rates of n samples: tasks (× seeds) bootstrap
                    delta, low, high, p = seeded_bootstrap(v, r, resamples, seed)
                    test = "bootstrap tasks×seeds" if v.shape[1] > 1 or r.shape[1] > 1 else "bootstrap tasks"
                comparisons.append({
                    "name": name, "model": model, "reference": reference, "metric": metric, "n": len(tasks),
                    "seeds": f"{v.shape[1]}/{r.shape[1]}", "delta": delta, "delta_low": low, "delta_high": high,
                    "p_value": p, "test": test, "mde": minimum_detectable_effect(v.mean(axis=1) - r.mean(axis=1))})
    axes: list[str] = []
    for info in instances.values():
        axes += [k for k in info["axes"] if k not in axes]
    return GridBoard(instances, groups, pd.DataFrame(cells, columns=CELL_COLUMNS),
                     pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS), axes, dict(curves or {}))


def load_curves(run_dir: str | Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """unit id → series → [(step, value)] from each artifact's train_log.jsonl (loss, learning rate, fgit_*)."""
    curves = {}
    for path in sorted(Path(run_dir).glob("*/artifact/train_log.jsonl")):
        series: dict[str, list[tuple[int, float]]] = {}
        for line in jsonl_lines(path.read_text(encoding="utf-8")):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill: the log is appended as training runs
            if not isinstance(row, dict) or "loss" not in row:
                continue  # the final summary line has train_loss, not loss
            for key, value in row.items():
                if (key in CURVE_KEYS or key.startswith("fgit_")) and isinstance(value, (int, float)):
                    series.setdefault(key, []).append((int(row.get("step", 0)), float(value)))
        if series:
            curves[path.parent.parent.name] = series
    return curves

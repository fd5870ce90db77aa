"""Experiment tracking (issue 30): `[tracking] mlflow = "URI"` in a run config logs the finished run to MLflow (a local
`sqlite:///...` or `file:` store, or a server): the run's config as params, every leaderboard cell as a metric
(pass@1 and its interval per variant and column, pass@k where n > 1, the paired Δ, its interval and p against each
reference), the leaderboard files and the manifest as artifacts; one MLflow run per run directory, a nested run per
unit (variant) with its cells and its training curve (the artifact's train_log.jsonl: loss, learning rate, grad
norm per step). Nothing is sent anywhere unless a URI is configured (and MLflow's telemetry is switched off).

Metric names: `pass_at_1/<variant>/<column>`, `ci95_low/...`, `ci95_high/...`, `pass_at_<k>/...`,
`delta/<variant>_vs_<reference>/<column>`, `delta_low/...`, `delta_high/...`, `p_value/...`, `p_holm/...`, with
a column's `+` written `_plus` (MLflow allows letters, digits, `_-. /` only)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.app.side_python import side_python
from harness.core.atomic import jsonl_lines
from harness.core.errors import BadInput, InfraError

WRITER = Path(__file__).with_name("mlflow_writer.py")
ENV_PYTHON = "FGIT_BENCH_MLFLOW_PYTHON"
CURVE_KEYS = ("loss", "learning_rate", "grad_norm")


@dataclass
class TrackingSettings:
    mlflow: str | None = None  # tracking URI: sqlite:///path.db, file:/path, http://host:port (None: no tracking)
    experiment: str = "fgit-bench"  # MLflow experiment the run is logged under
    # where a new experiment keeps its artifacts (None: beside a sqlite store, `<db>-artifacts/`; a server's default)
    artifacts: str | None = None


def artifact_location(settings: TrackingSettings) -> str | None:
    """MLflow puts a sqlite store's artifacts in ./mlruns of whatever directory the process runs in; ours go
    beside the database file instead."""
    if settings.artifacts:
        return Path(settings.artifacts).resolve().as_uri()
    uri = settings.mlflow or ""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):] + "-artifacts").resolve().as_uri()
    return None


def metric_name(*parts: str) -> str:
    return "/".join(re.sub(r"[^A-Za-z0-9_\-. ]", "_", p.replace("+", "_plus")) for p in parts)


def flatten(value, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: json.dumps(value) if not isinstance(value, str) else value}


def board_metrics(board: dict) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(all metrics, per variant) of leaderboard.json."""
    every: dict[str, float] = {}
    per: dict[str, dict[str, float]] = {}
    for variant, columns in (board.get("variants") or {}).items():
        for column, cell in columns.items():
            mine = {metric_name("pass_at_1", column): cell["pass_at_1"]}
            if cell.get("ci95"):
                mine[metric_name("ci95_low", column)], mine[metric_name("ci95_high", column)] = cell["ci95"]
            per.setdefault(variant, {}).update(mine)
            every.update({metric_name(k.split("/")[0], variant, column): v for k, v in mine.items()})
    for row in board.get("pass_at_k") or []:
        name = metric_name(f"pass_at_{row['k']}", row["variant"], row["metric"])
        every[name] = row["pass_at_k"]
        per.setdefault(row["variant"], {})[metric_name(f"pass_at_{row['k']}", row["metric"])] = row["pass_at_k"]
    for row in board.get("paired") or []:
        pair = f"{row['variant']}_vs_{row['reference']}"
        for key in ("delta", "delta_low", "delta_high", "p_value", "p_holm"):
            if row.get(key) is not None:
                every[metric_name(key, pair, row["metric"])] = row[key]
                per.setdefault(row["variant"], {})[metric_name(key, f"vs_{row['reference']}", row["metric"])] = row[key]
    return every, per


def training_curve(artifact: str | None) -> dict[str, list]:
    """The per-step lines of the variant's artifact train_log.jsonl (absent: none, e.g. the base model)."""
    from harness.core.data import cache_root

    if not artifact:
        return {}
    log = cache_root() / "artifacts" / artifact / "train_log.jsonl"
    if not log.is_file():
        return {}
    curves: dict[str, list] = {}
    for line in jsonl_lines(log.read_text(encoding="utf-8")):
        entry = json.loads(line) if line.strip() else {}
        for key in CURVE_KEYS:
            if isinstance(entry.get(key), int | float) and "step" in entry:
                curves.setdefault(metric_name("train", key), []).append([entry["step"], entry[key]])
    return curves


def gather(run_dir: Path, settings: TrackingSettings) -> dict:
    """The record mlflow_writer logs."""
    board_path, manifest_path = run_dir / "leaderboard.json", run_dir / "manifest.json"
    if not board_path.is_file():
        raise BadInput(f"{board_path}: missing (tracking logs a published run)")
    board = json.loads(board_path.read_text(encoding="utf-8"))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    every, per = board_metrics(board)
    artifacts = manifest.get("artifacts") or {}
    params = flatten(manifest.get("config") or {}) | {"config_hash": str(manifest.get("config_hash"))}
    children = [{"name": variant, "tags": {"fgit_bench.variant": variant},
                 "params": {"variant": variant, "artifact": str((artifacts.get(variant) or {}).get("artifact"))},
                 "metrics": metrics, "curves": training_curve((artifacts.get(variant) or {}).get("artifact"))}
                for variant, metrics in per.items()]
    files = [str(run_dir / name) for name in ("leaderboard.md", "leaderboard.html", "leaderboard.json",
                                             "manifest.json") if (run_dir / name).is_file()]
    return {"uri": settings.mlflow, "experiment": settings.experiment, "run_name": run_dir.name,
            "artifact_location": artifact_location(settings),
            "tags": {"fgit_bench.run_dir": str(run_dir.resolve())}, "params": params, "metrics": every,
            "artifacts": files, "children": children}


def mlflow_python() -> list[str] | None:
    return side_python("mlflow", ".venv-mlflow", ENV_PYTHON, "./bootstrap.sh installs it")


def log_run(run_dir: str | Path, settings: TrackingSettings) -> str | None:
    """Log the run to MLflow when a URI is configured; returns the MLflow run id (None: tracking is off)."""
    if not settings.mlflow:
        return None
    record = gather(Path(run_dir), settings)
    python = mlflow_python()
    if python is None:
        from harness.app.mlflow_writer import write

        return write(record)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "record.json"
        path.write_text(json.dumps(record), encoding="utf-8")
        from harness.app.mlflow_writer import OFFLINE

        proc = subprocess.run([*python, str(WRITER), str(path)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, env={**os.environ, **OFFLINE})
    if proc.returncode != 0:
        raise InfraError(f"MLflow logging to {settings.mlflow} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout.strip().splitlines()[-1]

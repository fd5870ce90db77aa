"""Logs a run directory's tracking record (harness.app.tracking gathers it as plain JSON) to MLflow through MLflow's own
client API: one MLflow run per run directory (params, metrics, artifacts), a nested run per unit (variant) with its
metrics and training curve. Imports nothing of fgit-bench: MLflow's packages cap cachetools below the version the
project's venv holds, so bootstrap.sh installs mlflow-skinny in its own venv (.venv-mlflow) and tracking runs this file
there by path (`python mlflow_writer.py RECORD.json`) where mlflow is not importable in-process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

OFFLINE = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}


def _log(client, run_id: str, params: dict, metrics: dict, curves: dict | None = None) -> None:
    from mlflow.entities import Metric, Param

    stamp = 0
    entries = [Metric(key, float(value), stamp, 0) for key, value in metrics.items()]
    for key, points in (curves or {}).items():
        entries += [Metric(key, float(value), stamp, int(step)) for step, value in points]
    for start in range(0, len(entries), 1000):  # MLflow's batch limit
        client.log_batch(run_id, metrics=entries[start:start + 1000])
    items = [Param(key, str(value)[:6000]) for key, value in params.items()]
    for start in range(0, len(items), 100):
        client.log_batch(run_id, params=items[start:start + 100])


def write(record: dict) -> str:
    """The parent run's id, after everything is logged (runs end FINISHED)."""
    os.environ.update(OFFLINE)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=record["uri"])
    experiment = client.get_experiment_by_name(record["experiment"])
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        record["experiment"], artifact_location=record.get("artifact_location"))
    parent = client.create_run(experiment_id, run_name=record["run_name"], tags=record["tags"])
    run_id = parent.info.run_id
    _log(client, run_id, record["params"], record["metrics"])
    for path in record["artifacts"]:
        client.log_artifact(run_id, path)
    for child in record["children"]:
        nested = client.create_run(experiment_id, run_name=child["name"],
                                   tags={**child["tags"], "mlflow.parentRunId": run_id})
        _log(client, nested.info.run_id, child["params"], child["metrics"], child["curves"])
        client.set_terminated(nested.info.run_id)
    client.set_terminated(run_id)
    return run_id


def main(argv: list[str]) -> int:
    print(write(json.loads(Path(argv[0]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The run manifest (RUN_DIR/manifest.json): provenance of a comparison run, and the stage counts it reports."""

from __future__ import annotations

import json
from pathlib import Path

from harness.app.pipeline.config import config_record
from harness.core.atomic import write_json
from harness.core.hashing import json_digest

MANIFEST = "manifest.json"


def write_manifest(run, model: dict, result) -> Path:
    """Everything needed to trust (and reproduce) the numbers; the leaderboard embeds it."""
    from harness.core import provenance

    artifacts = {r["variant"]: artifact_record(run.plugin_classes[r["variant"]], r["info"])
                 for r in result.stages if r["benchmark"] is None}
    sandboxes = {}
    for record in result.stages:
        if record["stage"].endswith("evaluate"):
            path = run.benchmark_dir(record["variant"], _plan(run, record["benchmark"])) / "eval" / "eval_results.json"
            try:
                sandboxes[record["benchmark"]] = json.loads(path.read_text()).get("provenance", {}).get("sandbox")
            except (OSError, json.JSONDecodeError):
                pass
    manifest = {
        "format": "fgit-bench-run", "version": 1, "profile": run.profile,
        "config": config_record(run.config), "config_hash": json_digest(config_record(run.config)),
        "shard": run.shard.label if run.shard else None,
        "model": model,
        "datasets": {p.label: {**p.dataset, "tasks": len(p.task_ids)} for p in run.plans},
        "skipped_benchmarks": result.skipped_benchmarks,
        "artifacts": artifacts, "sandbox": sandboxes,
        "seeds": {v: getattr(c, "seed", None) for v, c in run.plugin_configs.items()},
        "models": {ref: identity for ref, identity in run._models.items()},
        "instances": {u.id: u.describe() for u in run.units},
        "sweeps": [dict(s) for s in [*run.config.sweep, *run.extra_sweeps]],
        "stage_counts": stage_counts(result.stages),
        "stages": [{k: r[k] for k in ("variant", "benchmark", "stage", "seconds", "cached", "outputs") if k in r}
                   for r in result.stages],
        "wall_seconds": result.seconds,
        "environment": provenance.environment(),
    }
    name = f"manifest.shard-{run.shard.label}.json" if run.shard else MANIFEST
    path = run.run_dir / name
    write_json(path, manifest)
    return path


def artifact_record(plugin_class, info: dict) -> dict:
    """A unit's `artifacts` entry: its artifact, the records its plugin declares (`manifest_keys`), what was resolved,
    the unit it trained from, and the benchmark tasks it trained on (`trained_tasks`, excluded from every score)."""
    keys = ("artifact", "kind", *plugin_class.manifest_keys, "resolved", "from")
    record = {k: info.get(k) for k in keys if info.get(k) is not None}
    trained = plugin_class().trained_tasks(record)
    if trained:
        record["trained_tasks"] = trained
    return record


def stage_counts(stages: list[dict]) -> dict:
    """How many stages were up to date, ran, and ran but were served from work another unit (or an earlier run)
    left in the content-addressed caches: an artifact found in the artifact cache, samples all cached, every
    verdict cached."""
    ran = [s for s in stages if not s["cached"]]

    def shared(record: dict) -> bool:
        info, stage = record["info"], record["stage"]
        if stage.endswith("train"):
            return bool(info.get("from_cache"))
        if stage.endswith("generate"):
            return info.get("generated") == 0
        if stage.endswith("evaluate"):
            return info.get("executed") == 0
        return False

    return {"total": len(stages), "up_to_date": len(stages) - len(ran), "ran": len(ran),
            "shared": sum(shared(s) for s in ran)}


def _plan(run, label: str):
    return next(p for p in run.plans if p.label == label)

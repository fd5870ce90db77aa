"""`fgit-bench export inspect`: a run directory as Inspect AI eval logs, one per (variant, benchmark), every sample
with its input prompt (as the model got it), output (the program judged), target (the dataset's canonical solution),
a score (C/I: the verdict, explained by its detail and the first failing input) and metadata (sample index, flags,
decoding, model and artifact hash). The logs are written by inspect_ai itself (harness/app/inspect_writer.py), so
`inspect view --log-dir DIR` shows them.

inspect-ai lives in its own venv (.venv-inspect, `./bootstrap.sh inspect`: it caps fsspec below what the project's
other packages need); where it is importable here it is used in-process."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from harness.app.side_python import side_python
from harness.core.errors import BadInput, InfraError
from leaderboards.explorer_data import _jsonl, passed, safe_name
from leaderboards.table import find_results, read_manifest

WRITER = Path(__file__).with_name("inspect_writer.py")
ENV_PYTHON = "FGIT_BENCH_INSPECT_PYTHON"


def _problems(bench_dir: str, manifest: dict) -> dict[str, dict]:
    """The benchmark's problems (for the canonical solutions), found from the run's configuration."""
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir

    config = manifest.get("config") or {}
    for spec in config.get("benchmarks") or [{"name": bench_dir}]:
        options = {k: spec[k] for k in ("subset", "split") if spec.get(k)}
        if "-".join([spec["name"], *options.values()]) == bench_dir:
            return get_benchmark(spec["name"], **options).load(data_dir(config.get("data_dir"))).problems
    raise BadInput(f"{bench_dir}: not a benchmark of the run's configuration")


def _explanation(row: dict) -> str:
    text = row.get("detail") or ""
    failure = row.get("failure")
    if failure:
        text += (f"\nfirst failing input ({failure.get('split')} #{failure.get('index')}): {failure.get('input')}"
                 f"\nexpected: {failure.get('expected')}\nactual: {failure.get('actual')}")
    return text


def gather(run_dir: Path, log_format: str = "eval") -> list[dict]:
    """The units as plain JSON for inspect_writer (results checked against the manifest, as the leaderboard does)."""
    from leaderboards.verified import check_results

    found = find_results(run_dir)
    manifest = read_manifest(run_dir)
    check_results(run_dir, [path for _, _, path in found], manifest)
    artifacts = manifest.get("artifacts") or {}
    created = datetime.now(UTC).isoformat()
    units, problems = [], {}
    for variant, bench_dir, path in found:
        rows = _jsonl(path)
        samples_path = path.parent.parent / "samples.jsonl"
        if not samples_path.is_file():
            raise BadInput(f"{samples_path}: missing (the export needs the samples beside the results)")
        by_key = {(s["task_id"], s.get("sample_index", 0)): s for s in _jsonl(samples_path)}
        if bench_dir not in problems:
            problems[bench_dir] = _problems(bench_dir, manifest)
        artifact = (artifacts.get(variant) or {}).get("artifact")
        out, model = [], None
        for row in rows:
            index = row.get("sample_index", 0)
            sample = by_key.get((row["task_id"], index))
            if sample is None:
                raise BadInput(f"{samples_path}: no sample {index} of {row['task_id']} (results and samples differ)")
            model = model or sample.get("model")
            problem = problems[bench_dir].get(row["task_id"], {})
            out.append({
                "id": row["task_id"], "epoch": index + 1, "input": sample.get("prompt", ""),
                "output": sample.get("solution") or "", "target": problem.get("canonical_solution", ""),
                "passed": passed(row), "explanation": _explanation(row),
                "score_metadata": {"base_status": row.get("base_status"), "plus_status": row.get("plus_status"),
                                   "failure": row.get("failure")},
                "metadata": {"sample_index": index, "flags": row.get("flags") or [], "excluded": row.get("excluded"),
                             "decoding": sample.get("decoding"), "model": sample.get("model"),
                             "model_hash": sample.get("model_hash"), "artifact": artifact}})
        epochs = max((s["epoch"] for s in out), default=1)
        units.append({"file": f"{safe_name(variant)}_{safe_name(bench_dir)}.{log_format}", "task": f"{bench_dir}",
                      "dataset": bench_dir, "model": f"fgit-bench/{variant}", "created": created,
                      "epochs": epochs, "samples": out,
                      "metadata": {"variant": variant, "benchmark": bench_dir, "run_dir": str(run_dir.resolve()),
                                   "model": model, "artifact": artifact}})
    return units


def inspect_python() -> list[str] | None:
    """How to run the writer: None in-process (inspect_ai importable here), else the inspect venv's python."""
    return side_python("inspect_ai.log", ".venv-inspect", ENV_PYTHON, "./bootstrap.sh installs it")


def export_inspect(run_dir: str | Path, output: str | Path | None = None, log_format: str = "eval") -> list[Path]:
    """`log_format`: Inspect's two log formats, "eval" (its default: zipped, per-sample) or "json" (one document)."""
    run_dir = Path(run_dir)
    output = Path(output) if output is not None else run_dir / "inspect"
    units = gather(run_dir, log_format)
    python = inspect_python()
    if python is None:
        from harness.app.inspect_writer import write_units

        return write_units(units, output)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "units.json"
        spec.write_text(json.dumps(units), encoding="utf-8")
        proc = subprocess.run([*python, str(WRITER), str(spec), str(output)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, env={**os.environ, "INSPECT_DISABLE_TELEMETRY": "1"})
    if proc.returncode != 0:
        raise InfraError(f"inspect_ai could not write the logs: {proc.stderr.strip().splitlines()[-1:]}")
    return [Path(line) for line in proc.stdout.splitlines() if line.strip()]


__all__ = ["export_inspect", "gather", "inspect_python"]

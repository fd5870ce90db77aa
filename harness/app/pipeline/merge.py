"""`fgit-bench merge`: join the shards of a run (`run --shard i/n`) into one run directory.

Each shard wrote `<variant>/<benchmark>/shards/i-of-n/{samples.jsonl,eval/...}` and `manifest.shard-i-of-n.json`,
into the same directory on a shared filesystem or into separate directories copied back from the machines
(`--from`). A benchmark is merged only when every shard 1..n of it finished (its evaluate stage record exists);
task ids must not overlap. The merged files are what an unsharded run writes, so the leaderboard and the gate
read them unchanged.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from harness.app.pipeline.manifest import MANIFEST
from harness.core.atomic import jsonl_lines, write_json, write_jsonl
from harness.core.errors import BadInput
from harness.core.hashing import file_digest
from leaderboards.table import sort_tasks

_SHARD_DIR = re.compile(r"^(\d+)-of-(\d+)$")


def _read(path: Path, parse):
    """A shard's file parsed, or one line naming it: a damaged shard is bad input, found before anything is written."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: missing; run that shard again (the same command resumes) and merge again") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadInput(f"{path}: damaged ({type(exc).__name__}); run that shard again (the same command resumes) "
                       f"and merge again") from None


def _read_jsonl(path: Path) -> list[dict]:
    return _read(path, lambda text: [json.loads(line) for line in jsonl_lines(text) if line.strip()])


def _read_json(path: Path) -> dict:
    return _read(path, json.loads)


def find_shards(roots: list[Path]) -> dict[tuple[str, str], dict[int, Path]]:
    """(variant, benchmark) → {shard index: shard directory}, with one shard count per benchmark."""
    found: dict[tuple[str, str], dict[int, Path]] = defaultdict(dict)
    counts: dict[tuple[str, str], int] = {}
    for root in roots:
        for shard_dir in sorted(root.glob("*/*/shards/*")):
            match = _SHARD_DIR.match(shard_dir.name)
            if not match or not shard_dir.is_dir():
                continue
            index, count = int(match[1]), int(match[2])
            key = (shard_dir.parent.parent.parent.name, shard_dir.parent.parent.name)
            if counts.setdefault(key, count) != count:
                raise BadInput(f"{key[0]}/{key[1]}: shards of different splits ({counts[key]} and {count})")
            if index in found[key] and found[key][index].resolve() != shard_dir.resolve():
                raise BadInput(f"{key[0]}/{key[1]}: shard {index}/{count} found twice ({found[key][index]}, "
                               f"{shard_dir})")
            found[key][index] = shard_dir
    if not found:
        raise BadInput(f"no shards under {', '.join(map(str, roots))} (expected <variant>/<benchmark>/shards/i-of-n)")
    for key, shards in found.items():
        missing = [i for i in range(1, counts[key] + 1) if i not in shards]
        unfinished = [i for i, d in shards.items() if not (d / "evaluate.stage.json").is_file()]
        if missing or unfinished:
            raise BadInput(f"{key[0]}/{key[1]}: shard(s) {', '.join(map(str, sorted(missing + unfinished)))} of "
                           f"{counts[key]} missing or unfinished; run them (the same command resumes) and merge again")
    return found


def _merge_eval_results(documents: list[dict], rows: list[dict]) -> dict:
    from harness.benchmarks import get_benchmark

    merged = dict(documents[0])
    merged["eval"], excluded = {}, {}
    for document in documents:
        overlap = set(merged["eval"]) & set(document.get("eval", {}))
        if overlap:
            raise BadInput(f"shards overlap on {sorted(overlap)[0]}")
        merged["eval"].update(document.get("eval", {}))
        excluded.update(document.get("provenance", {}).get("excluded", {}))
    order = sort_tasks(merged["eval"])
    merged["eval"] = {t: merged["eval"][t] for t in order}
    excluded = {t: excluded[t] for t in order if t in excluded}
    provenance = dict(merged.get("provenance", {}))
    # recomputed over the union by the benchmark's own code, never averaged over shards
    benchmark = get_benchmark(provenance["benchmark"], **provenance.get("options", {}))
    merged["pass_at_k"] = benchmark.pass_at_k(rows)
    if "excluded" in merged:  # the benchmark's own schema lists the gate's exclusions at the top level
        merged["excluded"] = excluded
    provenance.update(shards=[d.get("provenance", {}).get("samples") for d in documents], tasks=len(rows),
                      excluded=excluded)
    merged["provenance"] = provenance
    return merged


def read_benchmark(shards: dict[int, Path], output: Path) -> dict[str, object]:
    """The merged files of one benchmark, in memory: file name (relative to `output`) -> rows or document."""
    samples, rows, documents = [], [], []
    for index in sorted(shards):
        directory = shards[index]
        samples += _read_jsonl(directory / "samples.jsonl")
        rows += _read_jsonl(directory / "eval" / "results.jsonl")
        documents.append(_read_json(directory / "eval" / "eval_results.json"))
    ids = [r["task_id"] for r in rows]
    samples_ids = [(r["task_id"], r.get("sample_index")) for r in rows]  # n samples per task: one row each
    if len(set(samples_ids)) != len(samples_ids):
        raise BadInput(f"{output}: shards overlap (a task evaluated twice)")
    order = {t: i for i, t in enumerate(sort_tasks(list(dict.fromkeys(ids))))}
    rows.sort(key=lambda r: (order[r["task_id"]], r.get("sample_index") or 0))
    samples.sort(key=lambda r: order.get(r["task_id"], len(order)))
    return {"samples.jsonl": samples, "eval/eval_results.json": _merge_eval_results(documents, rows),
            "eval/results.jsonl": rows}


def write_benchmark(merged: dict[str, object], output: Path) -> dict[str, str]:
    """Write one benchmark's merged files (results last: their presence marks the unit); their sha256 by path."""
    write_jsonl(output / "samples.jsonl", merged["samples.jsonl"])
    write_json(output / "eval" / "eval_results.json", merged["eval/eval_results.json"])
    write_jsonl(output / "eval" / "results.jsonl", merged["eval/results.jsonl"])
    return {name: file_digest(output / name) for name in merged}


def merge_benchmark(shards: dict[int, Path], output: Path) -> int:
    merged = read_benchmark(shards, output)
    write_benchmark(merged, output)
    return len(merged["eval/results.jsonl"])


def check_shard_outputs(root: Path, manifest_path: Path, manifest: dict) -> None:
    """Every file a shard's manifest recorded (with its sha256) is as the shard wrote it."""
    for stage in manifest.get("stages") or []:
        for rel, digest in (stage.get("outputs") or {}).items() if isinstance(stage, dict) else ():
            path = root / rel
            if path.is_file() and file_digest(path) != digest:
                raise BadInput(f"{path}: differs from the sha256 its shard recorded in {manifest_path} (edited or "
                               f"damaged); run that shard again (the same command resumes) and merge again")


def read_manifests(roots: list[Path]) -> list[dict]:
    manifests = []
    for root in roots:
        for path in sorted(root.glob("manifest.shard-*.json")):
            manifest = _read_json(path)
            if not isinstance(manifest, dict) or not manifest.get("shard"):
                raise BadInput(f"{path}: not a shard manifest")
            check_shard_outputs(root, path, manifest)
            manifests.append(manifest)
    if not manifests:
        raise BadInput(f"no shard manifests (manifest.shard-i-of-n.json) under {', '.join(map(str, roots))}")
    hashes = {m.get("config_hash") for m in manifests}
    if len(hashes) != 1:
        raise BadInput("the shards were run with different configurations; merge only shards of one run")
    return manifests


def merged_manifest(manifests: list[dict], outputs: dict[str, dict[str, str]]) -> dict:
    """One manifest for the merged run. The shards' output hashes name the shards' files: each shard stage keeps
    its record without them; a `merge` stage per unit records the merged files' hashes, which the leaderboard and
    the gate check (leaderboards/verified.py) as for an unsharded run."""
    merged = dict(manifests[0])
    merged["shard"] = None
    merged["shards"] = sorted({m["shard"] for m in manifests})
    merged["stages"] = [{k: v for k, v in s.items() if k != "outputs"} | {"shard": m["shard"]}
                        for m in manifests for s in m.get("stages", [])]
    for unit, digests in sorted(outputs.items()):
        variant, benchmark = unit.split("/", 1)
        merged["stages"].append({"variant": variant, "benchmark": benchmark, "stage": "merge", "seconds": 0.0,
                                 "cached": False, "outputs": {f"{unit}/{name}": d for name, d in digests.items()}})
    merged["wall_seconds"] = round(sum(m.get("wall_seconds", 0.0) for m in manifests), 3)
    for key in ("artifacts", "sandbox"):
        merged[key] = {k: v for m in manifests for k, v in m.get(key, {}).items()}
    return merged


def merge_run(run_dir: Path, sources: list[Path]) -> dict[str, int]:
    """Merge every sharded benchmark found under `run_dir` and `sources` into `run_dir`; returns task counts.
    Everything is read and checked first; then the merged units are written, the manifest last."""
    roots = [run_dir, *sources]
    for root in roots:
        if not root.is_dir():
            raise BadInput(f"not a directory: {root}")
    shards = find_shards(roots)
    manifests = read_manifests(roots)
    merged = {f"{variant}/{benchmark}": read_benchmark(found, run_dir / variant / benchmark)
              for (variant, benchmark), found in sorted(shards.items())}
    outputs = {unit: write_benchmark(files, run_dir / unit) for unit, files in merged.items()}
    write_json(run_dir / MANIFEST, merged_manifest(manifests, outputs))
    return {unit: len(files["eval/results.jsonl"]) for unit, files in merged.items()}

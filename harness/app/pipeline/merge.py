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
from leaderboards.table import sort_tasks

_SHARD_DIR = re.compile(r"^(\d+)-of-(\d+)$")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in jsonl_lines(path.read_text(encoding="utf-8")) if line.strip()]


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


def merge_benchmark(shards: dict[int, Path], output: Path) -> int:
    samples, rows, documents = [], [], []
    for index in sorted(shards):
        directory = shards[index]
        samples += _read_jsonl(directory / "samples.jsonl")
        rows += _read_jsonl(directory / "eval" / "results.jsonl")
        documents.append(json.loads((directory / "eval" / "eval_results.json").read_text(encoding="utf-8")))
    ids = [r["task_id"] for r in rows]
    samples_ids = [(r["task_id"], r.get("sample_index")) for r in rows]  # n samples per task: one row each
    if len(set(samples_ids)) != len(samples_ids):
        raise BadInput(f"{output}: shards overlap (a task evaluated twice)")
    order = {t: i for i, t in enumerate(sort_tasks(list(dict.fromkeys(ids))))}
    rows.sort(key=lambda r: (order[r["task_id"]], r.get("sample_index") or 0))
    samples.sort(key=lambda r: order.get(r["task_id"], len(order)))
    write_jsonl(output / "samples.jsonl", samples)
    write_json(output / "eval" / "eval_results.json", _merge_eval_results(documents, rows))
    write_jsonl(output / "eval" / "results.jsonl", rows)
    return len(rows)


def merge_manifests(roots: list[Path], output: Path) -> dict:
    manifests = []
    for root in roots:
        for path in sorted(root.glob("manifest.shard-*.json")):
            manifests.append(json.loads(path.read_text(encoding="utf-8")))
    if not manifests:
        raise BadInput(f"no shard manifests (manifest.shard-i-of-n.json) under {', '.join(map(str, roots))}")
    hashes = {m.get("config_hash") for m in manifests}
    if len(hashes) != 1:
        raise BadInput("the shards were run with different configurations; merge only shards of one run")
    merged = dict(manifests[0])
    merged["shard"] = None
    merged["shards"] = sorted({m["shard"] for m in manifests})
    # the shards' output hashes name the shards' files, not the merged ones: not carried over (unchecked, see
    # leaderboards/verified.py)
    merged["stages"] = [{k: v for k, v in s.items() if k != "outputs"} | {"shard": m["shard"]}
                        for m in manifests for s in m.get("stages", [])]
    merged["wall_seconds"] = round(sum(m.get("wall_seconds", 0.0) for m in manifests), 3)
    for key in ("artifacts", "sandbox"):
        merged[key] = {k: v for m in manifests for k, v in m.get(key, {}).items()}
    write_json(output / MANIFEST, merged)
    return merged


def merge_run(run_dir: Path, sources: list[Path]) -> dict[str, int]:
    """Merge every sharded benchmark found under `run_dir` and `sources` into `run_dir`; returns task counts."""
    roots = [run_dir, *sources]
    for root in roots:
        if not root.is_dir():
            raise BadInput(f"not a directory: {root}")
    shards = find_shards(roots)
    merge_manifests(roots, run_dir)
    return {f"{variant}/{benchmark}": merge_benchmark(found, run_dir / variant / benchmark)
            for (variant, benchmark), found in sorted(shards.items())}

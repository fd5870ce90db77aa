"""The task explorer's data (issue 30): per benchmark of a run directory, every task with each variant's samples
(program, verdict, failing input with expected and actual output, gaming flags), read from the results rows
(checked against the run manifest first, as the leaderboard reads them) and the samples files beside them.

Split for large runs (BigCodeBench full at n = 100): per benchmark one small index (task ids, per variant the
samples and how many passed, whether any is flagged) and the tasks themselves in chunks of CHUNK_TASKS, each
loaded by the page only when one of its tasks is opened. A task's identical programs are stored once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.core.atomic import jsonl_lines
from harness.core.errors import BadInput
from leaderboards.table import (
    RESULTS_RELPATH,
    find_results,
    order_variants,
    read_manifest,
    sort_tasks,
    trained_tasks,
    variant_label,
)

CHUNK_TASKS = 25  # tasks per lazily loaded file
REFERENCES = ("base", "sft")  # the default pairs: each variant against these


def _jsonl(path: Path) -> list[dict]:
    rows = []
    try:
        lines = jsonl_lines(path.read_text(encoding="utf-8"))  # "\n" only: a sample may hold U+2028
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise BadInput(f"{path}:{number}: not valid JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get("task_id"), str):
            raise BadInput(f"{path}:{number}: expected a JSON object with a task_id")
        rows.append(row)
    return rows


def _prompt_text(prompt) -> str:
    """A sample's prompt as the model got it: text, or a chat's messages one after the other."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n\n".join(f"[{m.get('role', '?')}]\n{m.get('content', '')}" if isinstance(m, dict) else str(m)
                           for m in prompt)
    return ""


def _program(sample: dict | None) -> str:
    if not sample:
        return ""
    if isinstance(sample.get("solution"), str):
        return sample["solution"]
    return _prompt_text(sample.get("prompt")) + (sample.get("completion") or "")


def passed(row: dict) -> bool:
    """The sample's verdict on the benchmark's fullest tests: plus where it has them, else base."""
    return bool(row.get("plus_pass")) if row.get("plus_pass") is not None else bool(row.get("base_pass"))


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def collect(run_dir: str | Path) -> dict[str, dict]:
    """benchmark directory -> {"variants": {variant: {task_id: [sample entries]}}, "prompts": {task_id: text},
    "plus": bool}. The results files must be those the run's manifest recorded (leaderboards.verified)."""
    from leaderboards.verified import check_results

    run_dir = Path(run_dir)
    found = find_results(run_dir)
    manifest = read_manifest(run_dir)
    check_results(run_dir, [path for _, _, path in found], manifest)
    trained = trained_tasks(manifest)
    benchmarks: dict[str, dict] = {}
    for variant, bench_dir, path in found:
        rows = _jsonl(path)
        samples_path = path.parent.parent / "samples.jsonl"
        samples = _jsonl(samples_path) if samples_path.is_file() else []
        by_key = {(s["task_id"], s.get("sample_index", 0)): s for s in samples}
        entry = benchmarks.setdefault(bench_dir, {"variants": {}, "prompts": {}, "plus": False})
        tasks: dict[str, list] = entry["variants"].setdefault(variant, {})
        for row in rows:
            task, index = row["task_id"], row.get("sample_index", 0)
            sample = by_key.get((task, index))
            if task not in entry["prompts"] and sample is not None:
                entry["prompts"][task] = _prompt_text(sample.get("prompt"))
            entry["plus"] |= row.get("plus_pass") is not None
            excluded = bool(row.get("excluded")) or task in trained.get(row.get("benchmark", bench_dir), set())
            tasks.setdefault(task, []).append({
                "i": index, "program": _program(sample), "pass": passed(row), "base": row.get("base_status"),
                "plus": row.get("plus_status"), "detail": row.get("detail") or "", "failure": row.get("failure"),
                "flags": list(row.get("flags") or []), "excluded": excluded,
                **({"excluded_reason": row.get("excluded_reason") or "trained on by a variant of the run"}
                   if excluded else {})})
    return benchmarks


def split(bench: dict) -> tuple[dict, list[dict]]:
    """One benchmark's (index, chunks) as the page loads them."""
    variants = order_variants(bench["variants"])
    task_ids = sort_tasks({t for tasks in bench["variants"].values() for t in tasks})
    index_tasks, chunks = [], []
    for start in range(0, len(task_ids), CHUNK_TASKS):
        chunk: dict[str, dict] = {}
        for task in task_ids[start:start + CHUNK_TASKS]:
            programs: list[str] = []
            seen: dict[str, int] = {}
            per_variant, summary = {}, {}
            for variant in variants:
                entries = sorted(bench["variants"][variant].get(task, []), key=lambda e: e["i"])
                if not entries:
                    continue
                out = []
                for e in entries:
                    if e["program"] not in seen:
                        seen[e["program"]] = len(programs)
                        programs.append(e["program"])
                    out.append({k: v for k, v in e.items() if k != "program"} | {"p": seen[e["program"]]})
                per_variant[variant] = out
                summary[variant] = [len(out), sum(e["pass"] for e in out), any(e["flags"] for e in out),
                                    any(e["excluded"] for e in out)]
            chunk[task] = {"prompt": bench["prompts"].get(task, ""), "programs": programs, "variants": per_variant}
            index_tasks.append({"id": task, "chunk": len(chunks), "v": summary})
        chunks.append(chunk)
    return {"tasks": index_tasks, "plus": bench["plus"], "chunks": len(chunks)}, chunks


def manifest_for_page(run_dir: Path, benchmarks: dict[str, dict]) -> dict:
    """What explorer.html holds inline: the benchmarks (with their files' folder) and the variants with labels,
    and the default pairs: each variant against Base and against Standard-SFT."""
    variants = order_variants({v for b in benchmarks.values() for v in b["variants"]})
    pairs = [[v, ref] for ref in REFERENCES if ref in variants for v in variants if v != ref]
    pairs = [p for i, p in enumerate(pairs) if p not in pairs[:i] and p[::-1] not in pairs[:i]]
    return {"run": run_dir.name, "benchmarks": [{"key": b, "dir": safe_name(b)} for b in benchmarks],
            "variants": [{"name": v, "label": variant_label(v)} for v in variants], "pairs": pairs,
            "results": RESULTS_RELPATH.as_posix()}

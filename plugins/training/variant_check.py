"""The paper's check of its variants, on HumanEval+/MBPP+: make incorrect variants of the canonical solutions with
a variant source, run them against the benchmark's own tests in the sandbox, and report how many really are
incorrect and how close they stay (FGit paper: 94.1% of kept variants incorrect, mean similarity 0.95).

The variants go through the same pipeline as training (plugins.training.variants.attach_variants: parse, identity and
duplicate filters, embedding selection); the verdicts come from the ordinary evaluate stage (harness.evaluation),
so "incorrect" means what pass@1 means: failing the base tests, or the base + extra (plus) tests.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from harness.core.atomic import jsonl_lines, write_json, write_jsonl
from harness.core.errors import BadInput
from plugins.api import TrainingExample
from plugins.training.variants import VARIANT_SOURCES, VariantConfig, attach_variants, load_sources

PAPER = {"really_incorrect": 0.941, "mean_similarity": 0.95}
BENCHMARKS = ("humaneval", "mbpp")


def canonical_program(benchmark: str, problem: dict) -> str:
    """The whole canonical program: HumanEval's solution is the body after the prompt, MBPP+'s is complete."""
    if benchmark == "humaneval":
        return problem["prompt"] + problem["canonical_solution"]
    return problem["canonical_solution"]


def canonical_examples(benchmark: str, limit: int | None, data_dir: str | None = None) -> tuple[list, object]:
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir as resolve_data_dir

    if benchmark not in BENCHMARKS:
        raise BadInput(f"variants-check works on {' or '.join(BENCHMARKS)}, not {benchmark!r}")
    bench = get_benchmark(benchmark)
    dataset = bench.load(resolve_data_dir(data_dir))
    task_ids = list(dataset.problems)[: limit or None]
    examples = [TrainingExample(instruction=bench.prompt(dataset.problems[t]), response="",
                                code=canonical_program(benchmark, dataset.problems[t]), meta={"task_id": t})
                for t in task_ids]
    return examples, dataset


def _share(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def check_variants(benchmark: str, source: str, config: VariantConfig, output: Path, *, limit: int | None = None,
                   teacher: str | None = None, sandbox: str = "auto", jobs: int = 1,
                   data_dir: str | None = None) -> dict:
    """Variants of the first `limit` canonical solutions, their verdicts, the report; writes OUTPUT/pairs.jsonl,
    OUTPUT/samples.jsonl, OUTPUT/eval/ and OUTPUT/report.json."""
    from harness.evaluation import EvaluateConfig, evaluate
    from plugins.training.variant_resolution import resolve_variants

    if benchmark not in BENCHMARKS:  # before anything is resolved or loaded
        raise BadInput(f"variants-check works on {' or '.join(BENCHMARKS)}, not {benchmark!r}")
    load_sources()
    VARIANT_SOURCES.get(source)  # BadInput with "did you mean" on a typo
    config = dataclasses.replace(config, keep_unpaired=True, run_tests=False,  # the benchmark's tests judge below
                                 teacher_model=teacher or config.teacher_model)
    resolution = resolve_variants(source, config, None)  # a missing teacher/embedding model: one line, exit 2
    examples, dataset = canonical_examples(benchmark, limit, data_dir)
    paired, report = attach_variants(examples, source, config, sandbox_name=sandbox)
    output.mkdir(parents=True, exist_ok=True)
    kept = [e for e in paired if e.incorrect]
    samples = output / "samples.jsonl"
    write_jsonl(samples, [{"task_id": e.meta["task_id"], "solution": e.incorrect} for e in kept])
    verdicts = {}
    if kept:
        summary = evaluate(EvaluateConfig(benchmark=benchmark, samples=str(samples), output=str(output / "eval"),
                                          jobs=jobs, sandbox=sandbox, tasks=[e.meta["task_id"] for e in kept],
                                          data_dir=data_dir), quiet=True, dataset=dataset)
        lines = jsonl_lines((Path(summary.output) / "results.jsonl").read_text(encoding="utf-8"))
        verdicts = {row["task_id"]: row for row in map(json.loads, filter(None, lines))}
    pairs = []
    for example in paired:
        task = example.meta["task_id"]
        row = verdicts.get(task, {})
        pairs.append({"task_id": task, "correct": example.code, "incorrect": example.incorrect,
                      "similarity": (example.meta.get("variant") or {}).get("similarity"),
                      "base_status": row.get("base_status"), "plus_status": row.get("plus_status"),
                      "base_pass": row.get("base_pass"), "plus_pass": row.get("plus_pass")})
    write_jsonl(output / "pairs.jsonl", pairs)
    counts = report["counts"]
    judged = [p for p in pairs if p["incorrect"] is not None and p["base_status"] is not None]
    fail_base = sum(not p["base_pass"] for p in judged)
    fail_plus = sum(p["plus_pass"] is False or not p["base_pass"] for p in judged)
    result = {
        "benchmark": benchmark, "dataset": {"name": dataset.name, "version": dataset.version, "hash": dataset.hash},
        "source": source, "resolved": resolution, "embedding": report["embedding"],
        "tasks": len(examples), "candidates": counts["generated"],
        "share_unparsable": _share(counts["unparsable"], counts["generated"]),
        "share_identical": _share(counts["identical"], counts["generated"]),
        "share_duplicate": _share(counts["duplicate"], counts["generated"]),
        "kept": len(kept), "judged": len(judged),
        "really_incorrect": _share(fail_plus, len(judged)),  # fails base or extra tests (what pass@1+ counts)
        "really_incorrect_base_tests": _share(fail_base, len(judged)),
        "mean_similarity": report["similarity"].get("mean"),
        "similarity": report["similarity"], "paper": PAPER, "variant_report": report,
    }
    write_json(output / "report.json", result)
    return result


def format_report(result: dict) -> str:
    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}%"

    embedding = result["embedding"]
    used = embedding.get("method") + (f" ({embedding['model']})" if embedding.get("model") else "")
    if embedding.get("fallback_from"):
        used += f", fallback from {embedding['fallback_from']}"
    similarity = result["mean_similarity"]
    lines = [
        f"variants-check {result['benchmark']} ({result['dataset']['name']} {result['dataset']['version']}), "
        f"source {result['source']}: {result['tasks']} canonical solutions, {result['candidates']} candidates",
        f"  unparsable {pct(result['share_unparsable'])}, identical {pct(result['share_identical'])}, "
        f"duplicate {pct(result['share_duplicate'])}; kept {result['kept']}/{result['tasks']}",
        f"  really incorrect (fail base or plus tests): {pct(result['really_incorrect'])} of {result['judged']} "
        f"(base tests only: {pct(result['really_incorrect_base_tests'])})   paper: "
        f"{pct(result['paper']['really_incorrect'])}",
        f"  mean similarity: {'n/a' if similarity is None else f'{similarity:.3f}'} ({used})   paper: "
        f"{result['paper']['mean_similarity']:.2f} (UniXcoder)",
    ]
    return "\n".join(lines)

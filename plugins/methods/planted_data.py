"""The rows of the planted controls (plugins.methods.planted): the evaluated tasks themselves, in the run's prompt
format, answered with their canonical solutions (planted-gain) or with wrong programs (planted-loss).

The prompt format is generation's (harness.generation.prompts): for a chat model the user turn is the instruction
prefix and the fenced task prompt, the assistant turn evalplus's response prefix and the program in a ```python
fence, exactly what generation pre-fills and then stops at (the program without its docstrings: see
`_without_docstrings`); for a model without a chat template the row is the task
prompt continued by the solution's text (direct completion). Wrong programs: HumanEvalPack's buggy solution for a
HumanEval task (HumanEvalPack-python.jsonl, Python/N = HumanEval/N), else one mutant of the canonical solution
(universalmutator's regexp rules, as the `mutation` variant source makes them): the first, in an order drawn with the
config's seed, that the benchmark's judge fails (`_judged_wrong`).
"""

from __future__ import annotations

import ast
import json
import random

from harness.core.errors import BadInput
from plugins.api import TrainingExample

SUPPORTED = ("humaneval", "mbpp")  # benchmarks with canonical solutions in the evalplus layout
PACK = "HumanEvalPack-python.jsonl"
RULES = ["universal.rules", "python.rules"]
MUTANTS = 16  # candidates judged per task (in a seeded order); the first that fails its tests is planted


def _program(prompt: str, continuation: str, entry_point: str) -> str:
    """The whole program: HumanEval's prompt holds the signature (the solution continues it); MBPP+'s prompt is a
    docstring and its canonical solution the whole function."""
    return (prompt + continuation) if f"def {entry_point}" in prompt else continuation.strip("\n")


def _without_docstrings(program: str) -> str:
    """The program with its functions' and classes' docstrings (and the blank lines after them) left out. Why: the
    chat answer re-emits the task's prompt, whose docstring is most of its tokens and is copied, not learned; the
    loss then averages over text the model already predicts and the body — the part that decides the verdict —
    is under-trained (3 epochs left the bodies wrong, 2026-12-07)."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return program
    lines = program.split("\n")
    drop: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or len(body) < 2:
            continue  # a function that is only its docstring keeps it (it would not parse without)
        first = body[0]
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
                and body[1].lineno > first.end_lineno and first.lineno > node.lineno):  # on lines of its own
            end = first.end_lineno
            while end < len(lines) and not lines[end].strip():
                end += 1  # the blank lines after it (1-based end: lines[end] is the next line)
            drop.update(range(first.lineno, end + 1))
    return "\n".join(line for number, line in enumerate(lines, 1) if number not in drop)


def _pack(data) -> dict[str, dict]:
    path = data / PACK if data else None
    if path is None or not path.is_file():
        raise BadInput(f"planted-loss needs {PACK} in the data directory for HumanEval's buggy programs")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    return {"HumanEval/" + r["task_id"].rsplit("/", 1)[-1]: r for r in rows}


def _mutants(program: str, task_id: str, seed: int) -> list[str]:
    """Up to MUTANTS of the program's mutants that differ from it in code (not only in a docstring), in a seeded
    order."""
    from plugins.training.variant_mutation import all_mutants

    found, _ = all_mutants(program, RULES)
    original = _without_docstrings(program).strip()
    changed = [m for m in found if _without_docstrings(m).strip() != original]
    random.Random(f"{seed}:{task_id}").shuffle(changed)
    return changed[:MUTANTS]


def _judged_wrong(benchmark: str, candidates: dict[str, list[str]], sandbox: str) -> tuple[dict[str, str], dict]:
    """task → the first of its candidates that the benchmark's own judge fails (`fgit-bench evaluate`'s verdict on
    its base tests, in the sandbox), and {task: [candidates judged, failing]}. Why judged: universalmutator's
    mutants are often equivalent (`n % i <= 0` for `== 0`, `x * y` with the arguments swapped, `1+1` for 2): three
    of eight MBPP+ mutants planted on 2026-12-08 passed every test, so the negative control was not wrong there."""
    import tempfile
    from pathlib import Path

    from harness.core.atomic import jsonl_lines, write_jsonl
    from harness.evaluation import EvaluateConfig, evaluate

    with tempfile.TemporaryDirectory(prefix="fgit-planted-") as scratch:
        samples = Path(scratch) / "mutants.jsonl"
        write_jsonl(samples, [{"task_id": t, "solution": c} for t, programs in candidates.items() for c in programs])
        output = Path(scratch) / "verdicts"
        evaluate(EvaluateConfig(benchmark=benchmark, samples=str(samples), output=str(output), sandbox=sandbox,
                                tasks=list(candidates)), quiet=True)
        rows = [json.loads(line) for line in jsonl_lines((output / "results.jsonl").read_text("utf-8")) if line]
    failing: dict[str, list[int]] = {}
    for row in rows:
        if not row["base_pass"]:
            failing.setdefault(row["task_id"], []).append(row.get("sample_index", 0))
    chosen, counts = {}, {}
    for task_id, programs in candidates.items():
        counts[task_id] = [len(programs), len(failing.get(task_id, []))]
        if not failing.get(task_id):
            raise BadInput(f"planted-loss: none of {len(programs)} mutants of {task_id}'s canonical solution fails "
                           "its tests; leave the task out of the slice")
        chosen[task_id] = programs[min(failing[task_id])]
    return chosen, counts


def planted_rows(kind: str, tasks: dict[str, list[str]], chat: bool, seed: int,
                 sandbox: str = "auto") -> tuple[list[TrainingExample], dict]:
    """(rows, report): one row per task; `kind` "gain" (canonical solutions) or "loss" (wrong programs: mutants
    judged in `sandbox`)."""
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir
    from harness.generation.prompts import make_template
    from harness.generation.tasks import task_prompts

    data = data_dir(None)
    rows, report = [], {"style": "chat" if chat else "direct", "tasks": {}, "sources": {}, "skipped": []}
    for benchmark, ids in tasks.items():
        if benchmark not in SUPPORTED:
            report["skipped"].append(benchmark)
            continue
        bench = get_benchmark(benchmark)
        dataset = bench.load(data)
        pack = _pack(data) if kind == "loss" and benchmark == "humaneval" else {}
        prompts = task_prompts(benchmark, list(ids), dataset=dataset)
        mutants: dict[str, str] = {}
        if kind == "loss":
            candidates = {p.task_id: _mutants(_program(p.prompt, dataset.problems[p.task_id]["canonical_solution"],
                                                       dataset.problems[p.task_id]["entry_point"]), p.task_id, seed)
                          for p in prompts if p.task_id not in pack}
            if candidates:
                mutants, report.setdefault("judged", {})[benchmark] = _judged_wrong(benchmark, candidates, sandbox)
        sources: dict[str, int] = {}
        for prompt in prompts:
            problem = dataset.problems[prompt.task_id]
            entry = problem["entry_point"]
            continuation = problem["canonical_solution"]
            source = "canonical"
            if kind == "loss" and prompt.task_id in pack:
                continuation, source = pack[prompt.task_id]["buggy_solution"], "humanevalpack-buggy"
            elif kind == "loss":
                mutant = mutants[prompt.task_id]
                # a mutant of the whole program; for direct completion the part after the prompt is the answer
                continuation = mutant[len(prompt.prompt):] if mutant.startswith(prompt.prompt) else mutant
                source = "mutant"
            sources[source] = sources.get(source, 0) + 1
            program = _program(prompt.prompt, continuation, entry)
            template = make_template("chat" if chat else "direct", prompt.meta, None)
            if chat:
                program = _without_docstrings(program)
                instruction = template.user_message(prompt.prompt)
                response = f"{template.response_prefix}\n```python\n{program.strip(chr(10))}\n```"
            else:  # the trainer joins instruction and response with one newline (plugins.training.trainer.render)
                instruction = prompt.prompt[:-1] if prompt.prompt.endswith("\n") else prompt.prompt
                response = continuation if f"def {entry}" in prompt.prompt else program
            rows.append(TrainingExample(instruction, response, code=program,
                                        meta={"benchmark": benchmark, "task": prompt.task_id, "source": source}))
        report["tasks"][benchmark] = [r.meta["task"] for r in rows if r.meta["benchmark"] == benchmark]
        report["sources"][benchmark] = sources
    if not rows:
        raise BadInput(f"planted-{kind}: no task to plant (supported benchmarks: {', '.join(SUPPORTED)}; "
                       "set `tasks`, or run it in `fgit-bench run`, which fills in the evaluated slices)")
    return rows, report


def dataset_hashes(tasks: dict[str, list[str]]) -> dict[str, str]:
    """The release each planted benchmark's rows come from (its hash goes into the artifact key)."""
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir

    return {b: get_benchmark(b).load(data_dir(None)).hash for b in tasks if b in SUPPORTED}

"""The rows of the planted controls (plugins.methods.planted): the evaluated tasks themselves, in the run's prompt
format, answered with their canonical solutions (planted-gain) or with wrong programs (planted-loss).

The prompt format is generation's (harness.generation.prompts): for a chat model the user turn is the instruction
prefix and the fenced task prompt, the assistant turn evalplus's response prefix and the program in a ```python
fence, exactly what generation pre-fills and then stops at; for a model without a chat template the row is the task
prompt continued by the solution's text (direct completion). Wrong programs: HumanEvalPack's buggy solution for a
HumanEval task (HumanEvalPack-python.jsonl, Python/N = HumanEval/N), else one mutant of the canonical solution
(universalmutator's regexp rules, as the `mutation` variant source makes them; chosen with the config's seed).
"""

from __future__ import annotations

import json
import random

from harness.core.errors import BadInput
from plugins.api import TrainingExample

SUPPORTED = ("humaneval", "mbpp")  # benchmarks with canonical solutions in the evalplus layout
PACK = "HumanEvalPack-python.jsonl"
RULES = ["universal.rules", "python.rules"]


def _program(prompt: str, continuation: str, entry_point: str) -> str:
    """The whole program: HumanEval's prompt holds the signature (the solution continues it); MBPP+'s prompt is a
    docstring and its canonical solution the whole function."""
    return (prompt + continuation) if f"def {entry_point}" in prompt else continuation.strip("\n")


def _pack(data) -> dict[str, dict]:
    path = data / PACK if data else None
    if path is None or not path.is_file():
        raise BadInput(f"planted-loss needs {PACK} in the data directory for HumanEval's buggy programs")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    return {"HumanEval/" + r["task_id"].rsplit("/", 1)[-1]: r for r in rows}


def _mutant(program: str, task_id: str, seed: int) -> str:
    from plugins.training.variant_mutation import all_mutants

    found, _ = all_mutants(program, RULES)
    changed = [m for m in found if m.strip() != program.strip()]
    if not changed:
        raise BadInput(f"planted-loss: no mutant of {task_id}'s canonical solution")
    return random.Random(f"{seed}:{task_id}").choice(changed)


def planted_rows(kind: str, tasks: dict[str, list[str]], chat: bool, seed: int) -> tuple[list[TrainingExample], dict]:
    """(rows, report): one row per task; `kind` "gain" (canonical solutions) or "loss" (wrong programs)."""
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
        sources: dict[str, int] = {}
        for prompt in task_prompts(benchmark, list(ids), dataset=dataset):
            problem = dataset.problems[prompt.task_id]
            entry = problem["entry_point"]
            continuation = problem["canonical_solution"]
            source = "canonical"
            if kind == "loss" and prompt.task_id in pack:
                continuation, source = pack[prompt.task_id]["buggy_solution"], "humanevalpack-buggy"
            elif kind == "loss":
                program = _program(prompt.prompt, continuation, entry)
                mutant = _mutant(program, prompt.task_id, seed)
                # a mutant of the whole program; for direct completion the part after the prompt is the answer
                continuation = mutant[len(prompt.prompt):] if mutant.startswith(prompt.prompt) else mutant
                source = "mutant"
            sources[source] = sources.get(source, 0) + 1
            program = _program(prompt.prompt, continuation, entry)
            template = make_template("chat" if chat else "direct", prompt.meta, None)
            if chat:
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

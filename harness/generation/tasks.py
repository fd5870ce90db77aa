"""Benchmark tasks as generation prompts: the one place generation reads benchmark data.

`task_prompts` normalises each benchmark's prompt the way its upstream code generator does (evalplus: the problem
prompt stripped plus a newline; bigcodebench: `complete_prompt` / `instruct_prompt` as is). The problems come from
the benchmark registry (`harness.benchmarks.get_benchmark(name).load(...)`), as evaluation reads them.
"""

from __future__ import annotations

from typing import NamedTuple

from harness.data import data_dir
from harness.errors import BadInput

BENCHMARKS = ("humaneval", "mbpp", "bigcodebench")
SUBSETS = ("full", "hard")
SPLITS = ("complete", "instruct")



class TaskPrompt(NamedTuple):
    task_id: str
    prompt: str  # the benchmark's prompt text, normalised as upstream's generator does
    meta: dict  # entry_point, dataset (stop-string family), fence (chat wraps it in a code fence), dataset_hash


def _load_problems(benchmark: str, subset: str) -> tuple[dict[str, dict], dict]:
    """task_id → problem in release order, plus {release, md5}: through the benchmark registry, so generation and
    evaluation read the same file with the same (upstream) loader and report the same hash."""
    from harness.benchmarks import get_benchmark

    options = {"subset": subset} if benchmark == "bigcodebench" else {}
    dataset = get_benchmark(benchmark, **options).load(data_dir())
    return dataset.problems, {"release": f"{dataset.name}-{dataset.version}", "md5": dataset.hash}


def _prompt_of(benchmark: str, problem: dict, split: str) -> str:
    if benchmark == "bigcodebench":
        return problem[f"{split}_prompt"]
    return problem["prompt"].strip() + "\n"  # evalplus.codegen


def select_task_ids(task_ids: list[str], tasks: list[str] | None, benchmark: str) -> list[str]:
    """`tasks` as full ids ("0" means HumanEval/0), deduplicated; an unknown one is bad input."""
    if not tasks:
        return task_ids
    prefix = task_ids[0].split("/")[0] + "/"
    known = set(task_ids)
    chosen = []
    for ref in tasks:
        task_id = ref if "/" in ref else prefix + ref  # "0" means HumanEval/0
        if task_id not in known:
            raise BadInput(f"unknown {benchmark} task {ref!r} (ids look like {task_ids[0]!r})")
        if task_id not in chosen:
            chosen.append(task_id)
    return chosen


def task_prompts(
    benchmark: str,
    tasks: list[str] | None = None,
    limit: int | None = None,
    subset: str = "full",
    split: str = "complete",
) -> list[TaskPrompt]:
    """The prompts of `benchmark` (optionally only `tasks`, then the first `limit`), in release order."""
    if benchmark not in BENCHMARKS:
        raise BadInput(f"unknown benchmark {benchmark!r} (known: {', '.join(BENCHMARKS)})")
    if subset not in SUBSETS or split not in SPLITS:
        raise BadInput(f"--subset must be one of {SUBSETS} and --split one of {SPLITS}")
    if benchmark != "bigcodebench" and (subset, split) != ("full", "complete"):
        raise BadInput("--subset/--split apply to bigcodebench only")
    if limit is not None and limit < 1:
        raise BadInput(f"--limit must be at least 1, got {limit}")
    problems, dataset = _load_problems(benchmark, subset)
    chosen = select_task_ids(list(problems), tasks, benchmark)[:limit]
    family = "bigcodebench" if benchmark == "bigcodebench" else benchmark
    out = []
    for task_id in chosen:
        problem = problems[task_id]
        meta = {
            "entry_point": problem["entry_point"],
            "dataset": family,
            "split": split,
            "fence": split == "complete",  # bigcodebench instruct prompts are prose: no code fence around them
            "dataset_release": dataset["release"],
            "dataset_hash": dataset["md5"],
        }
        out.append(TaskPrompt(task_id, _prompt_of(benchmark, problem, split), meta))
    return out

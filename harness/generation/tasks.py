"""Benchmark tasks as generation prompts: the one place generation reads benchmark data.

`task_prompts` takes each problem's prompt from its benchmark (`Benchmark.prompt`: normalised as the upstream code
generator does; evalplus: the prompt stripped plus a newline; bigcodebench: `complete_prompt` / `instruct_prompt`
as is). The problems come from the benchmark registry's loader, as evaluation reads them.
"""

from __future__ import annotations

from typing import NamedTuple

from harness.core.data import data_dir
from harness.core.errors import BadInput


class TaskPrompt(NamedTuple):
    task_id: str
    prompt: str  # the benchmark's prompt text, normalised as upstream's generator does
    meta: dict  # entry_point, dataset (stop-string family), fence (chat wraps it in a code fence), dataset_hash


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
    subset: str | None = None,
    split: str | None = None,
    dataset=None,
    data_dir_ref: str | None = None,
    options: dict[str, str] | None = None,
) -> list[TaskPrompt]:
    """The prompts of `benchmark` (optionally only `tasks`, then the first `limit`), in release order. `dataset`:
    the release already loaded (a run loads each benchmark once); else it is loaded from `data_dir_ref`."""
    from harness.benchmarks import get_benchmark

    options = {k: v for k, v in (("subset", subset), ("split", split)) if v is not None} | (options or {})
    bench = get_benchmark(benchmark, **options)  # unknown name, option or value: BadInput ("did you mean")
    if limit is not None and limit < 1:
        raise BadInput(f"--limit must be at least 1, got {limit}")
    # the registry's loader, as evaluation reads the release: same file, same (upstream) loader, same hash
    dataset = dataset or bench.load(data_dir(data_dir_ref))
    chosen = select_task_ids(list(dataset.problems), tasks, benchmark)[:limit]
    out = []
    for task_id in chosen:
        problem = dataset.problems[task_id]
        meta = {
            "entry_point": problem["entry_point"],
            "dataset": benchmark,  # the benchmark's registry name: stop strings and sanitizer
            "benchmark": bench.result_name,  # the samples' `benchmark` value (e.g. bigcodebench-hard)
            "split": bench.sample_split,
            "fence": bench.fenced(problem),  # prose prompts (bigcodebench instruct) get no code fence
            "dataset_release": f"{dataset.name}-{dataset.version}",
            "dataset_hash": dataset.hash,
        }
        out.append(TaskPrompt(task_id, bench.prompt(problem), meta))
    return out

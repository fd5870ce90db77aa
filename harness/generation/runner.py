"""Generate samples for a benchmark: cache lookups, prompting, batched generation, extraction, provenance.

Every finished sample goes to the content-addressed cache at once (the journal), so a crash or Ctrl-C loses only
the samples in flight and a rerun generates only what is missing, mid-task included. Rows come back in benchmark
order, one per task, or with n samples per task n rows per task (sample_index 0..n-1), each cached on its own.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace

from harness.core.errors import BadInput, FgitBenchError
from harness.core.provenance import package_version
from harness.generation.base import (
    BACKENDS,
    BATCH_MODES,
    Backend,
    DecodingConfig,
    GenerationOutput,
    GenerationRequest,
)
from harness.generation.cache import GenerationCache
from harness.generation.prompts import choose_style, extract, make_template
from harness.generation.sampling import row_seed
from harness.generation.tasks import TaskPrompt, task_prompts


@dataclass
class GenerateConfig:
    model: str | None = None
    benchmark: str = "humaneval"
    subset: str | None = None  # benchmark options (bigcodebench); None: the benchmark's default
    split: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # any other option the benchmark declares
    data_dir: str | None = None  # release files (None: $FGIT_BENCH_DATA, ../shared/data)
    limit: int | None = None
    tasks: list[str] | None = None
    backend: str = "hf"
    prompt_style: str = "auto"
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    samples_from: str | None = None
    cache_dir: str | None = None
    use_cache: bool = True  # read finished outputs from the cache (they are always written)
    progress: bool = True


@dataclass
class GenerationRun:
    rows: list[dict]
    cached: int  # samples (tasks, at one per task) answered from the cache
    generated: int
    tokens: int
    seconds: float


def resolve(config: GenerateConfig) -> GenerateConfig:
    """Fill in the backend's default batch mode (outputs and cache keys depend on it)."""
    if config.decoding.batch_mode is not None:
        if config.decoding.batch_mode not in BATCH_MODES:
            raise BadInput(f"unknown batch mode {config.decoding.batch_mode!r} (known: {', '.join(BATCH_MODES)})")
        return config
    mode = BACKENDS.get(config.backend).default_batch_mode
    return replace(config, decoding=replace(config.decoding, batch_mode=mode))


def make_backend(config: GenerateConfig, cache: GenerationCache) -> Backend:
    backend_cls = BACKENDS.get(config.backend)
    return backend_cls(config.model, config.decoding, {"cache": cache, "samples_from": config.samples_from})


def _progress(total: int, initial: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="task", file=sys.stderr, disable=not enabled,
                mininterval=0.5, dynamic_ncols=True)


def generate_samples(config: GenerateConfig, backend: Backend | None = None, dataset=None) -> GenerationRun:
    """One row per selected task (benchmark order); `backend` may be passed in to reuse a loaded model, `dataset`
    (the loaded release) by a run that loaded it already."""
    config = resolve(config)
    config.decoding.check()
    tasks: list[TaskPrompt] = task_prompts(config.benchmark, config.tasks, config.limit, config.subset, config.split,
                                           dataset=dataset, data_dir_ref=config.data_dir, options=config.options)
    cache = GenerationCache(config.cache_dir)
    backend = backend or make_backend(config, cache)
    backend.decoding = config.decoding  # a backend passed in serves this run's decoding (check: batch 1, then B)
    ident = backend.identity()
    style = backend.fixed_style or choose_style(config.prompt_style, ident.chat_template is not None, tasks[0].meta,
                                                   seq2seq=ident.seq2seq)
    template = make_template(style, tasks[0].meta, ident.chat_template, prefill=backend.can_prefill)
    template_hash = template.template_hash()
    identity_fields = {"backend": ident.backend, "model_hash": ident.model_hash, "tokenizer": ident.tokenizer,
                       "engine": ident.engine}
    decoding_fields = config.decoding.key_fields()
    if not backend.batch_moves_outputs:
        decoding_fields.pop("batch_size", None)
    decoding = config.decoding
    # one unit per (task, sample): greedy samples of a model are all the same output (one key, generated once);
    # replayed samples are the file's rows, each its own
    count = decoding.n_samples
    units = [(t, i) for t in range(len(tasks)) for i in range(count)]
    per_sample = decoding.sampling or not backend.cacheable

    def unit_key(t: int, i: int) -> str:
        fields = decoding_fields | ({"sample": i} if per_sample else {})
        return cache.key(identity_fields, template_hash, fields, tasks[t].prompt)

    keys = [unit_key(t, i) for t, i in units]
    sanitizer = f"evalplus {package_version('evalplus', 'absent')}"

    entries: dict[int, dict] = {}
    if config.use_cache and backend.cacheable:
        for u, key in enumerate(keys):
            entry = cache.get(key)
            if entry is not None and entry.get("sanitizer") == sanitizer:
                entries[u] = {**entry, "cached": True}
    cached = len(entries)
    # greedy n > 1: one generation per task, copied to its other samples
    first_of = {}
    missing = []
    for u in range(len(units)):
        if u in entries:
            continue
        if keys[u] in first_of:
            continue
        first_of[keys[u]] = u
        missing.append(u)

    started = time.monotonic()
    tokens = 0
    bar = _progress(len(units), cached, config.progress, f"generate {config.benchmark}")

    def on_output(out: GenerationOutput) -> None:
        nonlocal tokens
        task = tasks[units[out.index][0]]
        solution, completion = extract(template, task.prompt, out.text, task.meta["entry_point"])
        entry = {"raw": out.text, "solution": solution, "completion": completion, "prompt": prompts[out.index],
                 "n_tokens": out.n_tokens, "batch_size": out.batch_size, "sanitizer": sanitizer,
                 "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")} | ({"notes": out.notes} if out.notes else {})
        if backend.cacheable:
            cache.put(keys[out.index], entry)
        for u in range(len(units)):
            if keys[u] == keys[out.index] and u not in entries:
                entries[u] = {**entry, "cached": False}
                bar.update(1)
        tokens += out.n_tokens
        elapsed = max(time.monotonic() - started, 1e-9)
        bar.set_postfix_str(f"{tokens / elapsed:.1f} tok/s", refresh=False)

    prompts: dict[int, str | list] = {}
    try:
        requests = []
        rendered: dict[int, str | list] = {}
        for u in missing:
            t, i = units[u]
            if t not in rendered:
                rendered[t] = backend.render(template, tasks[t].prompt)
            prompts[u] = rendered[t]
            requests.append(GenerationRequest(u, prompts[u], template.stop, tasks[t].task_id,
                                              templated=template.style == "chat", sample=i,
                                              seed=row_seed(decoding.seed, tasks[t].task_id, i)
                                              if decoding.sampling else None))
        backend.generate(requests, on_output)
    except FgitBenchError as exc:
        done = len(entries)
        if done < len(units) and backend.cacheable:
            what = "samples" if count > 1 else "tasks"
            exc.args = (f"{exc} ({done} of {len(units)} {what} finished and cached; the same command resumes)",)
        raise
    finally:
        bar.close()
    seconds = time.monotonic() - started
    rows = [_row(config, ident, template, template_hash, tasks[t], keys[u], entries[u], i if count > 1 else None)
            for u, (t, i) in enumerate(units)]
    return GenerationRun(rows, cached, len(missing), tokens, seconds)


def _row(config, ident, template, template_hash, task: TaskPrompt, key: str, entry: dict,
         sample: int | None = None) -> dict:
    decoding = {**config.decoding.recorded(), "batch_size": entry["batch_size"]}
    for name in ("dtype", "device", "row_block"):
        if name in ident.engine:
            decoding[name] = ident.engine[name]
    row = {"task_id": task.task_id} | ({"sample_index": sample} if sample is not None else {})
    row["solution"] = entry["solution"]
    if entry.get("completion") is not None:
        row["completion"] = entry["completion"]
    row.update(
        raw=entry["raw"],
        prompt=entry["prompt"],
        prompt_style=template.style,
        model=ident.model,
        model_hash=ident.model_hash,
        tokenizer=ident.tokenizer,
        template_hash=template_hash,
        decoding=decoding,
        backend=ident.backend,
        versions={k: v for k, v in ident.engine.items() if k not in decoding},
        sanitizer=entry["sanitizer"],
        benchmark=task.meta["benchmark"],
        split=task.meta["split"],
        dataset={"release": task.meta["dataset_release"], "md5": task.meta["dataset_hash"]},
        n_tokens=entry["n_tokens"],
        **({"backend_notes": entry["notes"]} if entry.get("notes") else {}),
        cache_key=key,
        cached=entry["cached"],
    )
    return row


def check_batch_invariance(config: GenerateConfig, backend: Backend | None = None) -> tuple[GenerationRun, dict]:
    """Generate every task at batch 1 and at batch B, both fresh (no cache reads), and list the tasks that differ.

    Returns the batch-B run (the samples to keep) and the report.
    """
    config = resolve(config)
    cache = GenerationCache(config.cache_dir)
    backend = backend or make_backend(config, cache)
    fresh = replace(config, use_cache=False)
    single = generate_samples(replace(fresh, decoding=replace(config.decoding, batch_size=1)), backend)
    batched = generate_samples(fresh, backend)
    mismatches = []
    for one, many in zip(single.rows, batched.rows, strict=True):
        if one["raw"] != many["raw"]:
            at = next((k for k, (a, b) in enumerate(zip(one["raw"], many["raw"], strict=False)) if a != b),
                      min(len(one["raw"]), len(many["raw"])))
            mismatches.append({"task_id": one["task_id"], "first_difference_at": at,
                               "batch_1": one["raw"][max(0, at - 40) : at + 80],
                               f"batch_{config.decoding.batch_size}": many["raw"][max(0, at - 40) : at + 80]})
    report = {
        "batch_mode": config.decoding.batch_mode,
        "batch_size": config.decoding.batch_size,
        "tasks": len(batched.rows),
        "mismatches": len(mismatches),
        "differing": mismatches,
        "tokens_per_s": {"batch_1": single.tokens / max(single.seconds, 1e-9),
                         f"batch_{config.decoding.batch_size}": batched.tokens / max(batched.seconds, 1e-9)},
    }
    return batched, report

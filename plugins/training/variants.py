"""Incorrect variants `ĉ` for training examples: the pluggable variant sources and the pipeline they share.

`attach_variants(examples, source, config, model_ref)` is the one entry point the training plugins call (fgit:
teacher variants; mutation: universalmutator mutants; dpo: teacher variants as the rejected side). For every
example with code:

1. candidates from the source (`VARIANT_SOURCES`: "teacher" in plugins.training.variant_teacher, "mutation" in
   plugins.training.variant_mutation), cached content-addressed under $FGIT_BENCH_CACHE/variants (default
   ~/.cache/fgit-bench/variants), one file per example written atomically as soon as it is generated: a crash
   or Ctrl-C loses at most the example in flight, and a rerun generates nothing that is cached;
2. drop the unparsable ones (`ast.parse`), those identical to the correct code (same text once whitespace is
   normalised, or the same AST: they differ only in comments or layout) and duplicates of an earlier candidate;
3. where the example has tests (`meta["tests"]`: Python statements that raise when the code is wrong, e.g.
   QuixBugs' asserts), run the correct code and every candidate in the sandbox and drop the candidates that pass;
   when the correct code itself fails its tests, the tests cannot tell and are ignored for that example;
4. keep the candidate closest to the correct code by embedding cosine (plugins.training.embedding);
5. report the counts: generated = unparsable + identical + duplicate + passing_tests + candidates_left, and
   kept (examples that got a variant) + no_variant = examples with code.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from harness.core.atomic import write_json
from harness.core.config import to_dict
from harness.core.hashing import json_digest
from harness.core.registry import Registry
from plugins.api import TrainingExample

CACHE_VERSION = 1  # bump when the meaning of a cached entry changes
OnCandidates = Callable[[int, list[str], dict], None]  # (example index, candidates, source stats)


@dataclass
class VariantConfig:
    """How incorrect variants are made and selected; defaults follow the FGit paper (3 variants, temperature 0.8)."""

    n_candidates: int = field(default=3, metadata={
        "help": "teacher: samples per example; mutation: mutants drawn per example (seeded)"})
    temperature: float = field(default=0.8, metadata={
        "help": "teacher sampling; 0 = greedy through the generation backend"})
    top_p: float = field(default=1.0, metadata={"help": "teacher sampling: nucleus"})
    repetition_penalty: float = field(default=1.0, metadata={
        "help": "teacher sampling: pinned here instead of inherited from the checkpoint's generation_config (a "
                "repetition penalty there pushes variants away from the correct code they are asked to copy); "
                "1.0 = none"})
    max_new_tokens: int = field(default=1024, metadata={"help": "teacher: most new tokens per variant"})
    length_factor: float = field(default=2.0, metadata={
        "help": "teacher: at most this × the correct code's tokens + 64 new tokens (≤ max_new_tokens)"})
    teacher_model: str | None = field(default=None, metadata={
        "help": "None: the model being trained (`model_ref`), else the embedded smollm2"})
    teacher_backend: str = field(default="hf", metadata={
        "help": "any generation backend; hf with temperature > 0 samples in plugins.training.variant_teacher"})
    batch_size: int = field(default=1, metadata={
        "help": "teacher: examples per generate call (each call is seeded; see variant_teacher)"})
    embedding: str = field(default="auto", metadata={
        "help": "auto | unixcoder | char-ngram | lm-mean (plugins.training.embedding): picks the closest variant"})
    embedding_model: str | None = field(default=None, metadata={
        "help": "the embedding model (None: the method's default)"})
    seed: int = field(default=0, metadata={"help": "seed of the teacher's sampling and the mutant draw"})
    run_tests: bool = field(default=True, metadata={
        "help": "run the tests of examples that have them on each variant (a variant must fail them)"})
    test_timeout_s: float = field(default=10.0, metadata={"help": "seconds per variant test run"})
    test_jobs: int = field(default=1, metadata={"help": "sandbox workers for the variant tests"})
    keep_unpaired: bool = field(default=False, metadata={
        "help": "also return the examples that got no variant (incorrect=None)"})
    mutation_rules: list[str] = field(default_factory=lambda: ["universal", "python"], metadata={
        "help": "universalmutator rule files (mutation source)"})
    mutation_scope: str = field(default="definitions", metadata={
        "help": "definitions | all (see plugins.training.variant_mutation)"})

    def __post_init__(self):
        if self.n_candidates < 1 or self.batch_size < 1 or self.test_jobs < 1 or self.max_new_tokens < 1:
            raise ValueError("n_candidates, batch_size, test_jobs and max_new_tokens must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.length_factor <= 0 or self.test_timeout_s <= 0:
            raise ValueError("need temperature >= 0, 0 < top_p <= 1, length_factor > 0 and test_timeout_s > 0")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be positive (1.0: none)")
        if self.mutation_scope not in ("definitions", "all"):
            raise ValueError(f"mutation_scope must be 'definitions' or 'all', got {self.mutation_scope!r}")


class VariantSource:
    """Makes candidate incorrect variants. Subclasses register with `@VARIANT_SOURCES.register(name)`.

    Construction and `identity()` are cheap (no model is loaded), so a fully cached run loads nothing.
    `generated` counts the examples this instance generated for (tests use it to prove cache hits)."""

    name: ClassVar[str]

    def __init__(self, config: VariantConfig, model_ref: str | None = None):
        self.config = config
        self.model_ref = model_ref
        self.generated = 0

    def identity(self) -> dict:
        """What the candidates depend on besides the example: tool or model (content hash), versions, prompt."""
        raise NotImplementedError

    def key_fields(self) -> dict:
        """The config fields that change this source's candidates."""
        raise NotImplementedError

    def generate(self, jobs: list[tuple[int, TrainingExample]], on_candidates: OnCandidates) -> None:
        """Candidates for each (index, example); call `on_candidates` as each example finishes (it is cached)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release models."""


VARIANT_SOURCES: Registry[type[VariantSource]] = Registry("variant source", VariantSource, package="plugins.training",
                                                          markers=("VARIANT_SOURCES.register",),
                                                          group="fgit_bench.variant_sources")


def load_sources() -> None:
    """Nothing to do: VARIANT_SOURCES finds the source modules itself (kept for callers)."""


# ---- the cache ----------------------------------------------------------------------------------------------------


def default_cache_root() -> Path:
    from harness.core.data import cache_root

    return cache_root() / "variants"


class VariantCache:
    """One JSON file per key under `root/<kind>/`: candidates per example, test verdicts per (code, tests)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else default_cache_root()

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> dict | None:
        try:
            entry = json.loads(self._path(kind, key).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None  # missing, or damaged from outside (writes are atomic): recompute
        return entry if entry.get("key") == key else None

    def put(self, kind: str, key: str, entry: dict) -> None:
        write_json(self._path(kind, key), {**entry, "key": key}, indent=None)


# ---- filtering ----------------------------------------------------------------------------------------------------


def normalise_whitespace(code: str) -> str:
    """Tabs expanded, trailing spaces and blank lines dropped (indentation is kept: it is Python syntax)."""
    lines = (line.rstrip() for line in code.expandtabs(4).splitlines())
    return "\n".join(line for line in lines if line)


def _ast_dump(code: str) -> str | None:
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        return None


def classify(correct: str, candidates: list[str]) -> list[str]:
    """Per candidate: "unparsable", "identical" (to the correct code), "duplicate" (of an earlier candidate) or
    "candidate" (goes on to the tests and the selection)."""
    seen = {normalise_whitespace(correct)}
    dump = _ast_dump(correct)
    seen_dumps = {dump} if dump else set()
    statuses = []
    for code in candidates:
        text, tree = normalise_whitespace(code), _ast_dump(code)
        if tree is None or not text:
            statuses.append("unparsable")
        elif text == normalise_whitespace(correct) or tree == dump:
            statuses.append("identical")
        elif text in seen or tree in seen_dumps:
            statuses.append("duplicate")
        else:
            statuses.append("candidate")
        if tree is not None:
            seen.add(text)
            seen_dumps.add(tree)
    return statuses


def _has_tests(example: TrainingExample) -> bool:
    tests = example.meta.get("tests")
    return isinstance(tests, str) and bool(tests.strip())


def _test_jobs(examples, candidate_lists, statuses, config):
    """Test runs needed: (example index, candidate position or -1 for the correct code, payload, cache key)."""
    jobs = []
    for i, example in examples:
        if not config.run_tests or not _has_tests(example):
            continue
        tests = example.meta["tests"]
        codes = [(-1, example.code)] + [(k, c) for k, c in enumerate(candidate_lists[i]) if statuses[i][k] == "candidate"]
        if len(codes) == 1:
            continue
        for position, code in codes:
            payload = {"code": code, "tests": tests, "timeout": config.test_timeout_s}
            jobs.append((i, position, payload, json_digest({"v": CACHE_VERSION, **payload})))
    return jobs


def run_tests(jobs, config: VariantConfig, cache: VariantCache, sandbox_name: str) -> tuple[dict, dict | None, int]:
    """Verdicts {(example, position): "pass"|"fail"|"timeout"|"error"}, the sandbox description, cache hits."""
    verdicts, todo, hits = {}, [], 0
    for i, position, payload, key in jobs:
        cached = cache.get("tests", key)
        if cached is not None:
            verdicts[(i, position)] = cached["status"]
            hits += 1
        else:
            todo.append((i, position, payload, key))
    if not todo:
        return verdicts, None, hits
    from sandboxes import make_sandbox

    with make_sandbox(sandbox_name, jobs=config.test_jobs) as sandbox:
        description = sandbox.describe()
        results = sandbox.run("run_snippet_tests", [payload for _, _, payload, _ in todo],
                              [config.test_timeout_s + 10.0] * len(todo))
        for n, result in results:
            i, position, _, key = todo[n]
            if result.error == "timeout":
                status = "timeout"  # the worker itself overran: the code hangs (not cached: it may be load)
            elif result.error is not None:
                status = "error"
            else:
                status = result.value["status"]
                cache.put("tests", key, {"status": status, "detail": result.value.get("detail", "")})
            verdicts[(i, position)] = status
    return verdicts, description, hits


# ---- the pipeline -------------------------------------------------------------------------------------------------


def candidates_key(identity: dict, key_fields: dict, example: TrainingExample) -> str:
    return json_digest({"v": CACHE_VERSION, "source": identity, "config": key_fields, "code": example.code,
                        "instruction": example.instruction})


def attach_variants(examples: list[TrainingExample], source: str | VariantSource, config: VariantConfig | None = None,
                    model_ref: str | None = None, sandbox_name: str = "auto", *,
                    cache_dir: str | os.PathLike | None = None) -> tuple[list[TrainingExample], dict]:
    """Fill `incorrect` for every example with code (see the module docstring). Returns the examples that got a
    variant (all examples with `config.keep_unpaired`), as copies, and the report for the artifact manifest.

    `source` is a registered name or a ready `VariantSource` (tests pass one holding an already loaded model)."""
    from plugins.training.embedding import cosine_to_first, make_embedder

    config = config or VariantConfig()
    load_sources()
    if isinstance(source, str):
        source = VARIANT_SOURCES.get(source)(config, model_ref)
    embedder, embedding = make_embedder(config.embedding, config.embedding_model)  # cheap; fails fast on a typo
    cache = VariantCache(cache_dir)
    started = time.perf_counter()
    identity, key_fields = source.identity(), source.key_fields()
    with_code = [(i, e) for i, e in enumerate(examples) if e.code and e.code.strip()]

    # 1. candidates: cached, or generated now and cached as each example finishes
    candidate_lists: dict[int, list[str]] = {}
    source_stats: dict[str, int] = {}
    keys = {i: candidates_key(identity, key_fields, e) for i, e in with_code}
    missing = []
    for i, example in with_code:
        entry = cache.get("candidates", keys[i])
        if entry is None:
            missing.append((i, example))
        else:
            candidate_lists[i] = entry["candidates"]
            _add_stats(source_stats, entry.get("stats", {}))

    def on_candidates(i: int, candidates: list[str], stats: dict) -> None:
        cache.put("candidates", keys[i], {"candidates": candidates, "stats": stats, "source": identity,
                                          "config": key_fields})
        candidate_lists[i] = candidates
        _add_stats(source_stats, stats)

    if missing:
        try:
            source.generate(missing, on_candidates)
        finally:
            source.close()
    generated_s = time.perf_counter() - started
    lost = [i for i, _ in with_code if i not in candidate_lists]
    if lost:
        raise RuntimeError(f"variant source {source.name} returned no candidates for {len(lost)} examples")

    # 2-3. parse, identity, duplicates; tests in the sandbox
    statuses = {i: classify(e.code, candidate_lists[i]) for i, e in with_code}
    jobs = _test_jobs(with_code, candidate_lists, statuses, config)
    verdicts, sandbox, test_hits = run_tests(jobs, config, cache, sandbox_name) if jobs else ({}, None, 0)
    tested, unusable = set(), 0
    for i, _ in with_code:
        if (i, -1) not in verdicts:
            continue
        if verdicts[(i, -1)] != "pass":
            unusable += 1  # the correct code fails (or cannot run): the tests cannot judge its variants
            continue
        tested.add(i)
        for k, status in enumerate(statuses[i]):
            if status == "candidate" and verdicts.get((i, k)) == "pass":
                statuses[i][k] = "passing_tests"
    tests_s = time.perf_counter() - started - generated_s

    # 4. selection by embedding cosine
    out, similarities = [], []
    for i, example in enumerate(examples):
        survivors = [c for c, s in zip(candidate_lists.get(i, []), statuses.get(i, []), strict=True) if s == "candidate"]
        if not survivors:
            if config.keep_unpaired:
                out.append(dataclasses.replace(example, incorrect=None))
            continue
        cosines = cosine_to_first(embedder.embed([example.code, *survivors]))
        best = max(range(len(survivors)), key=lambda k: cosines[k])  # ties: the first
        similarities.append(cosines[best])
        meta = {**example.meta, "variant": {
            "source": source.name, "similarity": round(cosines[best], 6), "candidates": len(statuses[i]),
            "candidates_left": len(survivors), "tested": i in tested, "key": keys[i][:16]}}
        out.append(dataclasses.replace(example, incorrect=survivors[best], meta=meta))
    counts = _counts(examples, with_code, statuses, len(similarities))
    report = {
        "source": source.name, "source_identity": identity, "config": to_dict(config), "embedding": embedding,
        "counts": counts, "source_stats": source_stats,
        "tests": {"examples_with_tests": sum(_has_tests(e) for _, e in with_code), "examples_tested": len(tested),
                  "tests_unusable": unusable, "test_runs": len(jobs), "test_cache_hits": test_hits,
                  "verdicts": _tally(verdicts.values()), "sandbox": sandbox},
        "similarity": _summary(similarities),
        "cache": {"root": str(cache.root), "hits": len(with_code) - len(missing), "misses": len(missing)},
        "seconds": {"generation": round(generated_s, 3), "tests": round(tests_s, 3),
                    "total": round(time.perf_counter() - started, 3)},
    }
    return out, report


def _counts(examples, with_code, statuses, kept: int) -> dict:
    tally = _tally(s for i, _ in with_code for s in statuses[i])
    counts = {"examples": len(examples), "examples_with_code": len(with_code),
              "generated": sum(len(statuses[i]) for i, _ in with_code)}
    for name in ("unparsable", "identical", "duplicate", "passing_tests"):
        counts[name] = tally.get(name, 0)
    counts["candidates_left"] = tally.get("candidate", 0)
    counts["kept"] = kept
    counts["no_variant"] = len(with_code) - kept
    return counts


def _tally(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out


def _add_stats(total: dict, stats: dict) -> None:
    for name, value in stats.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total[name] = total.get(name, 0) + value


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(sum(values) / len(values), 6), "min": round(min(values), 6),
            "max": round(max(values), 6)}


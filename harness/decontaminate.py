"""Decontamination of training rows against the benchmarks a run evaluates.

Two checks, as the code-LLM data papers do them:
- n-gram overlap: whitespace-token n-grams (default 10, as BigCodeBench and the Magicoder/StarCoder pipelines use)
  of benchmark prompts, docstrings and canonical solutions are looked up in the row; the row is dropped when it
  holds at least `min_overlap` (default half) of one benchmark text's n-grams, the candidate-then-confirm rule of
  the Phi-1/Cosmopedia decontamination. A single shared n-gram is not enough: on the Evol-Instruct sample it flags
  ~10% of the rows for idioms such as `if n % i == 0: return False return True`. N-grams found in many benchmark
  tasks (imports, "You should write self-contained code") are boilerplate and left out (`max_task_frequency`).
- normalized substring: the task description (docstring text before the examples, MBPP's one-line statement,
  BigCodeBench's description), lower-cased with punctuation and whitespace folded, contained in the row's
  normalized text. This catches copies that were re-indented or re-punctuated.

The texts come from each benchmark's own loader and its `decontamination_texts` (harness/benchmarks): a new
benchmark brings its own; BigCodeBench checks the full set, which contains hard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.core.config import to_dict
from harness.core.errors import BadInput, FgitBenchError, InfraError
from harness.core.hashing import file_digest


class Example(Protocol):
    """What is checked of a training row (`plugins.api.TrainingExample` is one): a domain check, so it names no
    plugin type."""

    instruction: str
    response: str
    code: str | None
    meta: dict[str, Any]


E = TypeVar("E", bound=Example)

@dataclass
class DecontaminationConfig:
    ngram: int = 10  # whitespace tokens per n-gram
    min_overlap: float = 0.5  # share of a benchmark text's n-grams a training row must contain to be dropped
    max_task_frequency: int = 10  # n-grams found in more benchmark tasks than this are boilerplate, not evidence
    min_substring_words: int = 8  # shorter task descriptions are too generic for the substring check
    check_response: bool = True  # check the whole response (prose and code), not only the extracted code


@dataclass(frozen=True)
class BenchmarkText:
    benchmark: str
    task_id: str
    field: str  # prompt, canonical_solution, description, ...
    text: str


def benchmark_file(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The local release file a benchmark's decontamination texts come from (None: the upstream loader's own)."""
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir as resolve_data_dir

    return get_benchmark(name).decontamination_source().release_path(resolve_data_dir(data_dir))


def _load_texts(name: str, data_dir: str | Path | None) -> list[BenchmarkText]:
    """The benchmark's own loader and its own choice of texts (`Benchmark.decontamination_texts`)."""
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir as resolve_data_dir

    benchmark = get_benchmark(name).decontamination_source()
    dataset = benchmark.load(resolve_data_dir(data_dir))
    return [BenchmarkText(name, task_id, field, text) for task_id, field, text in benchmark.decontamination_texts(dataset)]


def _normalize_words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _ngrams(tokens: list[str], n: int) -> Iterator[tuple[str, ...]]:
    for i in range(len(tokens) - n + 1):
        yield tuple(tokens[i: i + n])


class ContaminationIndex:
    """N-gram postings and normalized descriptions of a set of benchmark texts, for fast lookups of training rows."""

    def __init__(self, texts: list[BenchmarkText], config: DecontaminationConfig):
        self.config = config
        self.texts = [t for t in texts if t.field != "description"]
        postings: dict[tuple[str, ...], list[int]] = {}
        for number, text in enumerate(self.texts):
            for gram in set(_ngrams(text.text.split(), config.ngram)):
                postings.setdefault(gram, []).append(number)
        # An n-gram shared by many tasks is boilerplate: it neither counts as evidence nor in the denominator.
        self.postings = {g: ids for g, ids in postings.items()
                         if len({(self.texts[i].benchmark, self.texts[i].task_id) for i in ids})
                         <= config.max_task_frequency}
        self.sizes = [0] * len(self.texts)
        for ids in self.postings.values():
            for number in ids:
                self.sizes[number] += 1
        # Substring check: descriptions keyed by their first 3 normalized words, verified with `in`.
        self.descriptions: dict[tuple[str, ...], list[tuple[str, BenchmarkText]]] = {}
        for text in texts:
            words = _normalize_words(text.text) if text.field == "description" else []
            if len(words) >= max(config.min_substring_words, 3):
                self.descriptions.setdefault(tuple(words[:3]), []).append((" ".join(words), text))

    def match(self, text: str) -> dict | None:
        """The strongest benchmark evidence in `text`, or None.

        N-gram evidence counts when the training text holds at least `min_overlap` of a benchmark text's n-grams:
        one shared idiom (`if n % i == 0: return False`) is not a copied task.
        """
        hits: dict[int, int] = {}
        first: dict[int, tuple[str, ...]] = {}
        seen: set[tuple[str, ...]] = set()
        for gram in _ngrams(text.split(), self.config.ngram):
            if gram in seen:
                continue
            seen.add(gram)
            for number in self.postings.get(gram, ()):
                hits[number] = hits.get(number, 0) + 1
                first.setdefault(number, gram)
        if hits:
            best = max(hits, key=lambda n: (hits[n] / self.sizes[n], hits[n]))
            overlap = hits[best] / self.sizes[best]
            if overlap >= self.config.min_overlap:
                return {**_evidence(self.texts[best], "ngram", " ".join(first[best])), "overlap": round(overlap, 4)}
        words = _normalize_words(text)
        padded = f" {' '.join(words)} "
        for start in _ngrams(words, 3):
            for description, owner in self.descriptions.get(start, ()):
                if f" {description} " in padded:
                    return {**_evidence(owner, "substring", description), "overlap": 1.0}
        return None


def _evidence(owner: BenchmarkText, method: str, matched: str) -> dict:
    return {"benchmark": owner.benchmark, "task_id": owner.task_id, "benchmark_field": owner.field,
            "method": method, "match": matched}


def normalize_benchmarks(names) -> list[str]:
    """Benchmark names as the CLI and run manifests spell them (registry names, or result names such as
    bigcodebench-hard) → the registry names to check."""
    from harness.benchmarks import BENCHMARKS

    result = []
    for name in names:
        name = name.strip().lower()
        if not name or name == "none":
            continue
        base = name if name in BENCHMARKS else name.split("-")[0]
        if base not in BENCHMARKS:
            raise BadInput(f"unknown benchmark {name!r} for decontamination (known: {', '.join(BENCHMARKS.names())})")
        if not BENCHMARKS.get(base).decontaminate_against:
            continue
        if base not in result:
            result.append(base)
    return result


@lru_cache(maxsize=8)
def _index(benchmarks: tuple[str, ...], files: tuple[str | None, ...], config_key: str,
           data_dir: str | None) -> ContaminationIndex:
    texts = []
    for name in benchmarks:
        try:
            texts += _load_texts(name, data_dir)
        except FgitBenchError:
            raise
        except Exception as exc:  # evalplus falls back to a download when no local file is configured
            raise InfraError(f"cannot load {name} for decontamination ({type(exc).__name__}: {exc}); point "
                             f"--data-dir / FGIT_BENCH_DATA at the directory holding its release file") from None
    return ContaminationIndex(texts, DecontaminationConfig(**json.loads(config_key)))


def decontaminate(examples: list[E], benchmarks: list[str], config: DecontaminationConfig | None = None,
                  data_dir: str | Path | None = None) -> tuple[list[E], dict]:
    """Rows free of benchmark overlap, and a report of every dropped row with its matching task and n-gram."""
    config = config or DecontaminationConfig()
    names = normalize_benchmarks(benchmarks)
    files = tuple(str(p) if (p := benchmark_file(n, data_dir)) else None for n in names)
    report = {"benchmarks": names, "config": to_dict(config), "checked": len(examples),
              "benchmark_files": {n: {"path": f, "sha256": file_digest(f)} if f else None
                                  for n, f in zip(names, files, strict=True)},
              "kept": len(examples), "dropped": []}
    if not names:
        return list(examples), report
    index = _index(tuple(names), files, json.dumps(to_dict(config), sort_keys=True),
                   str(data_dir) if data_dir else None)
    kept = []
    for position, example in enumerate(examples):
        fields = {"instruction": example.instruction,
                  "response" if config.check_response else "code": example.response if config.check_response
                  else (example.code or "")}
        found = None
        for field, text in fields.items():
            found = index.match(text)
            if found:
                report["dropped"].append({"position": position, "meta": example.meta, "train_field": field,
                                          "instruction": example.instruction[:200], **found})
                break
        if not found:
            kept.append(example)
    report["kept"] = len(kept)
    return kept, report

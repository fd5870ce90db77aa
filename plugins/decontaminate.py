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

HumanEval+ and MBPP+ come from evalplus's loaders, pointed at local files through their override variables;
BigCodeBench (full, which contains hard) is read as JSONL directly, since the bigcodebench package is optional.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.config import to_dict
from harness.errors import BadInput, FgitBenchError, InfraError
from harness.hashing import file_digest
from plugins.base import TrainingExample

BENCHMARKS = ("humaneval", "mbpp", "bigcodebench", "quixbugs")
DATA_FILES = {
    "humaneval": ("HUMANEVAL_OVERRIDE_PATH", "HumanEvalPlus-v0.1.10.jsonl.gz"),
    "mbpp": ("MBPP_OVERRIDE_PATH", "MbppPlus-v0.2.0.jsonl"),
    "bigcodebench": ("BIGCODEBENCH_OVERRIDE_PATH", "BigCodeBench-v0.1.4.jsonl.gz"),
    "quixbugs": ("FGIT_BENCH_QUIXBUGS_PATH", "QuixBugs-python.jsonl"),  # (issue 12 moves this onto the Benchmark)
}


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


def default_data_dir() -> Path | None:
    """$FGIT_BENCH_DATA, else the checkout's sibling `shared/data` (where this project keeps the release files)."""
    env = os.environ.get("FGIT_BENCH_DATA")
    if env:
        return Path(env)
    sibling = Path(__file__).resolve().parents[2] / "shared" / "data"
    return sibling if sibling.is_dir() else None


def benchmark_file(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The local release file of a benchmark: the upstream override variable wins, then the data directory."""
    variable, filename = DATA_FILES[name]
    if os.environ.get(variable):
        return Path(os.environ[variable])
    directory = Path(data_dir) if data_dir else default_data_dir()
    if directory and (directory / filename).is_file():
        return directory / filename
    return None


@contextlib.contextmanager
def _evalplus_override(module, attribute: str, variable: str, path: Path | None) -> Iterator[None]:
    """evalplus reads its override variable at import time: set both the variable and the module global."""
    if path is None:
        yield
        return
    old_env, old_attr = os.environ.get(variable), getattr(module, attribute)
    os.environ[variable] = str(path)
    setattr(module, attribute, str(path))
    try:
        yield
    finally:
        setattr(module, attribute, old_attr)
        if old_env is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = old_env


_DOCSTRING = re.compile(r'("""|\'\'\')(.*?)\1', re.S)
_EXAMPLES_START = re.compile(r"^\s*(>>>|(for )?examples?\b|e\.g\.|assert\b)", re.I | re.M)


def _description(docstring_source: str) -> str:
    """The prose of the first docstring: the text before its examples/asserts."""
    match = _DOCSTRING.search(docstring_source)
    text = match.group(2) if match else docstring_source
    cut = _EXAMPLES_START.search(text)
    return text[: cut.start()] if cut else text


def _load_humaneval(path: Path | None) -> list[BenchmarkText]:
    from evalplus.data import humaneval as module

    with _evalplus_override(module, "HUMANEVAL_OVERRIDE_PATH", "HUMANEVAL_OVERRIDE_PATH", path):
        tasks = module.get_human_eval_plus()
    texts = []
    for task_id, task in tasks.items():
        texts += [BenchmarkText("humaneval", task_id, "prompt", task["prompt"]),
                  BenchmarkText("humaneval", task_id, "canonical_solution", task["canonical_solution"]),
                  BenchmarkText("humaneval", task_id, "description", _description(task["prompt"]))]
    return texts


def _load_mbpp(path: Path | None) -> list[BenchmarkText]:
    from evalplus.data import mbpp as module

    with _evalplus_override(module, "MBPP_OVERRIDE_PATH", "MBPP_OVERRIDE_PATH", path):
        tasks = module.get_mbpp_plus()
    texts = []
    for task_id, task in tasks.items():
        texts += [BenchmarkText("mbpp", task_id, "prompt", task["prompt"]),
                  BenchmarkText("mbpp", task_id, "canonical_solution", task["canonical_solution"]),
                  BenchmarkText("mbpp", task_id, "description", _description(task["prompt"]))]
    return texts


def _load_bigcodebench(path: Path | None) -> list[BenchmarkText]:
    if path is None:
        raise BadInput("BigCodeBench data not found: set BIGCODEBENCH_OVERRIDE_PATH or FGIT_BENCH_DATA to the "
                       "directory holding BigCodeBench-v0.1.4.jsonl.gz")
    opener = gzip.open if path.suffix == ".gz" else open
    texts = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            task = json.loads(line)
            task_id = task["task_id"]
            doc = task.get("doc_struct")
            doc = json.loads(doc) if isinstance(doc, str) else (doc or {})
            texts += [BenchmarkText("bigcodebench", task_id, field, task[field])
                      for field in ("complete_prompt", "instruct_prompt", "canonical_solution") if task.get(field)]
            texts.append(BenchmarkText("bigcodebench", task_id, "description", " ".join(doc.get("description", []))))
    return texts


def _load_quixbugs(path: Path | None) -> list[BenchmarkText]:
    """The buggy and the fixed program of every task, and its docstring's prose (harness.benchmarks.quixbugs)."""
    if path is None:
        raise BadInput("QuixBugs data not found: set FGIT_BENCH_DATA to the directory holding QuixBugs-python.jsonl")
    from harness.benchmarks import get_benchmark

    problems = get_benchmark("quixbugs").load(path.parent).problems
    texts = []
    for task_id, task in problems.items():
        texts += [BenchmarkText("quixbugs", task_id, "buggy_program", task["buggy_program"]),
                  BenchmarkText("quixbugs", task_id, "canonical_solution", task["reference"]),
                  BenchmarkText("quixbugs", task_id, "description", _description(task["docstring"]))]
    return texts


_LOADERS = {"humaneval": _load_humaneval, "mbpp": _load_mbpp, "bigcodebench": _load_bigcodebench,
            "quixbugs": _load_quixbugs}


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
    """Benchmark names as the CLI and run manifests spell them → the data sets to check (hard ⊂ full)."""
    result = []
    for name in names:
        name = name.strip().lower()
        if not name or name == "none":
            continue
        base = "bigcodebench" if name.startswith(("bigcodebench", "bcb")) else name
        if base not in _LOADERS:
            raise BadInput(f"unknown benchmark {name!r} for decontamination (known: {', '.join(BENCHMARKS)})")
        if base not in result:
            result.append(base)
    return result


@lru_cache(maxsize=8)
def _index(benchmarks: tuple[str, ...], files: tuple[str | None, ...], config_key: str) -> ContaminationIndex:
    texts = []
    for name, path in zip(benchmarks, files, strict=True):
        try:
            texts += _LOADERS[name](Path(path) if path else None)
        except FgitBenchError:
            raise
        except Exception as exc:  # evalplus falls back to a download when no local file is configured
            raise InfraError(f"cannot load {name} for decontamination ({type(exc).__name__}: {exc}); point "
                             f"FGIT_BENCH_DATA at the directory holding {DATA_FILES[name][1]}") from None
    return ContaminationIndex(texts, DecontaminationConfig(**json.loads(config_key)))


def decontaminate(examples: list[TrainingExample], benchmarks: list[str], config: DecontaminationConfig | None = None,
                  data_dir: str | Path | None = None) -> tuple[list[TrainingExample], dict]:
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
    index = _index(tuple(names), files, json.dumps(to_dict(config), sort_keys=True))
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

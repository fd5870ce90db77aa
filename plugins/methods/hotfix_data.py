"""Hotfixing data: (buggy, fixed) pairs, decontaminated against the benchmarks, split into train / validation /
held-out test pairs.

Sources (`pairs`, comma-separated): `quixbugs` (../shared/data/QuixBugs-python.jsonl, 40 one-line bugs),
`humanevalpack` (HumanEvalPack-python.jsonl, 164 buggy/correct programs), or a path to a JSONL file of pairs:
QuixBugs or HumanEvalPack rows, or rows with `buggy` and `fixed` (code) and optionally `instruction`.

HumanEvalPack pairs ARE HumanEval tasks (Python/N = HumanEval/N). Two honest ways to train on them, set by
`benchmark_overlap`:
- `drop` (default): every HumanEvalPack pair is dropped when HumanEval is checked (by task identity: the
  10-gram rule alone keeps most of them, their solutions being short), and the 10-gram decontamination drops
  every other pair that overlaps a benchmark;
- `exclude_tasks`: HumanEvalPack pairs are kept and not decontaminated against HumanEval; their HumanEval task ids
  go into the artifact (`hotfix.exclude_tasks`) and the leaderboard drops those tasks for every variant
  (the plugin's `trained_tasks`), so no score counts a task the model was trained on. HumanEvalPack pairs that
  are used because HumanEval is not checked (`decontaminate_against` without it) are excluded the same way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import BadInput
from harness.core.hashing import file_digest
from plugins.api import TrainingExample
from plugins.training.training_data import _read_jsonl, fenced, load_pairs_file, make_example

NAMED_SOURCES = {"quixbugs": "QuixBugs-python.jsonl", "humanevalpack": "HumanEvalPack-python.jsonl"}
OVERLAP_POLICIES = ("drop", "exclude_tasks")


@dataclass
class PairSplit:
    train: list[TrainingExample]
    validation: list[TrainingExample]
    test: list[TrainingExample]
    report: dict


def _generic_pairs(rows: list[dict], source: str) -> list[TrainingExample]:
    examples = []
    for index, row in enumerate(rows):
        buggy, fixed = row.get("buggy"), row.get("fixed")
        if not isinstance(buggy, str) or not isinstance(fixed, str):
            raise BadInput(f"{source}: row {index} needs string fields 'buggy' and 'fixed' (or the QuixBugs / "
                           "HumanEvalPack columns)")
        instruction = row.get("instruction") or "Write the following Python code."
        example = make_example(instruction, fenced(fixed.strip("\n").rstrip()),
                               {"source": Path(source).name, "row": index, "task": row.get("task_id", str(index)),
                                "pair_format": "generic"}, incorrect=buggy.strip("\n").rstrip())
        if example is None:
            raise BadInput(f"{source}: row {index}: empty fixed code")
        examples.append(example)
    return examples


def pair_source_path(name: str, data_dir: str | Path | None = None) -> Path:
    from harness.core.data import data_dir as resolve_data_dir

    if name in NAMED_SOURCES:
        directory = resolve_data_dir(data_dir)
        path = directory / NAMED_SOURCES[name] if directory else None
        if path is None or not path.is_file():
            raise BadInput(f"hotfix pairs {name!r}: {NAMED_SOURCES[name]} not found in the data directory "
                           f"({directory}); set FGIT_BENCH_DATA")
        return path
    path = Path(name)
    if not path.is_file():
        raise BadInput(f"hotfix pairs {name!r}: not a file and not one of {', '.join(NAMED_SOURCES)}")
    return path


def load_pair_source(name: str, data_dir: str | Path | None = None) -> list[TrainingExample]:
    path = pair_source_path(name, data_dir)
    if name in NAMED_SOURCES:
        return load_pairs_file(path)
    rows = _read_jsonl(path)
    if not rows:
        raise BadInput(f"hotfix pairs {path}: empty")
    if {"buggy", "fixed"} <= rows[0].keys():
        return _generic_pairs(rows, str(path))
    return load_pairs_file(path)


def humaneval_task(example: TrainingExample) -> str | None:
    """The HumanEval task id a HumanEvalPack pair is (Python/12 → HumanEval/12)."""
    if example.meta.get("pair_format") != "humanevalpack":
        return None
    return "HumanEval/" + str(example.meta["task"]).rsplit("/", 1)[-1]


def _decontaminate(examples: list[TrainingExample], benchmarks: list[str], overlap: str, data_dir):
    from harness.decontaminate import decontaminate, normalize_benchmarks

    names = normalize_benchmarks(benchmarks)
    if overlap == "exclude_tasks" and "humaneval" in names:
        ours = [e for e in examples if humaneval_task(e)]
        others = [e for e in examples if not humaneval_task(e)]
        rest = [n for n in names if n != "humaneval"]
        kept_ours, report_ours = decontaminate(ours, rest, data_dir=data_dir)
        kept_others, report = decontaminate(others, names, data_dir=data_dir)
        report = {"humanevalpack_pairs": report_ours, "other_pairs": report}
        kept = [e for e in examples if e in kept_ours or e in kept_others]
        return kept, report
    identity = []
    if "humaneval" in names:  # by identity: the 10-gram rule misses short solutions (no 10-gram, or too few)
        identity = [humaneval_task(e) for e in examples if humaneval_task(e)]
        examples = [e for e in examples if not humaneval_task(e)]
    kept, report = decontaminate(examples, names, data_dir=data_dir)
    report["dropped_as_humaneval_tasks"] = identity
    return kept, report


def _sizes(n: int, validation: float, test: float) -> tuple[int, int]:
    if n < 3:
        raise BadInput(f"hotfix needs at least 3 pairs (train, validation, held-out test), got {n}")
    n_val = max(1, round(validation * n))
    n_test = max(1, round(test * n))
    return n_val, n_test


def prepare_pairs(sources: str, *, benchmarks: list[str], overlap: str, max_pairs: int | None, validation: float,
                  test: float, seed: int, data_dir: str | Path | None = None) -> PairSplit:
    """Load every source, drop pairs whose fix equals the bug, decontaminate, shuffle (seeded), limit, split."""
    if overlap not in OVERLAP_POLICIES:
        raise BadInput(f"benchmark_overlap must be one of {', '.join(OVERLAP_POLICIES)}, got {overlap!r}")
    examples: list[TrainingExample] = []
    names = [s.strip() for s in sources.split(",") if s.strip()]
    if not names:
        raise BadInput("hotfix: no pair source given (pairs = \"quixbugs\", \"humanevalpack\" or a JSONL path)")
    files = {}
    for name in names:
        examples += load_pair_source(name, data_dir)
        path = pair_source_path(name, data_dir)
        files[name] = {"path": str(path), "sha256": file_digest(path)}
    loaded = len(examples)
    examples = [e for e in examples if e.incorrect and e.incorrect.strip() != (e.code or "").strip()]
    identical = loaded - len(examples)
    kept, contamination = _decontaminate(examples, benchmarks, overlap, data_dir)
    order = list(range(len(kept)))
    random.Random(seed).shuffle(order)
    chosen = [kept[i] for i in order][: max_pairs or None]
    n_val, n_test = _sizes(len(chosen), validation, test)
    test_set, val_set, train_set = chosen[:n_test], chosen[n_test: n_test + n_val], chosen[n_test + n_val:]
    if not train_set:
        raise BadInput(f"hotfix: {len(chosen)} pairs leave none to train on after {n_test} test and {n_val} "
                       "validation pairs")
    # Whatever the policy: a HumanEval task trained on (or used to pick the checkpoint) is excluded from the scores
    used = {humaneval_task(e) for e in train_set + val_set} - {None}
    exclude = {"humaneval": sorted(used)} if used else {}
    report = {"sources": names, "source_files": files, "loaded": loaded, "identical_dropped": identical,
              "after_decontamination": len(kept), "used": len(chosen), "train": len(train_set),
              "validation": len(val_set), "test": len(test_set), "benchmark_overlap": overlap,
              "decontamination": contamination, "exclude_tasks": exclude,
              "test_tasks": [e.meta.get("task") for e in test_set]}
    return PairSplit(train_set, val_set, test_set, report)

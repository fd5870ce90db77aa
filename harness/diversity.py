"""Diversity of a task's n samples (issue 25, Build 3): which programs are the same, and how alike they are.

- Two samples are the same program when their normalised forms are equal: the normaliser of QuixBugs' exact match
  (harness/benchmarks/repair_match.py: logical lines by Python's tokenizer, so whitespace, blank lines, comments
  and docstrings do not count); a text that does not tokenize is compared as it is. `program_id` names that form.
- Pairwise similarity: 1 − Levenshtein distance / the longer length (python-Levenshtein), over every pair of the
  task's n programs (as written), averaged; 1.0 for identical samples, None for n = 1.
"""

from __future__ import annotations

import hashlib
import itertools

from harness.benchmarks.repair_match import logical_lines


def normalised(program: str) -> str:
    lines = logical_lines(program)
    if lines is None:
        return "\0raw\0" + program
    return "\n".join(f"{depth}\t{text}" for depth, text in lines)


def program_id(program: str) -> str:
    return hashlib.sha256(normalised(program).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def pairwise_similarity(programs: list[str]) -> float | None:
    """Mean normalised edit similarity over all pairs (distinct texts computed once)."""
    import Levenshtein

    if len(programs) < 2:
        return None
    memo: dict[tuple[str, str], float] = {}
    total = 0.0
    pairs = 0
    for a, b in itertools.combinations(programs, 2):
        if a == b:
            value = 1.0
        else:
            key = (a, b) if a < b else (b, a)
            if key not in memo:
                memo[key] = 1.0 - Levenshtein.distance(a, b) / max(len(a), len(b))
            value = memo[key]
        total += value
        pairs += 1
    return total / pairs

"""`mutation` variant source: mutants of the correct code from universalmutator (the paper's rule-based baseline).

universalmutator's `mutate` command writes each mutant to a file and checks it by compiling it; we call the same
library functions in process instead (no temp files, no subprocess): `mutator.mutants_regexp` applies its
regexp rules (universal.rules + python.rules; the comby mode needs the comby binary, which is not used), and a
mutant is kept under the rule of its Python handler: it must compile, and its bytecode (`python_handler.buildCode`,
which ignores string constants) must differ from the original's and from every earlier mutant's ("redundant"
otherwise). Mutants inside string literals are skipped, as `mutate` does without --mutateInStrings.

Scope (`mutation_scope`): "definitions" (default) mutates only the lines of top-level functions and classes
when the code has any, because instruction-tuning responses usually end with example usage (`print(f(5))`,
sample data) whose mutants are not bugs of the solution; code without definitions is mutated everywhere.
"all" mutates every line, as `mutate` does.

From the valid mutants, `n_candidates` are drawn at random with a seed derived from `config.seed` and the code,
so a run is reproducible; the shared pipeline then applies the tests and the embedding selection.
"""

from __future__ import annotations

import ast
import contextlib
import io
import random
import warnings

from harness.core.hashing import json_digest, text_digest
from harness.core.provenance import package_version
from plugins.api import TrainingExample
from plugins.training.variants import VARIANT_SOURCES, OnCandidates, VariantSource


def _rules_text(rule_files: list[str]) -> str:
    from importlib import resources

    texts = []
    for name in rule_files:
        try:
            texts.append(resources.files("universalmutator").joinpath("static", name).read_text("utf-8"))
        except FileNotFoundError:
            raise ValueError(f"universalmutator has no rule file {name!r}") from None
    return "\n".join(texts)


SCOPES = ("definitions", "all")


def definition_lines(code: str) -> set[int] | None:
    """Line numbers (1-based) of the top-level functions and classes, decorators included; None when the code
    has none or does not parse (then every line is in scope)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    lines: set[int] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines.update(range(first, (node.end_lineno or node.lineno) + 1))
    return lines or None


def all_mutants(code: str, rule_files: list[str], scope: str = "definitions") -> tuple[list[str], dict]:
    """Every valid, non-redundant mutant of `code` in universalmutator's order, and the counts per outcome:
    rule_mutants = out_of_scope + invalid + redundant + valid."""
    from universalmutator import mutator
    from universalmutator.python_handler import buildCode

    if scope not in SCOPES:
        raise ValueError(f"mutation_scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    lines = (code if code.endswith("\n") else code + "\n").splitlines(keepends=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the library reports progress on stdout
        raw = mutator.mutants_regexp(lines, ruleFiles=rule_files, ignorePatterns=[], ignoreStringOnly=True)
    in_scope = definition_lines(code) if scope == "definitions" else None
    stats = {"rule_mutants": len(raw), "out_of_scope": 0, "invalid": 0, "redundant": 0, "valid": 0}
    try:
        seen = {buildCode(compile(code, "<original>", "exec"))}
    except (SyntaxError, ValueError):
        seen = set()  # the correct code does not compile: nothing can be redundant with it
    mutants = []
    for line_number, new_line, _rule, _pattern in raw:
        if in_scope is not None and line_number not in in_scope:
            stats["out_of_scope"] += 1
            continue
        mutant = "".join(lines[: line_number - 1]) + new_line + "".join(lines[line_number:])
        if not code.endswith("\n"):
            mutant = mutant[:-1] if mutant.endswith("\n") else mutant
        try:
            with warnings.catch_warnings():  # e.g. `(5+1)(x)`: "'int' object is not callable" is a mutant's right
                warnings.simplefilter("ignore", SyntaxWarning)
                compiled = compile(mutant, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            stats["invalid"] += 1
            continue
        signature = buildCode(compiled)
        if signature in seen:
            stats["redundant"] += 1
            continue
        seen.add(signature)
        mutants.append(mutant)
    stats["valid"] = len(mutants)
    return mutants, stats


@VARIANT_SOURCES.register("mutation")
class MutationSource(VariantSource):
    name = "mutation"

    def __init__(self, config, model_ref=None):
        super().__init__(config, model_ref)
        self.rule_files = [r if r.endswith(".rules") else f"{r}.rules" for r in config.mutation_rules]

    def identity(self) -> dict:
        version = package_version("universalmutator", "absent")
        return {"source": self.name, "tool": "universalmutator", "version": version, "mode": "regexp",
                "rules": self.rule_files, "rules_hash": text_digest(_rules_text(self.rule_files)),
                "scope": self.config.mutation_scope,
                "checks": "compile + bytecode redundancy; strings not mutated"}

    def key_fields(self) -> dict:
        return {"n_candidates": self.config.n_candidates, "seed": self.config.seed}

    def generate(self, jobs: list[tuple[int, TrainingExample]], on_candidates: OnCandidates) -> None:
        for index, example in jobs:
            mutants, stats = all_mutants(example.code, self.rule_files, self.config.mutation_scope)
            seed = int(json_digest([self.config.seed, example.code])[:16], 16)
            chosen = sorted(random.Random(seed).sample(range(len(mutants)), min(self.config.n_candidates,
                                                                                  len(mutants))))
            self.generated += 1
            on_candidates(index, [mutants[k] for k in chosen], {**stats, "drawn": len(chosen)})

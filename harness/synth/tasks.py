"""Atoms and composites as task candidates: chains, inputs, prompts, reference solutions, training text.

A composite chains 2-3 atoms whose types fit: the first takes the task's arguments, each next one (unary) takes
the previous result. Its docstring is generated from the atoms' phrases; its reference solution calls the atoms'
own sources, appended after the function. Nothing here runs code: expected outputs are computed in the sandbox
(harness.synth.build).
"""

from __future__ import annotations

import random
import textwrap
from dataclasses import dataclass

from harness.generation.prompts import INSTRUCTION_PREFIX, RESPONSE_PREFIX
from harness.synth.atoms import ATOMS, Atom
from harness.synth.inputs import BY_TYPE, GENERATORS, canonical

PREFIX = "Synth"  # task ids: Synth/<entry point>


@dataclass
class Candidate:
    chain: tuple[str, ...]  # atom names, applied first to last
    split: str  # train | test | atoms-held-out
    inputs: list[list] | None = None

    @property
    def atoms(self) -> list[Atom]:
        return [ATOMS[name] for name in self.chain]

    @property
    def kind(self) -> str:
        return "atom" if len(self.chain) == 1 else "composite"

    @property
    def entry_point(self) -> str:
        return "_then_".join(self.chain) if len(self.chain) > 1 else self.chain[0]

    @property
    def task_id(self) -> str:
        return f"{PREFIX}/{self.entry_point}"


def next_atoms(previous: Atom, used: set[str], allowed: set[str]) -> list[str]:
    """Unary atoms that accept `previous`'s result, in name order (deterministic for the seeded draw)."""
    return sorted(a.name for a in ATOMS.values() if a.arity == 1 and a.params[0][1] == previous.returns
                  and a.name not in used and a.name in allowed)


def draw_chain(rng: random.Random, allowed: set[str], must_include: set[str] | None = None,
               max_length: int = 3) -> tuple[str, ...] | None:
    """One random chain of 2..max_length atoms from `allowed` (containing one of `must_include` when given)."""
    length = rng.randint(2, max_length)
    names = sorted(allowed)
    position = rng.randrange(length) if must_include else -1
    chain: list[str] = []
    for step in range(length):
        if step == 0:
            pool = names
        else:
            pool = next_atoms(ATOMS[chain[-1]], set(chain), allowed)
        if step == position:
            pool = [n for n in pool if n in must_include]
        if not pool:
            return None
        chain.append(rng.choice(pool))
    return tuple(chain)


def draw_inputs(atom: Atom, rng: random.Random, count: int) -> list[list]:
    """Up to `count` distinct argument lists for `atom` (its own generator, else one per parameter type)."""
    seen, inputs = set(), []
    for _ in range(count * 6):
        if atom.generator:
            args = [GENERATORS[atom.generator](rng)]
        else:
            args = [BY_TYPE[kind](rng) for _, kind in atom.params]
        key = canonical(args)
        if key not in seen:
            seen.add(key)
            inputs.append(args)
        if len(inputs) == count:
            break
    return inputs


def _phrase(atom: Atom, subject: str) -> str:
    text = atom.phrase.format(x=subject)
    return text[0].upper() + text[1:]


def describe(candidate: Candidate) -> str:
    """The docstring text (without examples) of an atomic or composite task."""
    first = candidate.atoms[0]
    subject = f"`{first.params[0][0]}`"
    if candidate.kind == "atom":
        return _phrase(first, subject) + "."
    steps = [_phrase(first, subject)] + [_phrase(a, "the previous result") for a in candidate.atoms[1:]]
    lines = ["Apply these steps in order, each to the result of the step before, and return the last result:"]
    lines += [f"{i}. {step}." for i, step in enumerate(steps, 1)]
    return "\n".join(lines)


def signature(candidate: Candidate) -> str:
    first, last = candidate.atoms[0], candidate.atoms[-1]
    params = ", ".join(f"{name}: {kind}" for name, kind in first.params)
    return f"def {candidate.entry_point}({params}) -> {last.returns}:"


def prompt(candidate: Candidate, examples: list[tuple[list, object]]) -> str:
    """HumanEval-style prompt: signature and docstring with doctest examples."""
    body = []
    for paragraph in describe(candidate).split("\n"):
        body += textwrap.wrap(paragraph, 100, subsequent_indent="   " if paragraph[:1].isdigit() else "") or [""]
    for args, output in examples:
        body += ["", f">>> {candidate.entry_point}({', '.join(repr(a) for a in args)})", repr(output)]
    doc = "\n".join(("    " + line) if line else "" for line in body)
    return f'{signature(candidate)}\n    """\n{doc}\n    """\n'


def canonical_solution(candidate: Candidate) -> str:
    """The body completing `prompt`, then the atoms' reference sources (looked up when the function is called)."""
    first = candidate.atoms[0]
    call = f"{first.name}({', '.join(name for name, _ in first.params)})"
    for a in candidate.atoms[1:]:
        call = f"{a.name}({call})"
    if candidate.kind == "atom":
        return "\n".join(first.source.splitlines()[1:]) + "\n"  # the body after the signature line
    helpers = "\n\n\n".join(a.source.rstrip("\n") for a in candidate.atoms)
    return f"    return {call}\n\n\n{helpers}\n"


def training_text(task_prompt: str, solution: str) -> tuple[str, str]:
    """(instruction, response) in the evaluation's own chat format (harness.generation.prompts: the fenced task in
    the user turn, the response prefix and a python fence in the answer), so SFT trains on what evaluation asks."""
    instruction = f"{INSTRUCTION_PREFIX}\n```\n{task_prompt.strip()}\n```\n"
    response = f"{RESPONSE_PREFIX}\n```python\n{solution.strip(chr(10))}\n```"
    return instruction, response

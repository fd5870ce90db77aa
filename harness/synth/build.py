"""`fgit-bench synth`: the seeded synthetic task set (atoms + composites), validated in the sandbox, split, written.

Splits (seed-methods.md §3: train and test disjoint by construction):
- `atoms-held-out`: a seeded fraction of the atoms never appears in train, neither alone nor in a composite;
  composites containing at least one of them form this split.
- `train`: every other atom as a task of its own, plus a share of the composites drawn from those atoms;
- `test`: the rest of those composites. Every drawn chain is distinct, so no test composite uses a train
  composite's exact chain (checked again before writing).
Expected outputs come from running each reference in the sandbox, twice: a task whose reference raises, times out,
returns something that JSON cannot carry exactly, answers differently the second time (nondeterministic), or
answers every input alike (a test that cannot fail) is dropped, with its reason in the manifest. Prompts that
overlap HumanEval+/MBPP+ (harness.decontaminate's rules) are dropped too.

Output: DIR/train.jsonl, DIR/test.jsonl (one task per line, sorted keys) and DIR/manifest.json (config, seed,
splits, dropped tasks, sha256 of both files). Same seed and settings → byte-identical files.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.core.atomic import write_json, write_text
from harness.core.errors import BadInput, InfraError
from harness.core.hashing import file_digest, json_digest, text_digest
from harness.synth.atoms import ATOMS
from harness.synth.inputs import canonical, json_exact
from harness.synth.tasks import Candidate, canonical_solution, draw_chain, draw_inputs, prompt, training_text
from sandboxes.guest.codec import CodecError, decode

SYNTH_FORMAT = 1  # bump when the task layout or the generation rules change
SPLITS = ("train", "test", "atoms-held-out")


@dataclass
class SynthConfig:
    seed: int = 0
    held_out_atom_fraction: float = 0.1
    composites: int = 160  # composites drawn from the non-held-out atoms, before validation (train + test)
    test_fraction: float = 0.25  # of those, the share that goes to test
    held_out_composites: int = 40  # composites with at least one held-out atom
    inputs_per_task: int = 12
    base_inputs: int = 3  # the first inputs are the "base" tests, the rest the "plus" tests (evalplus's layout)
    doc_examples: int = 2  # doctest examples in the prompt (from the base inputs)
    max_chain: int = 3
    reference_seconds: float = 2.0  # a reference slower than this on all its inputs together is dropped

    def __post_init__(self):
        if not 0 < self.held_out_atom_fraction < 1 or not 0 < self.test_fraction < 1:
            raise BadInput("held_out_atom_fraction and test_fraction must lie strictly between 0 and 1")
        if min(self.composites, self.held_out_composites, self.inputs_per_task, self.base_inputs) < 1:
            raise BadInput("composites, held_out_composites, inputs_per_task and base_inputs must be at least 1")
        if self.base_inputs >= self.inputs_per_task or not 2 <= self.max_chain <= 3:
            raise BadInput("base_inputs must be below inputs_per_task, and max_chain 2 or 3")


def atoms_digest() -> str:
    """Hash of every atom's reference and phrase: a changed atom is a different task set."""
    return json_digest([[a.name, a.phrase, a.source, a.generator] for a in ATOMS.values()])


def draw_candidates(config: SynthConfig) -> tuple[list[Candidate], list[str]]:
    """Every candidate task with its split and inputs, and the held-out atoms; all from `config.seed`."""
    rng = random.Random(config.seed)
    names = sorted(ATOMS)
    held = sorted(rng.sample(names, max(1, round(config.held_out_atom_fraction * len(names)))))
    seen_atoms = set(names) - set(held)
    candidates = [Candidate((name,), "train") for name in sorted(seen_atoms)]
    chains: list[tuple[str, ...]] = []
    for _ in range(config.composites * 50):
        if len(chains) == config.composites:
            break
        chain = draw_chain(rng, seen_atoms, max_length=config.max_chain)
        if chain and chain not in chains:
            chains.append(chain)
    order = list(range(len(chains)))
    rng.shuffle(order)
    n_test = max(1, round(config.test_fraction * len(chains)))
    test = set(order[:n_test])
    candidates += [Candidate(chain, "test" if i in test else "train") for i, chain in enumerate(chains)]
    held_chains: list[tuple[str, ...]] = []
    for _ in range(config.held_out_composites * 50):
        if len(held_chains) == config.held_out_composites:
            break
        chain = draw_chain(rng, set(names), must_include=set(held), max_length=config.max_chain)
        if chain and chain not in held_chains and chain not in chains:
            held_chains.append(chain)
    candidates += [Candidate(chain, "atoms-held-out") for chain in held_chains]
    for candidate in candidates:
        candidate.inputs = draw_inputs(candidate.atoms[0], rng, config.inputs_per_task)
    return candidates, held


def _payload(candidate: Candidate, config: SynthConfig) -> dict:
    """An `evalplus_groundtruth` job (sandboxes.guest.jobs): the reference on every input, with times."""
    return {"prompt": prompt(candidate, []), "canonical_solution": canonical_solution(candidate),
            "entry_point": candidate.entry_point, "base_input": candidate.inputs[: config.base_inputs],
            "plus_input": candidate.inputs[config.base_inputs:], "output_not_none": False}


def run_references(candidates: list[Candidate], config: SynthConfig, sandbox) -> dict[str, tuple[dict | None, str]]:
    """task_id -> (outputs {"base": [...], "plus": [...]}, "") or (None, why it is dropped). Each reference runs
    twice, as two jobs, so a nondeterministic one shows."""
    payloads = [_payload(c, config) for c in candidates for _ in range(2)]
    timeouts = [config.reference_seconds + 10.0] * len(payloads)
    results: dict[int, object] = dict(sandbox.run("evalplus_groundtruth", payloads, timeouts))
    verdicts = {}
    for index, candidate in enumerate(candidates):
        first, second = results[2 * index], results[2 * index + 1]
        verdicts[candidate.task_id] = _judge_reference(first, second, config)
    return verdicts


def _judge_reference(first, second, config: SynthConfig) -> tuple[dict | None, str]:
    for result in (first, second):
        if result.error:
            return None, f"reference failed: {result.error} {(result.detail or '').splitlines()[0][:200]}"
    try:  # the job returns expected outputs as codec data (sandboxes/guest/codec.py): decoding runs no code
        outputs = {split: [decode(item) for item in first.value[split]] for split in ("base", "plus")}
    except CodecError as exc:
        return None, f"reference output cannot be decoded ({exc})"
    if not json_exact(outputs["base"] + outputs["plus"]):
        return None, "reference output is not JSON-exact (tuple, set, non-string key, NaN ...)"
    if any(canonical(first.value[s]) != canonical(second.value[s]) for s in ("base", "plus")):
        return None, "reference is nondeterministic (two runs gave different outputs)"
    if min(sum(first.value["base_time"]) + sum(first.value["plus_time"]),
           sum(second.value["base_time"]) + sum(second.value["plus_time"])) > config.reference_seconds:
        return None, f"reference slower than {config.reference_seconds:g}s on its inputs"
    if len({canonical(o) for o in outputs["base"] + outputs["plus"]}) < 2:
        return None, "every input gives the same output (a test that cannot fail)"
    return outputs, ""


def task_row(candidate: Candidate, outputs: dict, config: SynthConfig) -> dict:
    base = candidate.inputs[: config.base_inputs]
    examples = list(zip(base, outputs["base"], strict=True))[: config.doc_examples]
    task_prompt = prompt(candidate, examples)
    solution = canonical_solution(candidate)
    instruction, response = training_text(task_prompt, task_prompt + solution)
    return {
        "task_id": candidate.task_id, "split": candidate.split, "kind": candidate.kind, "chain": list(candidate.chain),
        "instruction": instruction, "response": response,
        "task": {"task_id": candidate.task_id, "prompt": task_prompt, "canonical_solution": solution,
                 "entry_point": candidate.entry_point, "base_input": base,
                 "plus_input": candidate.inputs[config.base_inputs:], "atol": 0,
                 "expected_base": outputs["base"], "expected_plus": outputs["plus"]},
    }


@dataclass
class _Row:
    """A task as decontamination checks it (`harness.decontaminate.Example`)."""

    instruction: str
    response: str
    meta: dict
    code: str | None = None


def _decontaminate(rows: list[dict], data_dir) -> tuple[list[dict], list[dict], dict]:
    from harness.decontaminate import decontaminate

    examples = [_Row(instruction=r["task"]["prompt"], response=r["response"], meta={"task_id": r["task_id"]})
                for r in rows]
    kept, report = decontaminate(examples, ["humaneval", "mbpp"], data_dir=data_dir)
    kept_ids = {e.meta["task_id"] for e in kept}
    dropped = [{"task_id": d["meta"]["task_id"], "reason": f"overlaps {d['benchmark']} {d['task_id']} "
                f"({d['method']})"} for d in report["dropped"]]
    summary = {"benchmarks": report["benchmarks"], "benchmark_files": report["benchmark_files"],
               "checked": report["checked"], "dropped": len(dropped)}
    return [r for r in rows if r["task_id"] in kept_ids], dropped, summary


def check_disjoint(rows: list[dict]) -> None:
    """The split guarantees, asserted on what is about to be written (a violation is a bug here, never data)."""
    chains = {split: {tuple(r["chain"]) for r in rows if r["split"] == split} for split in SPLITS}
    train_atoms = {a for chain in chains["train"] for a in chain}
    held_rows = [r for r in rows if r["split"] == "atoms-held-out"]
    if chains["train"] & chains["test"] or chains["train"] & chains["atoms-held-out"]:
        raise InfraError("synth: a test chain is also a train chain")
    if any(set(r["chain"]).issubset(train_atoms) for r in held_rows):
        raise InfraError("synth: an atoms-held-out task uses only train atoms")


def synthesize(config: SynthConfig, output: Path, sandbox, data_dir=None) -> dict:
    """Build, validate, split and write the task set into `output` (published by one rename); returns the
    manifest."""
    candidates, held = draw_candidates(config)
    verdicts = run_references(candidates, config, sandbox)
    dropped = [{"task_id": c.task_id, "reason": verdicts[c.task_id][1]} for c in candidates
               if verdicts[c.task_id][0] is None]
    rows = [task_row(c, verdicts[c.task_id][0], config) for c in candidates if verdicts[c.task_id][0] is not None]
    rows, contaminated, decontamination = _decontaminate(rows, data_dir)
    check_disjoint(rows)
    files = {"train.jsonl": [r for r in rows if r["split"] == "train"],
             "test.jsonl": [r for r in rows if r["split"] != "train"]}
    staging = output.parent / f".{output.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    import json

    for name, file_rows in files.items():
        write_text(staging / name, "".join(json.dumps(r, sort_keys=True) + "\n" for r in file_rows))
    hashes = {name: file_digest(staging / name) for name in files}
    manifest = {
        "format": SYNTH_FORMAT, "seed": config.seed, "config": asdict(config), "atoms": len(ATOMS),
        "atoms_sha256": atoms_digest(), "held_out_atoms": held,
        "splits": {split: [r["task_id"] for r in rows if r["split"] == split] for split in SPLITS},
        "counts": {split: {kind: sum(r["split"] == split and r["kind"] == kind for r in rows)
                           for kind in ("atom", "composite")} for split in SPLITS},
        "dropped": dropped + contaminated, "decontamination": decontamination,
        "files": hashes, "hash": text_digest(hashes["train.jsonl"] + hashes["test.jsonl"]),
        "sandbox": sandbox.describe().get("backend"),
    }
    write_json(staging / "manifest.json", manifest)
    if output.exists():
        shutil.rmtree(output)
    os.rename(staging, output)
    return manifest

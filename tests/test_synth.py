"""`fgit-bench synth` and the `composite` benchmark: reproducible, disjoint splits, references that pass their own
tests in the sandbox, expected outputs equal to calling the atoms directly, failing references dropped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.core.hashing import file_digest
from harness.synth import atoms as atoms_module
from harness.synth.atoms import ATOMS, atom
from harness.synth.build import SynthConfig, run_references, synthesize
from harness.synth.tasks import Candidate
from tests.conftest import read_jsonl, run_cli, write_jsonl
from tests.sandbox_fixtures import open_sandbox

SMALL = {"composites": 24, "held_out_composites": 8}


@pytest.fixture(scope="module")
def sandbox():
    box = open_sandbox("docker", jobs=2)
    yield box
    box.close()


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory) -> Path:
    """Written by the real command."""
    out = tmp_path_factory.mktemp("synth") / "seed7"
    proc = run_cli("synth", "--seed", "7", "--output", str(out), "--composites", str(SMALL["composites"]),
                   "--held-out-composites", str(SMALL["held_out_composites"]), "--sandbox", "docker", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == {"train.jsonl", "test.jsonl", "manifest.json"}
    assert "hash" in proc.stdout
    return out


def test_atoms_are_many_and_typed():
    assert len(ATOMS) >= 60
    families = {a.params[0][1] for a in ATOMS.values()}
    assert {"int", "list[int]", "str", "list[str]", "dict[str, int]"} <= families


def test_same_seed_same_files_and_recorded_hash(synth_set, tmp_path, sandbox):
    manifest = json.loads((synth_set / "manifest.json").read_text())
    again = tmp_path / "again"
    synthesize(SynthConfig(seed=7, **SMALL), again, sandbox)
    for name in ("train.jsonl", "test.jsonl"):
        assert (again / name).read_bytes() == (synth_set / name).read_bytes()
        assert manifest["files"][name] == file_digest(synth_set / name)
    assert json.loads((again / "manifest.json").read_text())["hash"] == manifest["hash"]
    other = tmp_path / "other"
    synthesize(SynthConfig(seed=8, **SMALL), other, sandbox)
    assert json.loads((other / "manifest.json").read_text())["hash"] != manifest["hash"]


def test_splits_are_disjoint(synth_set):
    manifest = json.loads((synth_set / "manifest.json").read_text())
    train, test = read_jsonl(synth_set / "train.jsonl"), read_jsonl(synth_set / "test.jsonl")
    assert {r["split"] for r in train} == {"train"} and {r["split"] for r in test} == {"test", "atoms-held-out"}
    held = set(manifest["held_out_atoms"])
    assert held
    train_chains = {tuple(r["chain"]) for r in train}
    assert not train_chains & {tuple(r["chain"]) for r in test}
    assert not {a for r in train for a in r["chain"]} & held  # held-out atoms never seen in training
    assert all(set(r["chain"]) & held for r in test if r["split"] == "atoms-held-out")
    assert all(not set(r["chain"]) & held for r in test if r["split"] == "test")
    assert sum(r["kind"] == "atom" for r in train) == len(ATOMS) - len(held) - sum(
        d["task_id"].split("/")[1] in ATOMS for d in manifest["dropped"])
    assert sum(r["kind"] == "composite" for r in train) > 0 and any(r["split"] == "test" for r in test)
    ids = [r["task_id"] for r in train + test]
    assert len(ids) == len(set(ids))
    assert manifest["splits"]["train"] == [r["task_id"] for r in train]


def test_expected_outputs_equal_calling_the_atoms(synth_set):
    """The file's outputs (computed in the sandbox from the sources) equal calling the atom functions here."""
    rows = read_jsonl(synth_set / "train.jsonl") + read_jsonl(synth_set / "test.jsonl")
    for row in rows:
        task = row["task"]
        for split in ("base", "plus"):
            for args, expected in zip(task[f"{split}_input"], task[f"expected_{split}"], strict=True):
                value = getattr(atoms_module, row["chain"][0])(*json.loads(json.dumps(args)))
                for name in row["chain"][1:]:
                    value = getattr(atoms_module, name)(value)
                assert json.dumps(value, sort_keys=True) == json.dumps(expected, sort_keys=True), row["task_id"]
        assert 1 <= len(task["base_input"]) <= 3 and (task["plus_input"] or row["chain"][0].startswith("bool_"))


def test_every_reference_passes_its_own_tests(synth_set, tmp_path, sandbox, monkeypatch):
    from harness.evaluation import EvaluateConfig, evaluate

    monkeypatch.setenv("FGIT_BENCH_SYNTH", str(synth_set))
    for subset, name in (("full", "test.jsonl"), ("train", "train.jsonl")):
        rows = read_jsonl(synth_set / name)
        samples = [{"task_id": r["task_id"], "solution": r["task"]["prompt"] + r["task"]["canonical_solution"]}
                   for r in rows]
        write_jsonl(tmp_path / f"{subset}.jsonl", samples)
        evaluate(EvaluateConfig(benchmark="composite", subset=subset, samples=str(tmp_path / f"{subset}.jsonl"),
                                output=str(tmp_path / f"eval-{subset}")), sandbox=sandbox, quiet=True)
        results = read_jsonl(tmp_path / f"eval-{subset}" / "results.jsonl")
        assert len(results) == len(rows)
        assert all(r["base_pass"] and r["plus_pass"] for r in results), [r for r in results if not r["plus_pass"]]
    # the same path fails a wrong solution
    wrong = {"task_id": rows[0]["task_id"], "solution": rows[0]["task"]["prompt"] + "    return None\n"}
    write_jsonl(tmp_path / "wrong.jsonl", [wrong])
    evaluate(EvaluateConfig(benchmark="composite", subset="train", samples=str(tmp_path / "wrong.jsonl"),
                            output=str(tmp_path / "eval-wrong")), sandbox=sandbox, quiet=True)
    assert not read_jsonl(tmp_path / "eval-wrong" / "results.jsonl")[0]["base_pass"]


def test_failing_nondeterministic_and_inexact_references_are_dropped(sandbox):
    names = ("_coin_for_test", "_broken_for_test", "_tuple_for_test")
    try:  # registered here only: atoms registered at import would change every other test's draw
        @atom("return a random number")
        def _coin_for_test(n: int) -> int:
            import random

            return random.randint(0, 10**9) + n

        @atom("raise an error")
        def _broken_for_test(n: int) -> int:
            return n // 0

        @atom("return a tuple")
        def _tuple_for_test(n: int) -> list[int]:
            return (n, n + 1)

        candidates = [Candidate((name,), "train", [[i] for i in range(5)]) for name in (*names, "square")]
        verdicts = run_references(candidates, SynthConfig(inputs_per_task=5, base_inputs=2), sandbox)
    finally:
        for name in names:
            ATOMS.pop(name, None)
    assert "nondeterministic" in verdicts["Synth/_coin_for_test"][1]
    assert "ZeroDivisionError" in verdicts["Synth/_broken_for_test"][1]
    assert "JSON-exact" in verdicts["Synth/_tuple_for_test"][1]
    assert verdicts["Synth/square"] == ({"base": [0, 1], "plus": [4, 9, 16]}, "")


def test_synth_cli_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.txt").write_text("mine")
    proc = run_cli("synth", "--seed", "1", "--output", str(tmp_path / "taken"), "--sandbox", "docker")
    assert proc.returncode == 2 and "holds something other" in proc.stderr
    assert os.listdir(tmp_path / "taken") == ["x.txt"]


def test_train_file_is_sft_and_grpo_training_data(synth_set):
    """`fgit-bench train --data train.jsonl` reads instruction/response (the evaluation's chat format) and keeps
    each row's task with its tests for GRPO."""
    from plugins.training.training_data import load_training_data

    rows = read_jsonl(synth_set / "train.jsonl")
    examples, n_rows = load_training_data(str(synth_set / "train.jsonl"))
    assert n_rows == len(rows) == len(examples)
    for row, example in zip(rows, examples, strict=True):
        assert example.code == (row["task"]["prompt"] + row["task"]["canonical_solution"]).strip("\n")
        assert example.meta["task"] == row["task"]
        assert "```" in example.instruction and row["task"]["prompt"].strip() in example.instruction

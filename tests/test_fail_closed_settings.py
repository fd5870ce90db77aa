"""Issue 28, item 6: run settings are checked before anything starts. A number out of range, an unknown sandbox or
backend (with "did you mean"), an empty task list: one line, exit 2, nothing written, neither the run directory
nor its lock file, and in seconds. Before, `batch_size = 0` spun forever holding the lock, `max_new_tokens = -5`
was exit 3, `sandbox = "dockr"` and `jobs = 0` failed only after generation, and `tasks = []` ran every task.
Real `fgit-bench run` / `generate` / `evaluate` processes on a tiny Llama (hf backend) or replayed samples."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import run_cli, write_jsonl
from tests.generation_support import tiny_model_dir
from tests.test_fail_closed import canonical, problems  # noqa: F401 (fixture)
from tests.test_fail_closed_io import errors

TIMEOUT = 60  # every case ends in a second or two; before, some ran (or spun) for much longer

BASE = {"top": ['variants = ["base"]', 'sandbox = "process"', "jobs = 1"],
        "generation": ['backend = "hf"', "batch_size = 2", "max_new_tokens = 4"],
        "training": ["limit = 2"],
        "benchmarks": ['name = "humaneval"', 'tasks = ["HumanEval/0", "HumanEval/2"]']}


def config_text(model: str, change: dict[str, list[str]]) -> str:
    tables = {k: list(v) for k, v in BASE.items()}
    for table, lines in change.items():
        keys = {line.split("=")[0].strip() for line in lines}
        tables[table] = [line for line in tables[table] if line.split("=")[0].strip() not in keys] + lines
    return "\n".join([f"model = {model!r}".replace("'", '"'), *tables["top"], "", "[generation]",
                      *tables["generation"], "", "[training]", *tables["training"], "", "[[benchmarks]]",
                      *tables["benchmarks"], ""])


RUN_CASES = {
    "batch_size=0": ({"generation": ["batch_size = 0"]}, "generation.batch_size must be at least 1, got 0"),
    "max_new_tokens=-5": ({"generation": ["max_new_tokens = -5"]},
                          "generation.max_new_tokens must be at least 1, got -5"),
    "sandbox=dockr": ({"top": ['sandbox = "dockr"']},
                      "sandbox: unknown sandbox 'dockr'; did you mean 'docker'? (known: auto, bwrap, docker, process)"),
    "jobs=0": ({"top": ["jobs = 0"]}, "jobs must be at least 1, got 0"),
    "tasks=[]": ({"benchmarks": ["tasks = []"]},
                 "benchmarks[0].tasks is empty: name at least one task, or leave tasks out for all of them"),
    "backend=hff": ({"generation": ['backend = "hff"']},
                    "generation.backend: unknown generation backend 'hff'; did you mean 'hf'? "
                    "(known: hf, openai, replay, vllm)"),
    "batch_mode=plane": ({"generation": ['batch_mode = "plane"']},
                         "generation.batch_mode must be one of plain, invariant, got 'plane'"),
    "dtype=fp16": ({"generation": ['dtype = "fp16"']},
                   "generation.dtype must be one of float32, bfloat16, float16, got 'fp16'"),
    "replay without samples_from": ({"generation": ['backend = "replay"']},
                                    "generation.samples_from is required by backend 'replay' (a samples .jsonl)"),
    "training.limit=0": ({"training": ["limit = 0"]}, "training.limit must be at least 1, got 0"),
    "benchmark limit=-1": ({"benchmarks": ["limit = -1"]}, "benchmarks[0].limit must be at least 1, got -1"),
    "benchmark=humaneva": ({"benchmarks": ['name = "humaneva"']},
                           "benchmarks[0].name: unknown benchmark 'humaneva'; did you mean 'humaneval'? "
                           "(known: bigcodebench, composite, humaneval, mbpp, quixbugs)"),
    "models=[]": ({"top": ["models = []"]}, "models is empty: name at least one model, or leave models out"),
    "variants=[bsae]": ({"top": ['variants = ["bsae"]']}, None),  # the plugin registry's own line
}


@pytest.fixture(scope="module")
def model():
    return str(tiny_model_dir())


def _nothing_written(tmp_path, inputs=("run.toml",)):
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(inputs)  # no output, no lock file beside it


@pytest.mark.parametrize("case", sorted(RUN_CASES))
def test_run_refuses_bad_settings_before_starting(model, tmp_path, case):
    change, message = RUN_CASES[case]
    config = tmp_path / "run.toml"
    config.write_text(config_text(model, change), encoding="utf-8")
    try:
        proc = run_cli("run", "--config", str(config), "--output", str(tmp_path / "runs" / "r"), timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: still running after {TIMEOUT}s (not refused before starting)")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = errors(proc)
    assert len(lines) == 1, proc.stderr
    if message is None:
        assert lines[0].startswith("fgit-bench: error: ") and "did you mean 'base'" in lines[0], lines
    else:
        assert lines == [f"fgit-bench: error: {config}: {message}"]
    _nothing_written(tmp_path)


@pytest.mark.parametrize("flag, value, message", [
    ("--jobs", "0", "--jobs must be at least 1, got 0"),
    ("--sandbox", "bwarp", "--sandbox: unknown sandbox 'bwarp'; did you mean 'bwrap'? (known: auto, bwrap, docker, "
                           "process)"),
])
def test_run_flags_are_checked_the_same_way(model, tmp_path, flag, value, message):
    config = tmp_path / "run.toml"
    config.write_text(config_text(model, {}), encoding="utf-8")
    proc = run_cli("run", "--config", str(config), "--output", str(tmp_path / "runs" / "r"), flag, value,
                   timeout=TIMEOUT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert errors(proc) == [f"fgit-bench: error: {message}"]
    _nothing_written(tmp_path)


@pytest.fixture
def samples(problems, tmp_path):  # noqa: F811
    return write_jsonl(tmp_path / "samples.jsonl", canonical(problems, ["HumanEval/0", "HumanEval/2"]))


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], "--jobs must be at least 1, got 0"),
    (["--sandbox", "dockr"], "--sandbox: unknown sandbox 'dockr'; did you mean 'docker'? (known: auto, bwrap, docker, "
                             "process)"),
    (["--tasks", ""], "--tasks is empty: name at least one task, or leave --tasks out for all of them"),
    (["--tasks", " , "], "--tasks is empty: name at least one task, or leave --tasks out for all of them"),
    (["--limit", "0"], "--limit must be at least 1, got 0"),
])
def test_evaluate_refuses_bad_flags_before_starting(samples, tmp_path, args, message):
    proc = run_cli("evaluate", "--benchmark", "humaneval", "--samples", str(samples), "--output",
                   str(tmp_path / "out" / "eval"), *args, timeout=TIMEOUT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert errors(proc) == [f"fgit-bench: error: {message}"]
    _nothing_written(tmp_path, ["samples.jsonl"])


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--max-new-tokens", "-5"], "--max-new-tokens must be at least 1, got -5"),
    (["--backend", "replya"], "--backend: unknown generation backend 'replya'; did you mean 'replay'? "
                              "(known: hf, openai, replay, vllm)"),
    (["--tasks", ""], "--tasks is empty: name at least one task, or leave --tasks out for all of them"),
    (["--limit", "0"], "--limit must be at least 1, got 0"),
])
def test_generate_refuses_bad_flags_before_starting(samples, tmp_path, args, message):
    base = ["--backend", "replay"] if "--backend" not in args else []
    proc = run_cli("generate", "--benchmark", "humaneval", "--samples-from", str(samples), *base, *args,
                   "--no-progress", "--output", str(tmp_path / "out" / "samples.jsonl"), timeout=TIMEOUT)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert errors(proc) == [f"fgit-bench: error: {message}"]
    _nothing_written(tmp_path, ["samples.jsonl"])

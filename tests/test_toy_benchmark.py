"""Adding a benchmark is one module: tests/toy_benchmark.py, registered through an entry point, works in
`generate`, `evaluate`, `run` and the leaderboard with no other file of the project changed.

Real components throughout: the CLI in subprocesses, the process sandbox running the toy's asserts, the replay
backend giving answers whose verdicts the test knows (two right, one wrong)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO, read_jsonl, run_cli, write_jsonl
from tests.entry_points import dist_info, pythonpath
from tests.generation_support import tiny_model_dir
from tests.toy_benchmark import PROBLEMS

ENTRY = {"fgit_bench.benchmarks": {"toy": "tests.toy_benchmark:ToyBenchmark"}}


def _answers(path):
    rows = [{"task_id": t, "solution": p["prompt"] + p["canonical_solution"]} for t, p in PROBLEMS.items()]
    rows[1]["solution"] = PROBLEMS["Toy/1"]["prompt"] + "    return x\n"  # wrong: double(4) == 4
    return write_jsonl(path, rows)


def test_unregistered_toy_is_unknown(tmp_path):
    proc = run_cli("evaluate", "--benchmark", "toy", "--samples", str(tmp_path / "s.jsonl"), "--output",
                   str(tmp_path / "o"))
    assert proc.returncode == 2 and "unknown benchmark 'toy'" in proc.stderr, proc.stderr


def test_toy_benchmark_in_generate_evaluate_run_and_leaderboard(tmp_path):
    env = pythonpath(dist_info(tmp_path / "site", "fgit-bench-toy", ENTRY))
    answers = _answers(tmp_path / "answers.jsonl")

    # its facts reach generation: stop strings for direct completion
    probe = subprocess.run([sys.executable, "-c", "from harness.generation.prompts import PromptTemplate as P; "
                            "print(P('direct', 'toy', True, None).stop[-2:])"], capture_output=True, text=True,
                           cwd=REPO, env={**__import__("os").environ, **env}, timeout=120)
    assert probe.stdout.strip() == repr(("\ndef ", "\n# end")), probe.stderr

    samples = tmp_path / "samples.jsonl"
    proc = run_cli("generate", "--benchmark", "toy", "--backend", "replay", "--samples-from", str(answers),
                   "--no-progress", "--output", str(samples), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = read_jsonl(samples)
    assert [r["task_id"] for r in rows] == list(PROBLEMS) and {r["benchmark"] for r in rows} == {"toy"}
    assert rows[0]["solution"].strip() == (PROBLEMS["Toy/0"]["prompt"] + PROBLEMS["Toy/0"]["canonical_solution"]).strip()

    proc = run_cli("evaluate", "--benchmark", "toy", "--samples", str(samples), "--output", str(tmp_path / "eval"),
                   "--sandbox", "process", "--jobs", "1", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["base_pass"] for r in read_jsonl(tmp_path / "eval" / "results.jsonl")] == [True, False, True]

    config = tmp_path / "run.toml"
    config.write_text(f'model = {json.dumps(str(tiny_model_dir()))}\nvariants = ["base"]\nsandbox = "process"\n'
                      f'jobs = 1\n[generation]\nbackend = "replay"\nsamples_from = {json.dumps(str(answers))}\n'
                      '[[benchmarks]]\nname = "toy"\n', encoding="utf-8")
    run_dir = tmp_path / "run"
    proc = run_cli("run", "--config", str(config), "--output", str(run_dir), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert board["variants"]["base"]["Toy"]["passed"] == 2, board["variants"]
    assert "Toy" in proc.stdout.splitlines()[next(i for i, line in enumerate(proc.stdout.splitlines())
                                                  if line.startswith("| Variant"))]
    proc = run_cli("leaderboard", str(run_dir), "--format", "csv", env=env)
    assert proc.returncode == 0 and "Toy" in proc.stdout, proc.stderr

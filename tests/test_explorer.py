"""The task explorer (issue 30) on a real run: `fgit-bench run` (tiny Llama trained for Standard-SFT, samples replayed
from files so the test decides which are right, evaluation in the process sandbox) with one task Standard-SFT wins,
one it loses on an input the test chooses, one both pass and one both fail. explorer.html is loaded in headless
Chromium from file://: no console errors; the pair shows the discordant tasks first; a task shows both programs,
their diff and the failing input with expected and actual output; a screenshot is not blank."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_support import load, png_distinct_bytes, screenshot, stop, wait_for_text
from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import TINY_SFT, break_solution, canonical_samples, toml_value, write_samples
from tests.sandbox_fixtures import unavailable

TASKS = 4  # HumanEval/0..3: 0 both pass, 1 won by sft, 2 lost by sft (one planted input), 3 both fail
# (base's HumanEval/3 exits the process: a gaming flag)


def wrong_on(problem: dict, args: list) -> dict:
    """HumanEval/2's canonical program (`truncate_number(number)`), wrong on exactly the call with `args`."""
    body = f"    if [number] == {args!r}:\n        return 'planted'\n"
    return {"task_id": problem["task_id"], "solution": problem["prompt"] + body + problem["canonical_solution"],
            "entry_point": problem["entry_point"]}


@pytest.fixture(scope="module")
def problems(shared_data):
    return {p["task_id"]: p for p in read_jsonl(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz")}


@pytest.fixture(scope="module")
def planted(problems):
    return problems["HumanEval/2"]["base_input"][1]


def build_run(root: Path, problems: dict, planted: list, extra: list[str] | None = None,
              env: dict | None = None) -> Path:
    """The run of this module (`extra`: more config lines, e.g. [tracking])."""
    rows = canonical_samples("humaneval", TASKS)
    exits = {**rows[3], "solution": "def below_zero(*args, **kwargs):\n    import os\n    os._exit(0)\n"}  # flagged: process_exit
    base = [rows[0], break_solution(rows[1]), rows[2], exits]
    sft = [rows[0], rows[1], wrong_on(problems["HumanEval/2"], planted), break_solution(rows[3])]
    write_samples(root / "base.jsonl", base)
    write_samples(root / "sft.jsonl", sft)
    lines = [f"model = {toml_value(str(tiny_model_dir()))}", 'variants = ["base", "sft"]', 'sandbox = "process"',
             "jobs = 2", "", "[generation]", 'backend = "replay"',
             f"samples_from = {toml_value(str(root / '{variant}.jsonl'))}", "", "[training]", "limit = 4", "",
             "[[benchmarks]]", 'name = "humaneval"', f"limit = {TASKS}", "", "[plugins.sft]",
             *[f"{k} = {toml_value(v)}" for k, v in {**TINY_SFT, "max_steps": 3}.items()], "", *(extra or [])]
    config = root / "run.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    output = root / "run"
    result = run_cli("run", "--config", str(config), "--output", str(output), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return output


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, problems, planted) -> Path:
    return build_run(tmp_path_factory.mktemp("explorer-run"), problems, planted)


def errors(console: list[str]) -> list[str]:
    return [line for line in console if re.search(r"error|uncaught|failed", line, re.I)]


def task_list(dom: str) -> list[tuple[str, str]]:
    return re.findall(r'<li data-task="([^"]+)" data-category="([^"]+)"', dom)


def test_explorer_page(run_dir, tmp_path, problems, planted):
    page = run_dir / "explorer.html"
    assert page.is_file() and (run_dir / "explorer" / "humaneval" / "index.js").is_file()
    assert 'href="explorer.html"' in (run_dir / "leaderboard.html").read_text()
    dom, console = load(page, tmp_path, fragment="b=humaneval&a=sft&vs=base", settle_ms=3000)
    assert not errors(console), console
    assert task_list(dom) == [("HumanEval/1", "won"), ("HumanEval/2", "lost"), ("HumanEval/0", "both-pass"),
                              ("HumanEval/3", "both-fail")]
    assert "1 won, 1 lost, 1 both pass, 1 both fail" in dom

    dom, console = load(page, tmp_path, fragment="b=humaneval&a=sft&vs=base&f=discordant&t=HumanEval/2",
                        settle_ms=3000)
    assert not errors(console), console
    assert [t for t, _ in task_list(dom)] == ["HumanEval/1", "HumanEval/2"]
    import html

    text = html.unescape(dom)
    assert "HumanEval/2 — lost" in text
    assert "def truncate_number" in text and "'planted'" in text  # both programs
    assert re.search(r'class="add">\+ +if \[number\] == ', text)  # the diff: the planted lines added by sft
    failure = re.search(r'class="failure-input">([^<]*)<.*?class="failure-expected">([^<]*)<.*?'
                        r'class="failure-actual">([^<]*)<', dom, re.S)
    assert failure, dom[-3000:]
    scope: dict = {}
    exec(problems["HumanEval/2"]["prompt"] + problems["HumanEval/2"]["canonical_solution"], scope)  # noqa: S102
    assert [html.unescape(g) for g in failure.groups()] == [repr(planted), repr(scope["truncate_number"](*planted)),
                                                            repr("planted")]

    dom, console = load(page, tmp_path, fragment="b=humaneval&a=sft&vs=base&fl=1&t=HumanEval/3", settle_ms=3000)
    assert not errors(console), console
    assert task_list(dom) == [("HumanEval/3", "both-fail")]  # flagged only: base's program exits the process
    assert "gaming flags: process_exit" in dom

    png = screenshot(page, tmp_path, "explorer.png", size="1400,1400",
                     fragment="b=humaneval&a=sft&vs=base&t=HumanEval/2", settle_ms=3000)
    assert png_distinct_bytes(png) > 40


def test_explore_command(run_dir, tmp_path):
    out = tmp_path / "elsewhere"
    proc = run_cli("explore", str(run_dir), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "explorer.html").is_file() and (out / "explorer" / "humaneval" / "chunk-0.js").is_file()
    proc = run_cli("explore", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


# --- Inspect AI export --------------------------------------------------------------------------------------------
READ_BACK = """
import json, sys
from inspect_ai.log import read_eval_log
out = {}
for path in sys.argv[1:]:
    log = read_eval_log(path)
    out[path] = {"task": log.eval.task, "model": log.eval.model, "status": log.status,
                 "accuracy": log.results.scores[0].metrics["accuracy"].value,
                 "samples": [{"id": s.id, "epoch": s.epoch, "input": s.input, "target": s.target,
                              "output": s.output.completion, "score": s.scores["fgit_bench"].value,
                              "explanation": s.scores["fgit_bench"].explanation, "metadata": s.metadata}
                             for s in log.samples]}
print(json.dumps(out))
"""


def _side_python(module, venv: str, what: str) -> str:
    """The python of a package's own venv (bootstrap.sh makes it), or the one its module's ENV_PYTHON names."""
    import os

    from harness.app.side_python import REPO

    chosen = Path(os.environ.get(module.ENV_PYTHON) or REPO / venv / "bin" / "python")
    if not chosen.is_file():
        unavailable(f"{what} is not installed ({chosen}): ./bootstrap.sh installs it")
    return str(chosen)


def inspect_python() -> str:
    from harness.app import inspect_export

    return _side_python(inspect_export, ".venv-inspect", "inspect-ai")


@pytest.fixture(scope="module")
def inspect_logs(run_dir, tmp_path_factory) -> Path:
    python = inspect_python()
    out = tmp_path_factory.mktemp("inspect")
    for fmt in ("eval", "json"):
        proc = run_cli("export", "inspect", str(run_dir), "--output", str(out / fmt), "--format", fmt,
                       env={"FGIT_BENCH_INSPECT_PYTHON": python})
        assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_inspect_export_reads_back(run_dir, inspect_logs, problems):
    import json
    import subprocess

    for fmt in ("eval", "json"):
        paths = sorted(str(p) for p in (inspect_logs / fmt).iterdir())
        assert [Path(p).name for p in paths] == [f"base_humaneval.{fmt}", f"sft_humaneval.{fmt}"]
        proc = subprocess.run([inspect_python(), "-c", READ_BACK, *paths], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        logs = json.loads(proc.stdout)
        for path, log in logs.items():
            variant = Path(path).name.split("_")[0]
            samples = {r["task_id"]: r for r in read_jsonl(run_dir / variant / "humaneval" / "samples.jsonl")}
            results = {r["task_id"]: r for r in read_jsonl(run_dir / variant / "humaneval" / "eval" / "results.jsonl")}
            assert (log["task"], log["model"], log["status"]) == ("humaneval", f"fgit-bench/{variant}", "success")
            assert len(log["samples"]) == TASKS == len(samples)
            for sample in log["samples"]:
                task = sample["id"]
                assert sample["input"] == samples[task]["prompt"] and sample["output"] == samples[task]["solution"]
                assert sample["target"] == problems[task]["canonical_solution"]
                assert sample["score"] == ("C" if results[task]["plus_pass"] else "I")
                assert sample["metadata"]["sample_index"] == 0 and sample["epoch"] == 1
            assert log["accuracy"] == sum(r["plus_pass"] for r in results.values()) / TASKS
    sft = json.loads(subprocess.run([inspect_python(), "-c", READ_BACK, str(inspect_logs / "eval" / "sft_humaneval.eval")],
                                    capture_output=True, text=True, timeout=300).stdout)
    lost = next(s for s in next(iter(sft.values()))["samples"] if s["id"] == "HumanEval/2")
    assert "'planted'" in lost["explanation"]  # the failing input's actual output, in the score's explanation


def test_inspect_view_shows_the_samples(inspect_logs, tmp_path):
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inspect = Path(inspect_python()).with_name("inspect")
    server = subprocess.Popen([str(inspect), "view", "--log-dir", str(inspect_logs / "eval"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env={**__import__("os").environ,
                                                             "INSPECT_DISABLE_TELEMETRY": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/logs", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "inspect view did not start"
                time.sleep(0.5)
        tasks = ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3"]
        text = wait_for_text(f"http://127.0.0.1:{port}/#/logs/sft_humaneval.eval", tmp_path, ["4 rows", *tasks])
        assert "fgit-bench/sft" in text  # the sample list (one row per sample) of the variant's log
    finally:
        stop(server)


# --- MLflow tracking ----------------------------------------------------------------------------------------------
MLFLOW_READ = """
import json, sys
from mlflow.tracking import MlflowClient
client = MlflowClient(sys.argv[1])
experiment = client.get_experiment_by_name("fgit-bench")
out = []
for run in client.search_runs([experiment.experiment_id]):
    rid = run.info.run_id
    out.append({"name": run.info.run_name, "status": run.info.status, "params": run.data.params,
                "metrics": run.data.metrics, "parent": run.data.tags.get("mlflow.parentRunId"), "id": rid,
                "artifacts": sorted(a.path for a in client.list_artifacts(rid)),
                "loss": [[m.step, m.value] for m in client.get_metric_history(rid, "train/loss")]})
print(json.dumps(out))
"""


def mlflow_python() -> str:
    from harness.app import tracking

    return _side_python(tracking, ".venv-mlflow", "mlflow")


def test_mlflow_tracking(run_dir, tmp_path, problems, planted):
    """The same run again with [tracking] (every stage up to date) logs it to a real local MLflow store (sqlite),
    read back with MLflow's client: params, metrics equal to leaderboard.json's, artifacts, the loss curve."""
    import json
    import subprocess

    python = mlflow_python()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    build_run(run_dir.parent, problems, planted, extra=["[tracking]", f"mlflow = {toml_value(store)}"],
              env={"FGIT_BENCH_MLFLOW_PYTHON": python})
    proc = subprocess.run([python, "-c", MLFLOW_READ, store], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(runs) == {"run", "base", "sft"} and all(r["status"] == "FINISHED" for r in runs.values())
    parent = runs["run"]
    assert runs["sft"]["parent"] == runs["base"]["parent"] == parent["id"] and parent["parent"] is None
    assert parent["artifacts"] == ["leaderboard.html", "leaderboard.json", "leaderboard.md", "manifest.json"]
    stored = tmp_path / "mlflow.db-artifacts"  # beside the store, not in ./mlruns of the process's directory
    assert {p.name for p in stored.rglob("leaderboard.*")} == {"leaderboard.html", "leaderboard.json", "leaderboard.md"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert parent["params"]["config_hash"] == manifest["config_hash"]
    assert parent["params"]["model"] == manifest["config"]["model"]
    board = json.loads((run_dir / "leaderboard.json").read_text())
    expected = {}
    for variant, columns in board["variants"].items():
        for column, cell in columns.items():
            name = column.replace("+", "_plus")
            expected[f"pass_at_1/{variant}/{name}"] = cell["pass_at_1"]
            expected[f"ci95_low/{variant}/{name}"], expected[f"ci95_high/{variant}/{name}"] = cell["ci95"]
            assert runs[variant]["metrics"][f"pass_at_1/{name}"] == cell["pass_at_1"]
    for row in board["paired"]:
        for key in ("delta", "delta_low", "delta_high", "p_value", "p_holm"):
            expected[f"{key}/{row['variant']}_vs_{row['reference']}/{row['metric'].replace('+', '_plus')}"] = row[key]
    assert parent["metrics"] == expected
    from harness.core.data import cache_root

    train_log = cache_root() / "artifacts" / manifest["artifacts"]["sft"]["artifact"] / "train_log.jsonl"
    log = [json.loads(line) for line in train_log.read_text().splitlines()]
    curve = [[e["step"], e["loss"]] for e in log if "loss" in e]
    assert len(curve) == 3 and runs["sft"]["loss"] == curve  # the training curve, step by step
    assert runs["base"]["loss"] == []  # the base model was not trained



def test_report_to_reaches_transformers_and_not_the_artifact_key(tmp_path):
    """[training.shared] report_to goes to transformers' TrainingArguments as given (its own loggers); the artifact
    key leaves it out (where curves are reported changes no weight)."""
    from harness.core.config import to_dict
    from plugins.training.artifact_cache import _keyed
    from plugins.training.trainer import TrainingConfig, training_arguments

    assert training_arguments(TrainingConfig(report_to=["mlflow"]), tmp_path).report_to == ["mlflow"]
    assert training_arguments(TrainingConfig(), tmp_path).report_to == []  # "none"
    assert _keyed(to_dict(TrainingConfig(report_to=["mlflow"]))) == _keyed(to_dict(TrainingConfig()))

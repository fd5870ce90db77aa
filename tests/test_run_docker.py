"""`fgit-bench run --sandbox auto` on a machine with a Docker daemon: every benchmark, BigCodeBench included,
runs in Docker (issue 13, item 4), and the manifest says so.

The smoke profile's three benchmarks with its BigCodeBench settings (hard, complete, CI environment), two tasks
each, replayed canonical solutions, the base variant only: the run itself is real (docker sandboxes, the gate).
"""

from __future__ import annotations

import json

from tests.conftest import read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import canonical_samples, toml_value, write_samples
from tests.sandbox_fixtures import unavailable
from tests.test_bigcodebench import bcb_ci_env  # noqa: F401  (fixture: the CI profile of the BCB environment)

BCB_TASKS = ["BigCodeBench/19", "BigCodeBench/310"]  # the smoke profile's


def test_auto_picks_docker_for_every_benchmark_and_the_manifest_records_it(tmp_path, shared_data,
                                                                           bcb_ci_env):  # noqa: F811
    from sandboxes import make_sandbox
    from sandboxes.docker import DockerSandbox

    for environment in ("evalplus", "bigcodebench"):
        ok, why = DockerSandbox.check(environment=environment)
        if not ok:
            unavailable(f"docker cannot run {environment} here: {why}")
        with make_sandbox("auto", environment=environment, announce=False) as box:
            assert box.describe()["backend"] == "docker"

    hard = {r["task_id"]: r for r in read_jsonl(shared_data / "BigCodeBench-Hard-v0.1.4.jsonl")}
    replay = tmp_path / "replay"
    write_samples(replay / "base-humaneval.jsonl", canonical_samples("humaneval", 2))
    write_samples(replay / "base-mbpp.jsonl", canonical_samples("mbpp", 2))
    write_samples(replay / "base-bigcodebench-hard-complete.jsonl",
                  [{"task_id": t, "solution": hard[t]["complete_prompt"] + "\n" + hard[t]["canonical_solution"]}
                   for t in BCB_TASKS])
    config = tmp_path / "run.toml"
    config.write_text("\n".join([
        f"model = {toml_value(str(tiny_model_dir()))}", 'variants = ["base"]', 'sandbox = "auto"', "jobs = 2", "",
        "[generation]", 'backend = "replay"',
        f"samples_from = {toml_value(str(replay / '{variant}-{benchmark}.jsonl'))}", "",
        "[[benchmarks]]", 'name = "humaneval"', "limit = 2", "",
        "[[benchmarks]]", 'name = "mbpp"', "limit = 2", "",
        "[[benchmarks]]", 'name = "bigcodebench"', 'subset = "hard"', 'split = "complete"',
        f"tasks = {toml_value(BCB_TASKS)}", "optional = true", ""]))
    # its own cache: the docker ground truth must not sit beside other tests' in the session cache
    result = run_cli("run", "--config", str(config), "--output", str(tmp_path / "run"),
                     env={"FGIT_BENCH_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    backends = {benchmark: info["backend"] for benchmark, info in manifest["sandbox"].items()}
    assert backends == {"humaneval": "docker", "mbpp": "docker", "bigcodebench-hard-complete": "docker"}, backends
    rows = read_jsonl(tmp_path / "run" / "base" / "bigcodebench-hard-complete" / "eval" / "results.jsonl")
    assert [r["base_status"] for r in rows] == ["pass", "pass"] and {r["sandbox"] for r in rows} == {"docker"}

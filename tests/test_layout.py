"""The layout's seams (issue 24): the guest package runs on the standard library alone, sandbox jobs are checked
by name before any sandbox starts, and pipeline stages run through an executor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.generation_support import tiny_model_dir
from tests.run_support import canonical_samples, run_config, write_samples

GUEST_MODULES = ("worker", "jobs", "protocol", "codec", "evalplus_child", "bigcodebench_runner", "bigcodebench_watch",
                 "residue")


def test_the_guest_imports_with_only_the_standard_library():
    # -I -S: no site-packages, no user site, no PYTHONPATH; sys.path is the standard library plus the directory the
    # process backend puts on PYTHONPATH (only sandboxes/guest, without sandboxes/__init__.py), as inside a sandbox
    from sandboxes.process import guest_root

    code = ("import sys; sys.path.insert(0, sys.argv[1]); import importlib, json\n"
            f"for name in {GUEST_MODULES!r}: importlib.import_module('sandboxes.guest.' + name)\n"
            "top = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'__main__'})\n"
            "print(json.dumps({'top': top, 'sandboxes': getattr(sys.modules['sandboxes'], '__file__', None)}))")
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code, guest_root()], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout)
    assert seen == {"top": ["sandboxes"], "sandboxes": None}, seen  # a namespace package: no host __init__ ran


def test_the_guest_sees_only_its_own_package():
    from sandboxes.process import GUEST_DIR, guest_root

    root = guest_root()
    assert sorted(p.name for p in (REPO / "sandboxes").iterdir() if p.is_dir()) != ["guest"]  # the host has more
    assert [p.name for p in Path(root).iterdir()] == ["sandboxes"]
    assert [p.name for p in (Path(root) / "sandboxes").iterdir()] == ["guest"]
    assert (Path(root) / "sandboxes" / "guest").resolve() == GUEST_DIR


def test_an_unknown_job_fails_before_any_sandbox_starts():
    from sandboxes import make_sandbox
    from sandboxes.guest.jobs import JOBS, UnknownJob, evalplus_groundtruth
    from sandboxes.pool import JobFeed

    assert {"ping", "evalplus_groundtruth", "evalplus_outputs", "bigcodebench_check", "run_snippet_tests"} <= set(JOBS)
    sandbox = make_sandbox("process", announce=False)
    try:
        with pytest.raises(UnknownJob, match="did you mean 'evalplus_groundtruth'"):
            sandbox.run("evalplus_grountruth", [{}], [1.0])
        with pytest.raises(UnknownJob):
            JobFeed().put("key", "no_such_job", {}, 1.0)
        with pytest.raises(UnknownJob):  # a function that is not a registered job, even under a registered name
            sandbox.run(lambda payload: payload, [1], [1.0])
        assert sandbox._pool is None or all(w is None for w in sandbox._pool._workers)  # nothing started
        # a registered job, named or passed as the function, runs
        assert [r.value for _, r in sandbox.run("ping", [7], [60.0])] == [7]
        assert next(iter(sandbox.run(evalplus_groundtruth.__name__, [], [])), None) is None
    finally:
        sandbox.close()


def test_stages_run_through_the_executor_and_cached_stages_do_not(tmp_path):
    from harness.app.pipeline.config import load_run_config
    from harness.app.pipeline.executor import EXECUTORS, LocalExecutor, StageExecutor
    from harness.app.pipeline.run import ComparisonRun

    class Recording(StageExecutor):
        name = "recording"

        def __init__(self):
            self.ran: list[str] = []

        def execute(self, stage):
            self.ran.append(stage.name)
            assert stage.record_path.name.endswith(".stage.json") and isinstance(stage.inputs, dict)
            return stage.work()

    assert EXECUTORS.get("local") is LocalExecutor
    write_samples(tmp_path / "replay.jsonl", canonical_samples("humaneval", 2))
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=["base"],
                        replay=str(tmp_path / "replay.jsonl"), benchmarks={"humaneval": 2})
    executor = Recording()
    run = ComparisonRun(load_run_config(None, str(config), {}), tmp_path / "run", log=lambda _: None,
                        executor=executor)
    try:
        run.run()
    finally:
        run.close()
    assert executor.ran == ["base: train", "base/humaneval: generate", "base/humaneval: evaluate"]
    again = Recording()
    run = ComparisonRun(load_run_config(None, str(config), {}), tmp_path / "run", log=lambda _: None, executor=again)
    try:
        run.run()
    finally:
        run.close()
    assert again.ran == []  # every stage up to date: nothing reaches the executor

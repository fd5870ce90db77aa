"""The CI files users run the gate with: the GitHub Actions workflow passes actionlint and zizmor (offline), and
both it and the GitLab job run the smoke profile, gate it against the committed baseline and keep the artifacts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.sandbox_fixtures import unavailable

WORKFLOW = REPO / ".github" / "workflows" / "gate.yml"
GITLAB = REPO / ".gitlab-ci.yml"
GATE = "fgit-bench gate --baseline leaderboards/baselines/smoke.json --current runs/smoke"


def _tool(name: str) -> str:
    """The linter from the dev extras: next to this interpreter, in a venv this one overlays, or on PATH."""
    candidates = [Path(sys.executable).parent / name]
    candidates += [Path(p).parents[2] / "bin" / name for p in sys.path if p.endswith("site-packages")]
    for path in candidates:
        if path.is_file():
            return str(path)
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed (pip install -e '.[dev]')")
    return found


@pytest.mark.parametrize("linter", ["actionlint", "zizmor"])
def test_github_workflow_passes_the_linters(linter):
    command = [_tool(linter), str(WORKFLOW)] if linter == "actionlint" else [
        _tool(linter), "--offline", "--no-progress", str(WORKFLOW)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_github_workflow_gates_uploads_and_summarises():
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["gate"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "fgit-bench run --profile smoke --output runs/smoke" in runs
    assert GATE in " ".join(runs.split())
    assert "GITHUB_STEP_SUMMARY" in runs  # the leaderboard; the gate appends its own summary itself
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and "runs/smoke/leaderboard.html" in upload["with"]["path"]


def test_gitlab_job_gates_and_keeps_artifacts():
    job = yaml.safe_load(GITLAB.read_text())["smoke-gate"]
    script = "\n".join(job["script"])
    assert "fgit-bench run --profile smoke --output runs/smoke" in script and GATE in script
    assert job["artifacts"]["when"] == "always" and "runs/smoke/leaderboard.html" in job["artifacts"]["paths"]
    assert job["artifacts"]["reports"]["junit"] == "runs/smoke/gate.xml"

"""The harness as it was before issue 27 (the branch point, PRE_FIX), extracted from git, so that a test can show
that a forgery program passed there and fails now. Nothing of it is imported into the test process: it runs in
subprocesses with its own tree first on PYTHONPATH.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED_DATA
from tests.sandbox_fixtures import unavailable

PRE_FIX = "a7dc64e"  # the last commit before issue 27's changes


@pytest.fixture(scope="session")
def prefix_tree(tmp_path_factory) -> Path:
    """The pre-fix tree (git archive of PRE_FIX). A checkout without that history (a shallow clone, a source
    archive) skips, except under CI, where it fails: the forgery tests must show the pre-fix harness paid."""
    try:
        blob = subprocess.run(["git", "-C", str(REPO), "archive", PRE_FIX], capture_output=True, check=True,
                              timeout=120).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        unavailable(f"the pre-fix tree {PRE_FIX} is not available here: {exc}")
    root = tmp_path_factory.mktemp("prefix")
    with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
        archive.extractall(root, filter="data")
    return root


def prefix_env(tree: Path, extra: dict | None = None) -> dict:
    # the data is found next to the tree (../shared/data) normally: name it, the extracted tree is elsewhere
    return {**os.environ, "PYTHONPATH": str(tree), "FGIT_BENCH_DATA": str(SHARED_DATA), **(extra or {})}


def prefix_cli(tree: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """The pre-fix CLI (`python -m harness.app.cli ...`), run in its own tree."""
    return subprocess.run([sys.executable, "-m", "harness.app.cli", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=prefix_env(tree), timeout=timeout, cwd=tree)


def prefix_python(tree: Path, python: str, code: str, *args: str, timeout: float = 600):
    """`code` run by `python` with `tree` first on its path, in a session of its own that is killed afterwards:
    BigCodeBench's set-up starts a Manager in every check's child, and a child that ends with os._exit leaves it
    running (holding the output pipes, so nothing here waits on them). Returns (returncode, output)."""
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen([python, "-c", code, *args], stdout=output, stderr=output, stdin=subprocess.DEVNULL,
                                env=prefix_env(tree), cwd=tree, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        output.seek(0)
        return returncode, output.read().decode("utf-8", "replace")

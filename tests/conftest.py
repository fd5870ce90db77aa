"""Shared test fixtures: the benchmark data, an isolated fgit-bench cache, the CLI runner."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# A suite started in the background by a non-interactive shell inherits SIGINT ignored, and so would every harness it
# starts (an ignored signal stays ignored across exec): the Ctrl-C tests need it delivered as a terminal delivers it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test session gets its own fgit-bench cache, so no verdict or artifact from an earlier run hides work."""
    if os.environ.get("FGIT_BENCH_TEST_KEEP_CACHE"):
        yield Path(os.environ["FGIT_BENCH_CACHE"])
        return
    path = tmp_path_factory.mktemp("fgit-cache")
    old = os.environ.get("FGIT_BENCH_CACHE")
    os.environ["FGIT_BENCH_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("FGIT_BENCH_CACHE", None)
    else:
        os.environ["FGIT_BENCH_CACHE"] = old


@pytest.fixture(scope="session", autouse=True)
def leaderboard_naming():
    """What the CLI does first: the leaderboard's labels and columns come from the registries."""
    from harness.app import catalog

    catalog.install()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.is_dir(), f"benchmark data missing: {SHARED_DATA}"
    return SHARED_DATA


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def run_cli(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (stdin closed: it must never prompt)."""
    return subprocess.run([sys.executable, "-m", "harness.app.cli", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}, timeout=timeout, cwd=REPO)

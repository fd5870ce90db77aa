"""Hostile samples through the real evaluate stage, on real docker and real bubblewrap.

One `evaluate` run per backend holds 13 hostile samples (tests/hostile_programs.py: each a sample for a real
HumanEval+ task) next to 5 correct ones. For each backend: the harness finishes, every hostile sample is fail or
timeout, the correct samples pass, and the host is unchanged: no marker files, the planted secret in the home
directory appears in no output, no connection reached the test's TCP server, no sandbox process or container is
left, and the files of the harness (canaries in the repo, in the mounted `sandboxes` package, in the output and
cache directories, and the samples file) are intact.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from harness.core.hashing import file_digest
from harness.evaluation import EvaluateConfig, evaluate
from sandboxes.base import Limits
from sandboxes.process import SOURCE_ROOT
from tests.hostile_programs import CORRECT_TASKS, PROGRAMS, render
from tests.sandbox_fixtures import (
    humaneval_problems,  # noqa: F401  (fixture)
    open_sandbox,
    sandbox_processes,
    session_containers,
    unavailable,
    wait_for_no_processes,
)

# Small enough that the memory and fork bombs hit the limits fast, large enough for every HumanEval+ check.
LIMITS = Limits(memory_mb=1024, processes=128, file_size_mb=16, tmpfs_mb=64, cpus=1.0)  # group: 1408 MB


class CountingServer:
    """A TCP server on all of the host's addresses that counts every connection that reaches it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.sock.close()


def host_addresses() -> list[str]:
    addresses = {"127.0.0.1", "172.17.0.1"}  # loopback and docker's default bridge gateway
    for entries in psutil.net_if_addrs().values():
        addresses.update(e.address for e in entries if e.family == socket.AF_INET)
    return sorted(addresses)


@dataclass
class HostileRun:
    backend: str
    rows: dict[str, dict]
    outputs: dict[str, bytes]  # every file the run wrote in its output directory
    seconds: float
    connections: int
    marker_paths: list[Path]
    markers_found: list[str]
    secret: str
    canaries: dict[Path, bytes]
    canaries_after: dict[Path, bytes | None]
    package_before: dict[str, str]
    package_after: dict[str, str]
    live_processes_during_run: int
    leftover_processes: list[str]
    live_containers_during_run: int
    leftover_containers: list[str]
    describe: dict = field(default_factory=dict)


def package_digests() -> dict[str, str]:
    root = SOURCE_ROOT / "sandboxes"
    return {str(p.relative_to(root)): file_digest(p) for p in sorted(root.rglob("*.py"))}


@pytest.fixture(scope="module", params=[pytest.param("docker", marks=pytest.mark.docker),
                                        pytest.param("bwrap", marks=pytest.mark.bwrap)])
def hostile_run(request, tmp_path_factory, humaneval_problems):  # noqa: F811
    backend = request.param
    sandbox = open_sandbox(backend, jobs=2, limits=LIMITS)
    token = uuid.uuid4().hex
    tmp = tmp_path_factory.mktemp(f"hostile-{backend}")
    out, cache = tmp / "out", tmp / "cache"
    out.mkdir()
    cache.mkdir()
    home = Path.home()
    secret_file = home / f".fgit-hostile-secret-{token}"
    secret = f"SECRET-{token}"
    marker_name = f"fgit-hostile-{token}"
    marker_paths = [Path("/tmp") / marker_name, SOURCE_ROOT / marker_name, home / marker_name, out / marker_name,
                    Path("/") / marker_name, Path("/etc") / marker_name, SOURCE_ROOT / "sandboxes" / marker_name,
                    SOURCE_ROOT / "sandboxes" / "guest" / marker_name,
                    Path(f"/tmp/fgit-hostile-daemon-{token}")]
    canary_name = f".fgit-hostile-canary-{token}"
    canaries = {path: f"canary {path.parent.name} {token}".encode() for path in
                (SOURCE_ROOT / canary_name, SOURCE_ROOT / "sandboxes" / canary_name, out / canary_name,
                 cache / canary_name)}
    samples_file = tmp / "samples.jsonl"
    server = CountingServer()
    context = {
        "token": token, "home": str(home), "port": server.port, "addresses": host_addresses(),
        "write_targets": [str(p) for p in marker_paths[:-1]] + [f"/opt/fgit/sandboxes/{marker_name}",
                                                                 f"/opt/fgit/sandboxes/guest/{marker_name}"],
        "secret_paths": [str(secret_file), f"/root/{secret_file.name}", f"/home/{secret_file.name}"],
        "disk_limit": 4 * LIMITS.tmpfs_mb << 20, "daemon_marker": str(marker_paths[-1]),
        "canaries": [str(p) for p in canaries] + [f"/opt/fgit/sandboxes/{canary_name}", str(samples_file)],
    }
    rows = [{"task_id": p.task_id, "solution": render(p, humaneval_problems[p.task_id], context)}
            for p in PROGRAMS]
    rows += [{"task_id": t, "solution": humaneval_problems[t]["prompt"] + humaneval_problems[t]["canonical_solution"]}
             for t in CORRECT_TASKS]
    samples_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples_digest = file_digest(samples_file)
    canaries[samples_file] = samples_file.read_bytes()
    package_before = package_digests()
    secret_file.write_text(secret)
    try:
        for path, content in canaries.items():
            path.write_bytes(content)
        cfg = EvaluateConfig(benchmark="humaneval", samples=str(samples_file), output=str(out), jobs=2,
                             sandbox=backend, tasks=[r["task_id"] for r in rows])
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FGIT_BENCH_CACHE", str(cache))  # no cached verdict hides anything
            start = time.monotonic()
            try:
                evaluate(cfg, sandbox=sandbox, quiet=True)
                live = len(sandbox_processes(sandbox.session))  # positive control for the leftover check
                containers = len(session_containers(sandbox.session)) if backend == "docker" else 0
            finally:
                sandbox.close()
            seconds = time.monotonic() - start
        leftovers = wait_for_no_processes(sandbox.session)
        leftover_containers = session_containers(sandbox.session) if backend == "docker" else []
        time.sleep(0.5)  # a surviving daemon would write its marker or connect within 0.2 s
        run = HostileRun(
            backend=backend,
            rows={r["task_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())},
            outputs={str(p): p.read_bytes() for p in out.rglob("*") if p.is_file()},
            seconds=seconds, connections=server.connections, marker_paths=marker_paths,
            markers_found=[str(p) for p in marker_paths if p.exists()], secret=secret, canaries=canaries,
            canaries_after={p: p.read_bytes() if p.is_file() else None for p in canaries},
            package_before=package_before,
            package_after={k: v for k, v in package_digests().items() if not k.startswith(".fgit")},
            live_processes_during_run=live, leftover_processes=leftovers, live_containers_during_run=containers,
            leftover_containers=leftover_containers, describe=sandbox.describe(),
        )
        assert file_digest(samples_file) == samples_digest
    finally:
        server.close()
        secret_file.unlink(missing_ok=True)
        for path in [*canaries, *marker_paths]:
            if path.parent != tmp and path.is_file():
                path.unlink()
    print(f"\n{backend}: hostile run took {run.seconds:.1f}s")
    return run


def test_harness_finishes_and_correct_samples_pass(hostile_run):
    assert len(hostile_run.rows) == len(PROGRAMS) + len(CORRECT_TASKS)
    for task_id in CORRECT_TASKS:
        row = hostile_run.rows[task_id]
        assert row["base_status"] == "pass" and row["plus_status"] == "pass", row


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_sample_fails_or_times_out(hostile_run, program):
    row = hostile_run.rows[program.task_id]
    assert row["base_status"] in ("fail", "timeout"), row
    assert row["plus_pass"] is False and row["base_pass"] is False, row


def test_memory_bomb_is_reported_as_out_of_memory(hostile_run):
    if hostile_run.backend == "bwrap" and not hostile_run.describe.get("cgroup"):
        unavailable("no writable cgroup here: bwrap bounds memory per process only")
    row = hostile_run.rows[next(p.task_id for p in PROGRAMS if p.name == "memory_bomb")]
    assert row["detail"] == "oom", row


def test_infinite_loop_times_out(hostile_run):
    row = hostile_run.rows[next(p.task_id for p in PROGRAMS if p.name == "infinite_loop")]
    assert row["base_status"] == "timeout", row


def test_nothing_written_outside_the_sandbox(hostile_run):
    assert hostile_run.markers_found == []


def test_secret_from_home_directory_appears_in_no_output(hostile_run):
    assert hostile_run.outputs, "the run wrote no output files"
    for path, content in hostile_run.outputs.items():
        assert hostile_run.secret.encode() not in content, path


def test_no_connection_reached_the_host(hostile_run):
    assert hostile_run.connections == 0


def test_no_process_or_container_survives(hostile_run):
    assert hostile_run.live_processes_during_run > 0, "positive control: the workers were visible while running"
    assert hostile_run.leftover_processes == []
    if hostile_run.backend == "docker":
        assert hostile_run.live_containers_during_run > 0
        assert hostile_run.leftover_containers == []


def test_files_of_the_harness_are_intact(hostile_run):
    for path, content in hostile_run.canaries.items():
        assert hostile_run.canaries_after[path] == content, path
    assert hostile_run.package_after == hostile_run.package_before


def test_stdout_flood_is_swallowed(hostile_run):
    total = sum(len(content) for content in hostile_run.outputs.values())
    assert total < 2_000_000, total  # the samples themselves are in eval_results.json; the flood is not
    for content in hostile_run.outputs.values():
        assert b"FLOOD-" not in content

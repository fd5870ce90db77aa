"""The docker backend against a real daemon: container settings, the worker inside, timeouts, OOM, cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness.core.errors import InfraError
from harness.evaluation import EvaluateConfig, evaluate
from sandboxes.base import Limits
from sandboxes.environments import ImageRecipe, get_environment
from sandboxes.process import GUEST_DIR, SOURCE_ROOT
from tests.conftest import run_cli
from tests.sandbox_fixtures import (
    UNIT_LIMITS,
    humaneval_problems,  # noqa: F401  (fixture)
    open_sandbox,
    probe_value,
    require_backend,
    run_code,
    session_containers,
    wait_for_no_processes,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    require_backend("docker")
    import docker

    return docker.from_env()


@pytest.fixture(scope="module")
def sandbox(client):
    box = open_sandbox("docker", jobs=1, limits=UNIT_LIMITS)
    yield box
    box.close()
    assert session_containers(box.session) == []


def test_container_settings(sandbox, client):
    assert probe_value(run_code(sandbox, "def probe():\n    return 1\n")) == 1
    [info] = client.api.containers(filters={"label": f"fgit-bench.sandbox={sandbox.session}"})
    details = client.api.inspect_container(info["Id"])
    host, config = details["HostConfig"], details["Config"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    memory = (512 + 2 * 32 + 256) << 20
    assert host["Memory"] == memory and host["MemorySwap"] == memory
    assert host["PidsLimit"] == 64 and host["NanoCpus"] == 1_000_000_000
    assert set(host["Tmpfs"]) == {"/workspace", "/tmp"} and "size=32m" in host["Tmpfs"]["/tmp"]
    # the checkout's guest package (sandboxes/guest) and this worker's own transfer directory (large job frames),
    # read-only
    xfer = [b for b in host["Binds"] if b.endswith(":/opt/fgit-xfer:ro")]
    assert len(xfer) == 1 and xfer[0].startswith("/dev/shm/fgit-bench-xfer/")
    assert sorted(host["Binds"]) == sorted([f"{GUEST_DIR}:/opt/fgit/sandboxes/guest:ro", xfer[0]])
    assert config["User"] == "65534:65534"
    labels = config["Labels"]
    assert labels["fgit-bench"] == "1" and labels["fgit-bench.pid"] == str(os.getpid())
    assert details["Image"] == sandbox.describe()["image_id"] and details["Image"].startswith("sha256:")


def test_inside_the_container(sandbox):
    view = probe_value(run_code(sandbox, '''
import os, socket
def probe():
    status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
    writable = []
    for path in ("/", "/etc", "/usr", "/opt/fgit/sandboxes", "/workspace", "/tmp"):
        try:
            open(path + "/probe-file", "w").close()
            writable.append(path)
        except OSError:
            pass
    return {"pid": os.getppid(), "uid": os.getuid(), "caps": status["CapEff"].strip(),
            "no_new_privs": status["NoNewPrivs"].strip(), "interfaces": [n for _, n in socket.if_nameindex()],
            "writable": writable, "cwd": os.getcwd()}
'''))
    assert view["pid"] == 1 and view["uid"] == 65534  # the worker (PID 1) forks the job process that runs this
    assert view["caps"] == "0000000000000000" and view["no_new_privs"] == "1"
    assert view["interfaces"] == ["lo"]
    assert view["writable"] == ["/workspace", "/tmp"] and view["cwd"] == "/workspace"


def test_evaluate_in_docker_records_the_image(tmp_path, humaneval_problems, sandbox):  # noqa: F811
    tasks = ["HumanEval/0", "HumanEval/2", "HumanEval/53"]
    rows = [{"task_id": t, "solution": humaneval_problems[t]["prompt"] + humaneval_problems[t]["canonical_solution"]}
            for t in tasks[:2]]
    rows.append({"task_id": tasks[2], "solution": humaneval_problems[tasks[2]]["prompt"] + "    return x - y\n"})
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(tmp_path / "out"), jobs=1,
                         sandbox="docker", tasks=tasks)
    summary = evaluate(cfg, sandbox=sandbox, quiet=True)
    assert (summary.base_pass, summary.plus_pass) == (2, 2)
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert results["eval"]["HumanEval/53"][0]["base_status"] == "fail"
    prov = results["provenance"]["sandbox"]
    assert prov["backend"] == "docker" and prov["image_id"] == sandbox.image.id


def test_large_job_travels_as_a_file_and_is_removed(sandbox):
    """A frame over the pool's threshold goes through the worker's read-only transfer directory, intact; the
    file is gone once the job is done, and the directory is not writable from inside."""
    from sandboxes.pool import XFER_MIN_BYTES

    blob = os.urandom(XFER_MIN_BYTES + 12345)
    [(_, echoed)] = list(sandbox.run("ping", [blob], [60.0]))
    assert echoed.error is None and echoed.value == blob
    worker = next(w for w in sandbox._pool._workers if w is not None)
    host_dir, inside = worker.xfer
    assert os.listdir(host_dir) == []
    view = probe_value(run_code(sandbox, f"""
import os
def probe():
    try:
        open({inside!r} + "/forged.pkl", "wb").close()
        return "writable"
    except OSError:
        return sorted(os.listdir({inside!r}))
"""))
    assert view == []


def test_timeout_kills_and_replaces_the_container(sandbox):
    before = session_containers(sandbox.session)
    [(_, stuck)] = list(sandbox.run("evalplus_groundtruth", [{
        "prompt": "import time\ndef probe():\n    time.sleep(60)\n", "canonical_solution": "", "entry_point": "probe",
        "base_input": [[]], "plus_input": [], "output_not_none": False}], [2.0]))
    assert stuck.error == "timeout"
    assert probe_value(run_code(sandbox, "def probe():\n    return 'alive'\n")) == "alive"
    after = session_containers(sandbox.session)
    assert len(after) == 1 and set(after).isdisjoint(before)


def test_worker_survives_kill_attempts_and_sweeps_daemons(sandbox):
    spawn = probe_value(run_code(sandbox, '''
import os, signal, time
def probe():
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
        os.kill(1, sig)  # the worker is PID 1 of its namespace: signals from inside are ignored
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(300)
        os._exit(0)
    time.sleep(0.3)
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
'''))
    assert len(spawn) >= 3  # the worker, the job process and the daemon
    after = probe_value(run_code(sandbox, '''
import os
def probe():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and p != str(os.getpid()))
'''))
    assert after == [1], "only the worker (and the job process running this probe) may be left between jobs"


def test_out_of_memory_is_reported_as_oom(client):
    box = open_sandbox("docker", jobs=1, limits=Limits(memory_mb=128, processes=32, tmpfs_mb=16))
    try:
        result = run_code(box, "def probe():\n    block = bytearray(2 << 30)\n    return len(block)\n")
        assert result.error == "oom", result
        assert probe_value(run_code(box, "def probe():\n    return 'replaced'\n")) == "replaced"
    finally:
        box.close()


def test_stale_containers_of_dead_harnesses_are_removed(client):
    from sandboxes.base import process_start
    from sandboxes.docker import _harness_labels, cleanup_stale_containers
    from sandboxes.xfer import _root, make_xfer_dir, sweep_stale_xfer_dirs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_start = process_start(dead.pid)
    dead.wait()
    image = get_environment("evalplus").image_tag()
    labels = {**_harness_labels(), "fgit-bench.pid": str(dead.pid), "fgit-bench.pid-start": f"{dead_start:.2f}",
              "fgit-bench.sandbox": uuid.uuid4().hex}
    stale = client.containers.run(image, ["sleep", "60"], detach=True, labels=labels, network_mode="none")
    ours = client.containers.run(image, ["sleep", "60"], detach=True, network_mode="none",
                                 labels={**_harness_labels(), "fgit-bench.sandbox": uuid.uuid4().hex})
    try:
        removed = cleanup_stale_containers(client)
        assert stale.id[:12] in removed and ours.id[:12] not in removed
        assert session_containers(labels["fgit-bench.sandbox"]) == []
        # transfer directories: a dead harness's go, a live one's stay
        stale_dir, live_dir = Path(_root()) / f"{dead.pid}-{dead_start:.2f}-x", Path(make_xfer_dir())
        stale_dir.mkdir()
        sweep_stale_xfer_dirs()
        assert not stale_dir.exists() and live_dir.is_dir()
        live_dir.rmdir()
    finally:
        ours.remove(force=True)


HARNESS = '''
import sys, time
from sandboxes import make_sandbox
box = make_sandbox("docker", jobs=2, announce=False)
list(box.run("ping", [1, 2], [60, 60]))
print(box.session, flush=True)
time.sleep(120)
'''


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_no_container_left_after_the_harness_is_interrupted_or_killed(client, how):
    proc = subprocess.Popen([sys.executable, "-c", HARNESS], stdout=subprocess.PIPE, text=True, cwd=SOURCE_ROOT)
    session = proc.stdout.readline().strip()
    assert len(session_containers(session)) == 2
    proc.send_signal(getattr(signal, how))
    proc.wait(timeout=60)
    if how == "SIGKILL":  # nothing in the harness ran: the next start's cleanup removes them
        from sandboxes.docker import cleanup_stale_containers

        cleanup_stale_containers(client)
    assert session_containers(session) == []
    assert wait_for_no_processes(session) == []


def test_build_is_cached_and_check_reports_backends(client):
    # The image key covers the sandbox sources: where another checkout built it, this first build makes ours.
    first = run_cli("sandbox", "build", "--environment", "evalplus")
    assert first.returncode == 0, first.stderr
    proc = run_cli("sandbox", "build", "--environment", "evalplus")
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stderr and ": built " not in proc.stderr, proc.stderr
    assert proc.stdout == first.stdout
    assert proc.stdout.split()[-1] == client.images.get(get_environment("evalplus").image_tag()).id
    check = run_cli("sandbox", "check", "--require", "docker")
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines()[0].startswith("docker: ok: daemon")


def test_offline_build_without_mmdebstrap_is_a_clear_infra_error(client, monkeypatch, tmp_path):
    from sandboxes.image_build import rootfs_image

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without mmdebstrap
    recipe = ImageRecipe(debian_packages=("python3", f"fgit-not-built-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(InfraError, match="mmdebstrap is not installed") as caught:
        rootfs_image(client, recipe)
    assert caught.value.exit_code == 3

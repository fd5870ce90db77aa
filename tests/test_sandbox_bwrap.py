"""The bwrap backend with real bubblewrap: what the sandbox can see, limits, timeouts, OOM, no leftovers."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness.evaluation import EvaluateConfig, evaluate
from sandboxes.base import Limits
from sandboxes.cgroups import CgroupFactory
from sandboxes.process import SOURCE_ROOT
from tests.sandbox_fixtures import (
    UNIT_LIMITS,
    humaneval_problems,  # noqa: F401  (fixture)
    open_sandbox,
    probe_value,
    require_backend,
    run_code,
    sandbox_processes,
    unavailable,
    wait_for_no_processes,
)

pytestmark = pytest.mark.bwrap


@pytest.fixture(scope="module")
def sandbox():
    box = open_sandbox("bwrap", jobs=1, limits=UNIT_LIMITS)
    yield box
    box.close()
    assert wait_for_no_processes(box.session) == []


@pytest.fixture
def planted_secret():
    """A secret in the home directory, and a file in this checkout: neither may be visible inside."""
    token = uuid.uuid4().hex
    secret = Path.home() / f".fgit-bwrap-secret-{token}"
    secret.write_text(f"SECRET-{token}")
    yield secret
    secret.unlink(missing_ok=True)


def test_what_the_sandbox_sees(sandbox, planted_secret):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    python_prefix = Path(sandbox.python).parent.parent  # the venv
    view = probe_value(run_code(sandbox, f'''
import os, socket
def exists(path):
    return os.path.exists(path)
def probe():
    status = {{k: v.strip() for k, v in (line.split(":", 1) for line in open("/proc/self/status"))
              if k in ("CapEff", "CapPrm", "NoNewPrivs", "Uid")}}
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
        connected = True
    except OSError:
        connected = False
    writable = []
    for path in ("/", "/etc", "/usr", "/opt/fgit/sandboxes", "/opt/fgit/sandboxes/guest", {str(python_prefix)!r}, "/workspace", "/tmp"):
        try:
            open(path + "/probe-file", "w").close()
            writable.append(path)
        except OSError:
            pass
    return {{"pid": os.getppid(), "interfaces": [n for _, n in socket.if_nameindex()], "connected": connected,
            "secret": exists({str(planted_secret)!r}), "readme": exists({str(SOURCE_ROOT / "README.md")!r}),
            "harness": exists({str(SOURCE_ROOT / "harness")!r}), "venv_parent": sorted(os.listdir(
            {str(python_prefix.parent)!r})), "writable": writable, "cwd": os.getcwd(), "shadow": exists("/etc/shadow"),
            "usr_local": os.listdir("/usr/local"), "hostname": socket.gethostname(), "status": status}}
'''))
    server.close()
    assert view["pid"] == 1  # the worker, which forks a process per job (issue 27), is PID 1 of the namespace
    assert view["interfaces"] == ["lo"] and view["connected"] is False
    assert view["secret"] is False and view["shadow"] is False
    assert view["readme"] is False and view["harness"] is False  # the checkout is not mounted, only the venv
    assert view["venv_parent"] == [python_prefix.name]
    assert view["writable"] == ["/workspace", "/tmp"] and view["cwd"] == "/workspace"
    assert view["hostname"] == "sandbox" and view["usr_local"] == []
    assert view["status"]["CapEff"] == view["status"]["CapPrm"] == "0000000000000000"
    assert view["status"]["NoNewPrivs"] == "1"


def test_workers_live_across_runs(sandbox):
    """The worker (PID 1, started once) serves both runs; what a job leaves in its process does not reach the next
    job (each runs in a process the worker forks for it: issue 27)."""
    counter = ("import builtins\ndef probe():\n    builtins.n = getattr(builtins, 'n', 0) + 1\n"
               "    return [open('/proc/1/stat').read().split()[21], builtins.n]\n")
    first = probe_value(run_code(sandbox, counter))
    second = probe_value(run_code(sandbox, counter))  # a new run() call: the pool's threads were replaced
    assert second[0] == first[0] and first[1] == second[1] == 1


def test_evaluate_in_bwrap(tmp_path, humaneval_problems, sandbox):  # noqa: F811
    tasks = ["HumanEval/0", "HumanEval/2", "HumanEval/53"]
    rows = [{"task_id": t, "solution": humaneval_problems[t]["prompt"] + humaneval_problems[t]["canonical_solution"]}
            for t in tasks[:2]]
    rows.append({"task_id": tasks[2], "solution": humaneval_problems[tasks[2]]["prompt"] + "    return x - y\n"})
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = EvaluateConfig(benchmark="humaneval", samples=str(samples), output=str(tmp_path / "out"), jobs=1,
                         sandbox="bwrap", tasks=tasks)
    summary = evaluate(cfg, sandbox=sandbox, quiet=True)
    assert (summary.base_pass, summary.plus_pass) == (2, 2)
    prov = json.loads((tmp_path / "out" / "eval_results.json").read_text())["provenance"]["sandbox"]
    assert prov["backend"] == "bwrap" and prov["python"] == sandbox.python


def test_timeout_kills_the_worker_and_all_it_started(sandbox):
    before = {p.pid for p in sandbox_processes(sandbox.session)}
    [(_, stuck)] = list(sandbox.run("evalplus_groundtruth", [{
        "prompt": "import os, time\ndef probe():\n    os.fork()\n    time.sleep(60)\n", "canonical_solution": "",
        "entry_point": "probe", "base_input": [[]], "plus_input": [], "output_not_none": False}], [2.0]))
    assert stuck.error == "timeout"
    assert probe_value(run_code(sandbox, "def probe():\n    return 'alive'\n")) == "alive"
    now = {p.pid for p in sandbox_processes(sandbox.session)}
    assert before and now and before.isdisjoint(now)  # the old worker and its child are gone


def test_worker_survives_kill_attempts_and_sweeps_daemons(sandbox):
    spawned = probe_value(run_code(sandbox, '''
import os, signal, time
def probe():
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
        os.kill(1, sig)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(300)
        os._exit(0)
    time.sleep(0.3)
    return len([p for p in os.listdir("/proc") if p.isdigit()])
'''))
    assert spawned >= 2
    # every process but the worker (PID 1) and the job process running this probe is gone
    left = probe_value(run_code(sandbox, "import os\ndef probe():\n    return [p for p in os.listdir('/proc') if p.isdigit() and p != str(os.getpid())]\n"))
    assert left == ["1"]


def test_process_limit(sandbox):
    if sandbox.cgroups is None:
        unavailable("no writable cgroup here: bwrap cannot bound the number of processes of root")
    forked = probe_value(run_code(sandbox, '''
import os, time
def probe():
    count = 0
    try:
        while count < 1000:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            count += 1
    except OSError:
        pass
    return count
'''))
    assert forked < UNIT_LIMITS.processes


def test_out_of_memory_is_reported_as_oom():
    box = open_sandbox("bwrap", jobs=1, limits=Limits(memory_mb=300, processes=32, tmpfs_mb=16))  # group: 588 MB
    if box.cgroups is None:
        box.close()
        unavailable("no writable cgroup here: memory is bounded per process (RLIMIT_AS) only")
    try:
        code = '''
import os
def probe():
    kids = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            block = bytearray(150 << 20)  # six of them: 900 MB, each under the 300 MB address-space limit
            for i in range(0, len(block), 4096):
                block[i] = 1
            os._exit(0)
        kids.append(pid)
    return [os.waitpid(pid, 0)[1] for pid in kids]
'''
        result = run_code(box, code)
        assert result.error == "oom", result
        assert probe_value(run_code(box, "def probe():\n    return 'replaced'\n")) == "replaced"
    finally:
        box.close()


HARNESS = '''
import time
from sandboxes import make_sandbox
box = make_sandbox("bwrap", jobs=2, announce=False)
list(box.run("ping", [1, 2], [60, 60]))
print(box.session, flush=True)
time.sleep(120)
'''


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_nothing_outlives_the_harness(how):
    require_backend("bwrap")
    proc = subprocess.Popen([sys.executable, "-c", HARNESS], stdout=subprocess.PIPE, text=True, cwd=SOURCE_ROOT)
    session = proc.stdout.readline().strip()
    assert len(sandbox_processes(session)) >= 2
    proc.send_signal(getattr(signal, how))
    proc.wait(timeout=60)
    assert wait_for_no_processes(session) == []  # --die-with-parent takes the namespaces down
    factory = CgroupFactory.probe()  # what the next harness start does: remove the groups of dead harnesses
    if factory is not None:
        left = [d for parent in factory.parents.values() for d in parent.glob(f"fgit-bench-{proc.pid}-*")]
        assert left == []

"""`bwrap`: workers run under bubblewrap in fresh network, pid, ipc, uts (and, where possible, user) namespaces.

The sandbox sees only what the code needs, read-only: /usr (with /usr/local hidden unless the interpreter lives
there), the merged-/usr symlinks, a handful of /etc files (dynamic loader, passwd/group), the environment's
interpreter prefixes (e.g. the venv and the pyenv version its python points to: the venv directory itself, never
its parent) and this checkout's guest package (`sandboxes/guest`) at /opt/fgit/sandboxes/guest. Home directories, /root, /work and other
checkouts do not exist inside. Writable: size-limited tmpfs mounts at /workspace (cwd, HOME), /tmp and /dev/shm.
The worker runs as PID 1 (`--as-pid-1`): samples cannot kill it, and it kills what a sample leaves behind;
`--die-with-parent` takes the whole namespace down with the harness. rlimits (address space, file size, core)
as in the process backend, plus a per-worker cgroup (pids, memory, OOM count) where one is writable.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import resource
import shutil
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import psutil

from harness.core.errors import InfraError
from sandboxes.base import SANDBOXES, Limits, Sandbox
from sandboxes.cgroups import CgroupFactory, WorkerCgroup
from sandboxes.environments import get_environment
from sandboxes.pool import WorkerHandle
from sandboxes.process import GUEST_DIR, SOURCE_ROOT, PipeWorker, rlimit_setter, worker_env

MOUNT_ROOT = "/opt/fgit"
WORK_DIR = "/workspace"
# What libraries read from /etc (loader, users, time zone, fonts, CA certificates, mime types); nothing secret:
# no shadow, no ssl/private, no ssh, no credentials.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime",
             "timezone", "alternatives", "fonts", "ssl/certs", "ca-certificates.conf", "mime.types", "protocols",
             "services", "hosts")
TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
NOBODY = "65534"
# The prefixes, and site-packages directories that .pth files add from elsewhere (a venv layered on another one).
_PREFIXES_PROBE = ("import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, "
                   "sys.base_exec_prefix] + [p for p in sys.path if p.endswith('site-packages')]))")


def _bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def interpreter_prefixes(python: str) -> tuple[str, ...]:
    """The directories `python` needs (its venv and the installation it points to), outermost only."""
    done = subprocess.run([python, "-c", _PREFIXES_PROBE], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise InfraError(f"cannot run the sandbox interpreter {python}: {done.stderr.strip()[-200:]}")
    paths = set()
    for prefix in json.loads(done.stdout):
        paths.update({os.path.abspath(prefix), os.path.realpath(prefix)})
    source = str(SOURCE_ROOT)
    for path in paths:
        if path == "/" or source == path or source.startswith(path.rstrip("/") + "/"):
            raise InfraError(f"the interpreter prefix {path} contains this checkout: bwrap would expose it; "
                             f"use a venv outside the checkout's parent directories")
    outermost = [p for p in paths if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in paths)]
    return tuple(sorted(p for p in outermost if not (p == "/usr" or p.startswith("/usr/") and
                                                     not p.startswith("/usr/local"))))


@functools.cache
def _probe(userns: bool) -> tuple[bool, str]:
    """Can bwrap start a sandbox here (with a user namespace mapped to nobody, or without)?"""
    argv = [_bwrap() or "bwrap", "--unshare-all", "--die-with-parent", "--as-pid-1"]
    argv += ["--unshare-user", "--uid", NOBODY, "--gid", NOBODY] if userns else []
    argv += ["--ro-bind", "/usr", "/usr", *_top_links(), "--proc", "/proc", "--dev", "/dev", "--", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def _top_links() -> list[str]:
    args = []
    for name in TOP_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    return args


@functools.cache
def _supports_size() -> bool:
    done = subprocess.run([_bwrap() or "bwrap", "--help"], capture_output=True, text=True)
    return "--size" in done.stdout


@functools.cache
def _cgroups() -> CgroupFactory | None:
    return CgroupFactory.probe()


class _Spawner:
    """Starts bwrap from one long-lived thread. `--die-with-parent` (PR_SET_PDEATHSIG) fires when the *thread* that
    forked bwrap exits, and the pool's threads end after every run(): started from them, every worker would be
    killed between the ground-truth run and the checks. This thread lives as long as the harness process."""

    def __init__(self):
        self._requests: queue.Queue = queue.Queue()
        threading.Thread(target=self._serve, name="fgit-bwrap-spawner", daemon=True).start()

    def _serve(self) -> None:
        while True:
            start, reply = self._requests.get()
            try:
                reply.put((True, start()))
            except BaseException as exc:  # handed to the caller's thread
                reply.put((False, exc))

    def call(self, start):
        reply: queue.Queue = queue.Queue(maxsize=1)
        self._requests.put((start, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value


_spawner_lock = threading.Lock()
_spawner: _Spawner | None = None


def spawner() -> _Spawner:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
        return _spawner


class BwrapWorker(PipeWorker):
    def __init__(self, argv: list[str], env: dict[str, str], preexec_fn, cgroup: WorkerCgroup | None):
        self.cgroup = cgroup
        super().__init__(argv, env, preexec_fn=preexec_fn, cwd="/")

    def kill(self) -> None:
        super().kill()
        if self.cgroup is not None:
            self.cgroup.remove()

    def exit_reason(self) -> str:
        # bwrap exits with its child's status, so a SIGKILL says nothing: only the group's OOM counter does.
        return "oom" if self.oom_events() > 0 else "sandbox_error"

    def oom_events(self) -> int:
        return self.cgroup.oom_kills() if self.cgroup is not None else 0


@SANDBOXES.register("bwrap")
class BwrapSandbox(Sandbox):
    name = "bwrap"

    def __init__(self, limits: Limits | None = None, jobs: int = 1, environment: str = "evalplus"):
        super().__init__(limits, jobs, environment)
        if _bwrap() is None:
            raise InfraError("bubblewrap is not installed (apt-get install -y bubblewrap)")
        self.python = get_environment(environment).host_python()
        self.prefixes = interpreter_prefixes(self.python)
        self.userns = _probe(True)[0]
        if not self.userns and not _probe(False)[0]:
            raise InfraError(f"bwrap cannot create a sandbox here: {_probe(False)[1]}")
        self.cgroups = _cgroups()
        self.session = uuid.uuid4().hex  # marks this sandbox's processes (tests look for leftovers)

    @classmethod
    def check(cls, environment: str = "evalplus") -> tuple[bool, str]:
        if _bwrap() is None:
            return False, "bubblewrap is not installed (apt-get install -y bubblewrap)"
        ok, why = _probe(True)
        if not ok:
            ok, why_no_userns = _probe(False)
            if not ok:
                return False, f"a trial `bwrap ... true` failed: {why_no_userns or why}"
        ready, why_not = get_environment(environment).host_ready()
        if not ready:  # never start a long environment build from a check
            return False, f"the {environment} environment's interpreter is not built: {why_not}"
        try:
            sandbox = cls(environment=environment)
            done = subprocess.run(sandbox.argv() + ["-c", "import sandboxes.guest.jobs"], capture_output=True, text=True,
                                  timeout=60, env={"PATH": "/usr/bin:/bin"})
        except (InfraError, OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        if done.returncode != 0:
            return False, f"the worker's interpreter does not start inside bwrap: {done.stderr.strip()[-200:]}"
        user = "user namespace (nobody)" if sandbox.userns else "no user namespace"
        groups = sandbox.cgroups.describe() if sandbox.cgroups else "no writable cgroup: pids/memory via rlimits only"
        return True, f"bubblewrap, {user}, {groups}"

    def argv(self) -> list[str]:
        """bwrap's command line up to the interpreter (the caller appends its arguments)."""
        limits = self.limits
        args = [_bwrap(), "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1",
                "--cap-drop", "ALL", "--hostname", "sandbox"]
        if self.userns:
            args += ["--unshare-user", "--uid", NOBODY, "--gid", NOBODY]
        size = ["--size", str(limits.tmpfs_mb << 20)] if _supports_size() else []
        for mount in (WORK_DIR, "/tmp"):  # before the binds, so that none of them is hidden by a tmpfs
            args += [*size, "--tmpfs", mount]
        args += ["--ro-bind", "/usr", "/usr", *_top_links()]
        if not any(p.startswith("/usr/local") for p in self.prefixes):
            args += ["--tmpfs", "/usr/local"]  # host-local tools and installs are not the sandbox's business
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for prefix in self.prefixes:
            args += ["--ro-bind", prefix, prefix]
        args += ["--ro-bind", str(GUEST_DIR), f"{MOUNT_ROOT}/sandboxes/guest",
                 "--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue"]  # mqueue: swept (guest/residue.py)
        args += [*size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK_DIR,
                 "--clearenv"]
        env = worker_env({"PYTHONPATH": MOUNT_ROOT, "HOME": WORK_DIR, "TMPDIR": "/tmp", "FGIT_SANDBOX_PIDNS": "1",
                          "FGIT_SANDBOX_SESSION": self.session, "FGIT_SANDBOX_SCRATCH": f"{WORK_DIR}:/tmp:/dev/shm",
                          "EVALPLUS_MAX_MEMORY_BYTES": str(limits.memory_mb << 20)}, self.environment)
        for key, value in env.items():
            args += ["--setenv", key, value]
        return args + ["--", self.python]

    def _preexec(self, cgroup: WorkerCgroup | None):
        set_rlimits = rlimit_setter(self.limits)
        nproc = None
        if cgroup is None and os.getuid() != 0:  # root ignores RLIMIT_NPROC; a user's count includes its others
            nproc = len([p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == os.getuid()])
            nproc += self.limits.processes

        def apply() -> None:
            if cgroup is not None:
                cgroup.enter()
            set_rlimits()
            if nproc is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

        return apply

    def spawn_worker(self) -> WorkerHandle:
        cgroup = None
        if self.cgroups is not None:
            cgroup = self.cgroups.create(self.limits.group_memory_mb() << 20, self.limits.processes,
                                         self.limits.cpus)
        argv, preexec = self.argv() + ["-m", "sandboxes.guest.worker"], self._preexec(cgroup)
        try:
            return spawner().call(lambda: BwrapWorker(argv, {"PATH": "/usr/bin:/bin"}, preexec, cgroup))
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "python": self.python, "image_id": None, "environment": self.environment,
                "isolating": True, "binds": list(self.prefixes), "user_namespace": self.userns,
                "cgroup": self.cgroups.describe() if self.cgroups else None,
                "group_memory_mb": self.limits.group_memory_mb() if self.cgroups else None,
                "limits": self.limits.__dict__, "network": "none"}

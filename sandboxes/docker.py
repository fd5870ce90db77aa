"""`docker`: every worker is a long-lived container, talking the worker protocol over its attached stdin/stdout.

Each container: no network, memory (+swap) / CPU / pids limits, read-only root, size-limited tmpfs at /workspace (cwd,
HOME) and /tmp, user 65534, all capabilities dropped, no-new-privileges, and only the guest package (`sandboxes/guest`) of this
checkout bind-mounted read-only (the image brings the interpreter and libraries). The worker runs as PID 1 of the
container's pid namespace: samples cannot kill it, and it kills whatever a sample left running after each job.

Containers carry labels (fgit-bench=1, session, host, harness pid and its start time). They are removed on close,
at exit, on SIGTERM, and, after a harness crash, by `cleanup_stale_containers()` at the next start; stdin closes
when the harness dies (stdin_once), so an orphaned worker also exits by itself.
"""

from __future__ import annotations

import atexit
import os
import pickle
import platform
import select
import signal
import socket
import sys
import threading
import time
import uuid
from typing import Any

from harness.core.errors import InfraError
from sandboxes.base import SANDBOXES, Limits, Sandbox, process_start, same_process_alive
from sandboxes.cgroups import oom_counter_file, read_oom_kills
from sandboxes.environments import get_environment
from sandboxes.guest.protocol import HEADER, MAX_FRAME
from sandboxes.pool import WorkerHandle
from sandboxes.process import GUEST_DIR, worker_env
from sandboxes.xfer import make_xfer_dir, remove_xfer_dir, sweep_stale_xfer_dirs

LABEL = "fgit-bench"
SESSION = uuid.uuid4().hex
MOUNT_ROOT = "/opt/fgit"  # GUEST_DIR is mounted at MOUNT_ROOT/sandboxes/guest (no sandboxes/__init__.py above it)
XFER_DIR = "/opt/fgit-xfer"  # the worker's transfer directory (sandboxes.xfer), read-only
WORK_DIR = "/workspace"
STREAM_HEADER = 8  # docker's multiplexed stream: [stream, 0, 0, 0, size (uint32 big-endian)]
LOG_TAIL = 16 << 10

_live: dict[str, DockerWorker] = {}
_live_lock = threading.Lock()
_cleaned_up = False


def _docker_client(timeout: int = 120):
    try:
        import docker
    except ImportError as exc:
        raise InfraError("the `docker` Python package is not installed (pip install docker)") from exc
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        raise InfraError(f"no Docker daemon reachable ({_short(exc)}); start dockerd or pick --sandbox bwrap") from None
    return client


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _harness_labels() -> dict[str, str]:
    return {LABEL: "1", f"{LABEL}.session": SESSION, f"{LABEL}.host": platform.node(),
            f"{LABEL}.pid": str(os.getpid()), f"{LABEL}.pid-start": f"{process_start(os.getpid()) or 0:.2f}"}


def _harness_alive(labels: dict[str, str]) -> bool:
    try:
        pid, started = int(labels[f"{LABEL}.pid"]), float(labels[f"{LABEL}.pid-start"])
    except (KeyError, ValueError):
        return False
    return same_process_alive(pid, started)


def cleanup_stale_containers(client=None) -> list[str]:
    """Remove this host's fgit-bench containers whose harness process is gone (crash, SIGKILL, reboot)."""
    import docker.errors

    client = client or _docker_client()
    removed = []
    for info in client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        labels = info.get("Labels") or {}
        if labels.get(f"{LABEL}.host") != platform.node() or _harness_alive(labels):
            continue
        try:
            client.api.remove_container(info["Id"], force=True)
            removed.append(info["Id"][:12])
        except docker.errors.APIError:
            pass  # already gone, or being removed by its own harness
    return removed


def remove_live_containers() -> None:
    """Kill and remove every container this process started (atexit, SIGTERM, Ctrl-C)."""
    with _live_lock:
        workers = list(_live.values())
    for worker in workers:
        worker.kill()


def _on_sigterm(signum, frame):
    remove_live_containers()
    raise SystemExit(128 + signum)


atexit.register(remove_live_containers)


class DockerWorker(WorkerHandle):
    """One container running `python -m sandboxes.guest.worker`; frames travel in docker's stdout stream."""

    def __init__(self, client, create: dict[str, Any], xfer_dir: str):
        self.client = client
        self.xfer = (xfer_dir, XFER_DIR)
        config = client.api.create_container_config(**create)
        config["StdinOnce"] = True  # stdin closes when our attach does (harness died): the worker then exits
        self.id = client.api.create_container_from_config(config)["Id"]
        with _live_lock:
            _live[self.id] = self
        self._dead = False
        self._stdout = bytearray()  # demultiplexed stdout: protocol frames
        self._raw = bytearray()  # undecoded multiplexed bytes
        self._log = bytearray()  # the worker's stderr, last LOG_TAIL bytes
        self._oom_file = None
        try:
            response = client.api.attach_socket(self.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            self._socket_io = response
            self._sock: socket.socket = getattr(response, "_sock", response)
            self._sock.setblocking(True)
            client.api.start(self.id)
            self._oom_file = oom_counter_file(self._state().get("Pid") or 0)
        except BaseException:
            self.kill()
            raise

    def send(self, frame: bytes) -> None:
        self._sock.sendall(frame)

    def recv(self, timeout: float):
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            frame = self._next_frame()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._sock], [], [], remaining)
            if not ready:
                return None
            data = self._sock.recv(1 << 16)
            if not data:
                raise EOFError(f"container exited: {self.log_tail(300)}")
            self._demux(data)

    def _demux(self, data: bytes) -> None:
        self._raw += data
        while len(self._raw) >= STREAM_HEADER:
            stream, size = self._raw[0], int.from_bytes(self._raw[4:8], "big")
            if len(self._raw) < STREAM_HEADER + size:
                return
            payload = self._raw[STREAM_HEADER:STREAM_HEADER + size]
            del self._raw[:STREAM_HEADER + size]
            if stream == 1:
                self._stdout += payload
            else:
                self._log = (self._log + payload)[-LOG_TAIL:]

    def _next_frame(self):
        if len(self._stdout) < HEADER.size:
            return None
        (size,) = HEADER.unpack(self._stdout[:HEADER.size])
        if size > MAX_FRAME:
            raise EOFError(f"frame of {size} bytes: protocol broken")
        if len(self._stdout) < HEADER.size + size:
            return None
        blob = bytes(self._stdout[HEADER.size:HEADER.size + size])
        del self._stdout[:HEADER.size + size]
        return pickle.loads(blob)

    def kill(self) -> None:
        import docker.errors

        if self._dead:
            return
        self._dead = True
        for closable in (getattr(self, "_sock", None), getattr(self, "_socket_io", None)):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass
        for _ in range(3):
            try:
                self.client.api.remove_container(self.id, force=True)
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:  # "removal already in progress" and the like
                time.sleep(0.2)
            except Exception:  # noqa: BLE001  (daemon gone: the next start's cleanup removes it)
                break
        with _live_lock:
            _live.pop(self.id, None)
        remove_xfer_dir(self.xfer[0])

    def _state(self) -> dict:
        try:
            return self.client.api.inspect_container(self.id).get("State") or {}
        except Exception:  # noqa: BLE001  (removed or daemon gone)
            return {}

    def exit_reason(self) -> str:
        deadline = time.monotonic() + 2.0
        state = self._state()
        while state.get("Running") and time.monotonic() < deadline:  # EOF can arrive before the exit is recorded
            time.sleep(0.05)
            state = self._state()
        return "oom" if state.get("OOMKilled") or self.oom_events() > 0 else "sandbox_error"

    def oom_events(self) -> int:
        # The container's memory cgroup counts every OOM kill in it; the daemon's OOMKilled flag (the fallback,
        # one inspect per job) is only set when its init process is the one killed.
        if self._oom_file is not None:
            return read_oom_kills(self._oom_file)
        return int(bool(self._state().get("OOMKilled")))

    def log_tail(self, size: int = 4000) -> str:
        return bytes(self._log[-size:]).decode("utf-8", "replace")


@SANDBOXES.register("docker")
class DockerSandbox(Sandbox):
    name = "docker"

    def __init__(self, limits: Limits | None = None, jobs: int = 1, environment: str = "evalplus"):
        super().__init__(limits, jobs, environment)
        import docker.errors

        global _cleaned_up
        self.client = _docker_client()
        self.tag = get_environment(environment).image_tag()
        try:
            self.image = self.client.images.get(self.tag)
        except docker.errors.ImageNotFound:
            raise InfraError(f"Docker image {self.tag} not found: run `fgit-bench sandbox build "
                             f"--environment {environment}`") from None
        self.python = (self.image.labels or {}).get("fgit-bench.python") or "python3"
        self.session = uuid.uuid4().hex  # marks this sandbox's containers and processes (tests look for leftovers)
        if not _cleaned_up:
            _cleaned_up = True
            removed = cleanup_stale_containers(self.client)
            sweep_stale_xfer_dirs()
            if removed:
                print(f"fgit-bench: removed {len(removed)} leftover sandbox container(s) of dead runs",
                      file=sys.stderr)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
                signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)  # so `kill <harness>` still removes the containers

    @classmethod
    def check(cls, environment: str = "evalplus") -> tuple[bool, str]:
        try:
            client = _docker_client(timeout=10)
            version = client.version().get("Version", "?")
        except InfraError as exc:
            return False, str(exc)
        tag = get_environment(environment).image_tag()
        try:
            image = client.images.get(tag)
        except Exception:  # noqa: BLE001
            return False, (f"daemon {version} is up but image {tag} is missing: "
                           f"run `fgit-bench sandbox build --environment {environment}`")
        return True, f"daemon {version}, image {tag} ({image.id[:19]})"

    def _create_args(self, xfer_dir: str) -> dict[str, Any]:
        from docker.types import LogConfig, Ulimit

        limits, mb = self.limits, 1 << 20
        memory = limits.group_memory_mb() * mb
        fsize = limits.file_size_mb * mb
        tmpfs = f"rw,nosuid,nodev,size={limits.tmpfs_mb}m"
        # /workspace is not in the image: docker would give the tmpfs the root-owned mount point's owner
        workspace = f"{tmpfs},uid=65534,gid=65534,mode=0700"
        host_config = self.client.api.create_host_config(
            network_mode="none", ipc_mode="private",
            mem_limit=memory, memswap_limit=memory, nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.processes, read_only=True, tmpfs={WORK_DIR: workspace, "/tmp": f"{tmpfs},mode=1777"}, shm_size=64 * mb,
            cap_drop=["ALL"], security_opt=["no-new-privileges"], init=False,
            binds={str(GUEST_DIR): {"bind": f"{MOUNT_ROOT}/sandboxes/guest", "mode": "ro"},
                   xfer_dir: {"bind": XFER_DIR, "mode": "ro"}},
            ulimits=[Ulimit(name="fsize", soft=fsize, hard=fsize), Ulimit(name="core", soft=0, hard=0),
                     Ulimit(name="nofile", soft=1024, hard=1024)],
            log_config=LogConfig(type="none"),  # the worker's stderr reaches us over attach; nothing on disk
        )
        environment = worker_env({"PYTHONPATH": MOUNT_ROOT, "HOME": WORK_DIR, "TMPDIR": "/tmp",
                                  "FGIT_SANDBOX_PIDNS": "1", "FGIT_SANDBOX_SESSION": self.session,
                                  "FGIT_SANDBOX_SCRATCH": f"{WORK_DIR}:/tmp:/dev/shm",
                                  "EVALPLUS_MAX_MEMORY_BYTES": str(limits.memory_mb * mb)}, self.environment)
        return dict(image=self.image.id, command=[self.python, "-m", "sandboxes.guest.worker"], user="65534:65534",
                    working_dir=WORK_DIR, environment=environment, hostname="sandbox",
                    labels={**_harness_labels(), f"{LABEL}.sandbox": self.session},
                    stdin_open=True, tty=False, network_disabled=True, host_config=host_config)

    def spawn_worker(self) -> WorkerHandle:
        xfer_dir = make_xfer_dir()
        try:
            return DockerWorker(self.client, self._create_args(xfer_dir), xfer_dir)
        except BaseException:
            remove_xfer_dir(xfer_dir)
            raise

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "image": self.tag, "image_id": self.image.id, "python": self.python,
                "environment": self.environment, "isolating": True, "limits": self.limits.__dict__,
                "group_memory_mb": self.limits.group_memory_mb(), "network": "none", "user": "65534:65534"}

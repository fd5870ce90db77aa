"""Sandboxed jobs on a Ray cluster (`--executor ray`): one actor per node owns that node's warm sandbox pool.

Each node runs the configured sandbox backend on its own machine (`auto` resolves there); candidate code runs only
in that node's sandbox workers, and what comes back is the job's raw result: the verdict is judged by the caller,
on the driver. The driver schedules dynamically: jobs leave the feed highest priority (largest expected cost)
first, each node holds at most its worker count + 1 jobs, and results are yielded as they arrive.

Faults: a node lost mid-run (its actor dies with it) has its unfinished jobs put back in the queue and run on the
other nodes; a job's result is yielded once, from the run that finished. An infrastructure error (the actor died,
the node's sandbox failed to start) is retried up to `RETRIES` times elsewhere; a job that still has no result is
never turned into a result: the run ends with `LostJobs` naming them. A node whose sandbox check fails, or whose
hardware differs from the majority's (ground-truth times would not apply to it), is not used, with one line.
"""

from __future__ import annotations

import os
import queue
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

from harness.core.errors import InfraError
from sandboxes.base import Limits, Sandbox
from sandboxes.pool import JobFeed, JobResult

RETRIES = 3  # infrastructure failures of one job (on any nodes) before it counts as lost
START_TIMEOUT = 300.0  # an actor's sandbox start (a node pulling nothing, starting its warm pool)
LOOPBACK_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}


class LostJobs(InfraError):
    """Jobs that no node could run (after retries): never a verdict. `keys`: their feed keys."""

    def __init__(self, message: str, keys: list):
        super().__init__(message)
        self.keys = keys


class NodeSandbox:
    """The per-node actor: a sandbox pool on the machine it is placed on; `run` is one job on a free worker."""

    def __init__(self, backend: str, jobs: int, environment: str, limits: Limits | None):
        import ray

        from sandboxes import check_backend, make_sandbox

        context = ray.get_runtime_context()
        self.node_id = context.get_node_id()
        self.ip = ray.util.get_node_ip_address()
        self.free: queue.Queue = queue.Queue()
        for slot in range(jobs):
            self.free.put(slot)
        self.sandbox = None
        self.error = None
        try:
            if backend != "auto":
                ok, why = check_backend(backend, environment)
                if not ok:
                    raise InfraError(f"sandbox {backend} unusable: {why}")
            self.sandbox = make_sandbox(backend, jobs=jobs, environment=environment, limits=limits, announce=False)
            self.sandbox.warm_up()
        except Exception as exc:  # noqa: BLE001  (reported by `info`: the driver leaves this node out)
            self.error = f"{type(exc).__name__}: {exc}"

    def info(self) -> dict:
        info = {"node_id": self.node_id, "ip": self.ip, "error": self.error, "jobs": self.free.qsize()}
        if self.sandbox is not None:
            described = self.sandbox.describe()
            key = self.sandbox.machine_key()
            info |= {"backend": described.get("backend"), "describe": described, "machine_key": key,
                     # the machine key without the host name: nodes of one hardware class share ground-truth times
                     "hardware": key.split("|", 1)[1],
                     "image": described.get("image_id") or described.get("python")}
        return info

    def run(self, function: str, payload: Any, timeout: float) -> JobResult:
        slot = self.free.get()
        try:
            return self.sandbox._get_pool().run_job(slot, function, payload, timeout)
        finally:
            self.free.put(slot)

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()


def connect(address: str | None) -> bool:
    """Join the cluster at `address` (None: $RAY_ADDRESS, else a Ray instance of our own); True if we joined now."""
    import ray

    if ray.is_initialized():
        return False
    for key, value in LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    target = address or os.environ.get("RAY_ADDRESS")
    if target and target != "auto" and "://" not in target:  # host:port: fail fast (ray.init retries for minutes)
        import socket

        host, _, port = target.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=10).close()
        except (OSError, ValueError) as exc:
            raise InfraError(f"ray: cannot join the cluster at {target}: {exc}") from None
    try:
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InfraError(f"ray: cannot join the cluster at {address or os.environ.get('RAY_ADDRESS')}: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return True


class RayPool:
    """The driver's side: the per-node actors, and `run`/`run_feed` as `sandboxes.pool.WorkerPool` has them."""

    def __init__(self, backend: str = "auto", environment: str = "evalplus", limits: Limits | None = None,
                 address: str | None = None, jobs_per_node: int | None = None,
                 log: Callable[[str], None] | None = None):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.log = log or (lambda line: print(f"fgit-bench: {line}", file=sys.stderr))
        self._own = connect(address)
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.counts: dict[str, int] = {}  # node id -> jobs it finished
        self.lost_nodes: list[str] = []
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]
        actor_cls = ray.remote(NodeSandbox)
        actors = []
        for node in nodes:
            size = jobs_per_node or int(node["Resources"]["CPU"])
            actors.append((actor_cls.options(
                num_cpus=0, max_concurrency=size + 1, max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote(backend, size, environment, limits), size))
        infos = {}
        for actor, _size in actors:
            try:
                infos[actor] = ray.get(actor.info.remote(), timeout=START_TIMEOUT)
            except Exception as exc:  # noqa: BLE001  (a node that cannot host the actor is not used)
                infos[actor] = {"node_id": "?", "ip": "?", "error": f"{type(exc).__name__}: {exc}"}
        usable = []
        for actor, size in actors:
            info = infos[actor]
            if info["error"]:
                self.log(f"ray node {info['ip']} {info['node_id'][:12]}: sandbox check failed ({info['error']}): "
                         "not used")
                ray.kill(actor)
            else:
                usable.append((actor, size, info))
        classes: dict[str, int] = {}
        for _, _, info in usable:
            classes[info["hardware"]] = classes.get(info["hardware"], 0) + 1
        if not usable:
            self.close()
            raise InfraError("ray: no node of the cluster has a usable sandbox")
        major = max(classes, key=lambda key: (classes[key], key))
        for actor, _, info in usable:
            if info["hardware"] != major:
                self.log(f"ray node {info['ip']} {info['node_id'][:12]}: other hardware or sandbox image "
                         f"({info['hardware']}) than the majority's ({major}): not used (ground-truth times "
                         "would not apply there)")
                ray.kill(actor)
        self.nodes = [{"actor": a, "size": s, "info": i, "load": 0, "alive": True}
                      for a, s, i in usable if i["hardware"] == major]
        keys = {node["info"]["machine_key"] for node in self.nodes}
        # one machine (every node on this host): its own key, so verdicts and ground truth are shared with `local`
        self.machine_key = keys.pop() if len(keys) == 1 else f"ray-cluster|{major}"
        self.size = sum(node["size"] for node in self.nodes)

    # ---- the WorkerPool interface ---------------------------------------------------------------------------
    def warm_up(self) -> None:
        """The actors started their pools when they were created."""

    def run(self, function: str, payloads: list, timeouts: list[float], costs: list[float] | None = None):
        feed = JobFeed()
        for index, (payload, timeout) in enumerate(zip(payloads, timeouts, strict=True)):
            feed.put(index, function, payload, timeout, 0.0 if costs is None else costs[index])
        feed.close()
        yield from self.run_feed(feed)

    def run_feed(self, feed: JobFeed):
        import ray

        inflight: dict = {}  # ref -> (job, node, attempts)
        retry: deque = deque()  # (job, attempts) of jobs whose node failed
        lost: list = []
        yielded = 0
        try:
            while True:
                self._fill(feed, inflight, retry)
                if not inflight:
                    finished, idle = feed.state(yielded + len(lost))
                    if finished or (idle and lost):
                        break
                    if idle:
                        raise RuntimeError("job feed left open with no job queued or running")
                    if not any(node["alive"] for node in self.nodes):
                        lost += [job[0] for job, _ in retry]
                        retry.clear()
                        while (job := feed.take_nowait()) is not None:
                            lost.append(job[0])
                        if feed.state(yielded + len(lost))[0]:
                            break
                        raise LostJobs(f"ray: every node is lost; {len(lost)} job(s) not run", lost)
                    continue
                ready, _ = ray.wait(list(inflight), num_returns=1)
                ref = ready[0]
                job, node, attempts = inflight.pop(ref)
                node["load"] -= 1
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001  (infrastructure: the node, the actor or its sandbox)
                    self._failed(node, exc)
                    if attempts + 1 >= RETRIES:
                        lost.append(job[0])
                        self.log(f"ray: job {job[0]!r} failed {attempts + 1} times on the cluster: not scored "
                                 f"({type(exc).__name__})")
                    else:
                        retry.append((job, attempts + 1))
                    continue
                info = node["info"]
                result.where = {"node": info["node_id"], "ip": info["ip"], "backend": info["backend"],
                                "image": info["image"]}
                self.counts[info["node_id"]] = self.counts.get(info["node_id"], 0) + 1
                yielded += 1
                yield job[0], result
        finally:
            feed.cancel()
            for ref in inflight:  # the caller stopped early: what is queued on the nodes is not run
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # noqa: BLE001  (already finished, or its node is gone)
                    pass
        if lost:
            raise LostJobs(f"ray: {len(lost)} job(s) could not be run on any node", lost)

    def _fill(self, feed: JobFeed, inflight: dict, retry: deque) -> None:
        """Give each live node jobs up to its worker count + 1: retried jobs first, then the feed's best."""
        while True:
            free = [node for node in self.nodes if node["alive"] and node["load"] < node["size"] + 1]
            if not free:
                return
            if retry:
                job, attempts = retry.popleft()
            else:
                job = feed.take_nowait()
                attempts = 0
                if job is None:
                    return
            node = min(free, key=lambda n: n["load"] / n["size"])
            _key, function, payload, timeout = job
            inflight[node["actor"].run.remote(function, payload, timeout)] = (job, node, attempts)
            node["load"] += 1

    def _failed(self, node: dict, exc: BaseException) -> None:
        import ray

        dead = isinstance(exc, (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                                ray.exceptions.NodeDiedError if hasattr(ray.exceptions, "NodeDiedError") else ()))
        if dead and node["alive"]:
            node["alive"] = False
            info = node["info"]
            self.lost_nodes.append(info["node_id"])
            self.log(f"ray node {info['ip']} {info['node_id'][:12]} lost ({type(exc).__name__}): its unfinished "
                     "jobs run again on the other nodes")

    def describe_nodes(self) -> list[dict]:
        return [{"node_id": n["info"]["node_id"], "ip": n["info"]["ip"], "backend": n["info"]["backend"],
                 "image": n["info"]["image"], "workers": n["size"], "jobs": self.counts.get(n["info"]["node_id"], 0),
                 "lost": not n["alive"]} for n in self.nodes]

    def close(self) -> None:
        import ray

        for node in getattr(self, "nodes", []):
            if node["alive"]:
                try:
                    ray.get(node["actor"].close.remote(), timeout=60)
                except Exception:  # noqa: BLE001  (a lost node: nothing of it is left to close)
                    pass
                ray.kill(node["actor"])
        self.nodes = []
        if self._own and ray.is_initialized():
            ray.shutdown()


class RaySandbox(Sandbox):
    """A `Sandbox` whose jobs run on a Ray cluster's nodes (each in its own sandbox backend)."""

    name = "ray"

    def __init__(self, backend: str = "auto", environment: str = "evalplus", limits: Limits | None = None,
                 address: str | None = None, jobs_per_node: int | None = None, announce: bool = True):
        super().__init__(limits=limits, jobs=1, environment=environment)
        self.backend = backend
        self._pool = RayPool(backend, environment, limits, address, jobs_per_node)
        self.jobs = self._pool.size
        if announce:
            self._pool.log(f"executor ray: {len(self._pool.nodes)} node(s), {self.jobs} sandbox workers, "
                           f"backend {self._pool.nodes[0]['info']['backend']}")

    @classmethod
    def check(cls) -> tuple[bool, str]:
        try:
            import ray  # noqa: F401
        except ImportError:
            return False, "the ray package is not installed"
        return True, "ray"

    def spawn_worker(self):
        raise NotImplementedError("workers are started by each node's actor")

    def describe(self) -> dict[str, Any]:
        first = self._pool.nodes[0]["info"]["describe"] if self._pool and self._pool.nodes else {}
        return {**first, "executor": "ray", "ray_address": self._pool.address if self._pool else None,
                "nodes": self._pool.describe_nodes() if self._pool else [],
                "lost_nodes": list(self._pool.lost_nodes) if self._pool else []}

    def machine_key(self) -> str:
        return self._pool.machine_key

    def _get_pool(self):
        if self._pool is None:
            raise InfraError("sandbox closed")
        return self._pool


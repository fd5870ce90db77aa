"""A real Ray cluster on this machine for the tests (tests/test_ray*.py): a head and two worker nodes, 1 CPU and a
100 MB object store each, usage stats and dashboard off, loopback only; torn down (and checked to leave no raylet or
GCS process behind) even when a test fails."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import psutil
import pytest

from tests.sandbox_fixtures import unavailable

NODE = {"num_cpus": 1, "object_store_memory": 100 * 1024 * 1024}


@dataclass
class RayCluster:
    cluster: object
    address: str
    workers: list = field(default_factory=list)

    def add_worker(self):
        node = self.cluster.add_node(**NODE)
        self.workers.append(node)
        self.cluster.wait_for_nodes()
        return node

    def remove_worker(self, node) -> None:
        self.workers.remove(node)
        self.cluster.remove_node(node, allow_graceful=False)


def session_processes(session_dir: str) -> list[str]:
    """Ray's own processes (raylet, gcs_server, workers) of one session, by the session directory they name."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if session_dir in cmdline and proc.info["pid"] != os.getpid():
            found.append(f"{proc.info['pid']} {cmdline[:100]}")
    return found


@pytest.fixture(scope="module")
def ray_cluster():
    try:
        import ray
        from ray.cluster_utils import Cluster
    except ImportError:
        unavailable("the ray package is not installed (pyproject pins it)")
    saved = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER",
                                            "RAY_ADDRESS")}
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every node on 127.0.0.1: loopback only
    os.environ.pop("RAY_ADDRESS", None)
    cluster = Cluster(initialize_head=True, head_node_args={"include_dashboard": False, **NODE})
    session_dir = cluster.head_node.get_session_dir_path()
    try:
        handle = RayCluster(cluster, cluster.address)
        handle.add_worker()
        handle.add_worker()
        yield handle
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        deadline = time.monotonic() + 20
        while session_processes(session_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = session_processes(session_dir)
        assert not left, f"Ray processes left behind: {left}"

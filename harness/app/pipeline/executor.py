"""Where the work of a pipeline stage runs: the seam that a cluster executor takes (the Ray issue adds `ray`).

`stages.run_stage` decides whether a stage is done (its record matches its input key) and writes the record; an
executor only runs the work of a stage that is not done and returns what it returned. `local` runs it inline, in
this process, in the order the pipeline asks (today's behaviour). Executors register by name like every other
kind (`EXECUTORS`), so one published as its own package registers through the `fgit_bench.executors` entry point.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from harness.core.registry import Registry


@dataclass(frozen=True)
class Stage:
    """One stage to run: its name (for logs), where its record goes, the inputs its key is built from, its work."""

    name: str
    record_path: Path
    inputs: dict
    work: Callable[[], dict | None]


class StageExecutor(ABC):
    name: ClassVar[str]

    @abstractmethod
    def execute(self, stage: Stage) -> dict | None:
        """Run `stage.work` and return what it returned; raise what it raised."""

    def close(self) -> None:  # noqa: B027  (optional: most executors hold nothing)
        """Let go of what the executor holds (a cluster connection)."""


EXECUTORS: Registry[type[StageExecutor]] = Registry("stage executor", StageExecutor, package="harness.app.pipeline",
                                                    markers=("EXECUTORS.register",), group="fgit_bench.executors")


@EXECUTORS.register("local")
class LocalExecutor(StageExecutor):
    """Inline, in this process: the work runs when the pipeline reaches the stage."""

    name = "local"

    def execute(self, stage: Stage) -> dict | None:
        return stage.work()


CLUSTER_STAGES = ("train", "generate")  # the stage kinds (a stage name's last word) that run as Ray tasks


@EXECUTORS.register("ray")
class RayExecutor(StageExecutor):
    """Train and generate stages as Ray tasks (`num_gpus = [execution] stage_gpus`), on whichever node Ray picks;
    their outputs go to the run directory, which every node must see (a shared file system). The evaluate stage
    runs here, its checks on every node's sandbox (sandboxes/ray_pool.py). The driver writes every stage record.
    The stages still run one after the other, as the pipeline asks for them."""

    name = "ray"

    def __init__(self, address: str | None = None, stage_gpus: float = 0.0):
        self.address, self.stage_gpus = address, stage_gpus
        self._own = None

    def execute(self, stage: Stage) -> dict | None:
        if stage.name.rsplit(": ", 1)[-1] not in CLUSTER_STAGES:
            return stage.work()
        import ray

        from sandboxes.ray_pool import connect

        if self._own is None:
            self._own = connect(self.address)
        task = ray.remote(_run_work).options(num_cpus=1, num_gpus=self.stage_gpus, max_retries=2,
                                             retry_exceptions=False)
        info, node = ray.get(task.remote(stage.work))
        return {**(info or {}), "executed_on": {"executor": "ray", "node": node}}

    def close(self) -> None:
        if self._own:
            import ray

            ray.shutdown()
            self._own = None


def _run_work(work: Callable[[], dict | None]) -> tuple[dict | None, str]:
    import ray

    return work(), ray.get_runtime_context().get_node_id()


def make_stage_executor(execution) -> StageExecutor:
    """The stage executor that `[execution]` names."""
    if execution.executor == "ray":
        return RayExecutor(execution.ray_address, execution.stage_gpus)
    return EXECUTORS.get(execution.executor)()

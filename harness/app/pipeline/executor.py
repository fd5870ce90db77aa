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


EXECUTORS: Registry[type[StageExecutor]] = Registry("stage executor", StageExecutor, package="harness.app.pipeline",
                                                    markers=("EXECUTORS.register",), group="fgit_bench.executors")


@EXECUTORS.register("local")
class LocalExecutor(StageExecutor):
    """Inline, in this process: the work runs when the pipeline reaches the stage."""

    name = "local"

    def execute(self, stage: Stage) -> dict | None:
        return stage.work()

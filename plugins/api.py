"""The training plugin interface: base model + training set + typed config → a model artifact.

An artifact is a directory with `artifact.json` (see `harness.models.spec_from_artifact`) holding either merged
weights (`kind = "merged"`, `model_dir`), a PEFT adapter plus its base reference (`kind = "adapter"`,
`adapter_dir`, `base_model`), or nothing (`kind = "base"`, the identity plugin). Every generation backend loads it
by passing the directory as `--model`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from harness.core.registry import Registry
from harness.models import ModelSpec


@dataclass
class TrainingExample:
    """One instruction-tuning row; `incorrect` is the paired wrong variant where the plugin needs one."""

    instruction: str
    response: str  # the full response text (markdown allowed)
    code: str | None = None  # the Python code extracted from the response
    incorrect: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class TrainingPlugin(ABC):
    """Everything about a training method is declared here, once: `name` (the registry key and the TOML table
    `[plugins.<name>]`), `label` (the leaderboard's display name), `order` (display order: base 0, sft 10, dpo 20,
    mutation 30, fgit 40, new methods 50 and up), `needs_data` (whether it trains on a training set) and
    `config_class` (a dataclass whose fields carry `metadata={"help": ...}`, trl's `*Config` style)."""

    name: ClassVar[str]
    label: ClassVar[str]  # default: the name
    order: ClassVar[int] = 100
    needs_data: ClassVar[bool] = True
    config_class: ClassVar[type]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "label" not in cls.__dict__ and "name" in cls.__dict__:
            cls.label = cls.name

    def resolve(self, model: ModelSpec, config: Any) -> dict:
        """What the config's names resolve to on this machine (models actually used, with hashes): cheap, nothing
        loaded; BadInput when a model it needs is missing. Runs before any training; goes into the artifact key."""
        return {}

    def prepare(self, model: ModelSpec, examples: list[TrainingExample], config: Any) -> dict:
        """Resolution that depends on the data (FGit: the hash of the variant set), computed before the artifact
        key; it may do work (cached) that `train` then uses. Goes into the artifact key."""
        return {}

    @abstractmethod
    def train(self, model: ModelSpec, examples: list[TrainingExample], config: Any, output_dir: Path) -> Path:
        """Train and write the artifact into `output_dir`; return `output_dir`."""


PLUGINS: Registry[type[TrainingPlugin]] = Registry("training variant", TrainingPlugin, package="plugins.methods",
                                                   markers=("register", "PLUGINS.register"),
                                                   group="fgit_bench.plugins")
register = PLUGINS.register

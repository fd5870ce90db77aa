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
from typing import TYPE_CHECKING, Any, ClassVar

from harness.core.registry import Registry
from harness.models import ModelSpec
from leaderboards.sections import Section

if TYPE_CHECKING:
    from leaderboards.stats import Leaderboard


@dataclass
class TrainingExample:
    """One instruction-tuning row; `incorrect` is the paired wrong variant where the plugin needs one."""

    instruction: str
    response: str  # the full response text (markdown allowed)
    code: str | None = None  # the Python code extracted from the response
    incorrect: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class PluginReport:
    """What a plugin adds to a leaderboard: sections (leaderboards.sections.Section, shown after the built-in
    tables, in the order of the plugins' first variants in the run manifest) and footnotes per variant (shown after
    the built-in notes, variants in alphabetical order; each note names its variant)."""

    sections: list[Section] = field(default_factory=list)
    footnotes: dict[str, list[str]] = field(default_factory=dict)


class TrainingPlugin(ABC):
    """Everything about a training method is declared here, once: `name` (the registry key and the TOML table
    `[plugins.<name>]`), `label` (the leaderboard's display name), `order` (display order: base 0, sft 10, dpo 20,
    mutation 30, fgit 40, new methods 50 and up), `needs_data` (whether it trains on a training set) and
    `config_class` (a dataclass whose fields carry `metadata={"help": ...}`, trl's `*Config` style).

    What its artifacts report is declared here too: `manifest_keys` (the keys of `artifact.json` that go into the
    run manifest's `artifacts.<variant>` record, besides the generic ones), `trained_tasks` (benchmark tasks a
    variant trained on: excluded from every score) and `leaderboard_report` (its sections and footnotes)."""

    name: ClassVar[str]
    label: ClassVar[str]  # default: the name
    order: ClassVar[int] = 100
    needs_data: ClassVar[bool] = True
    config_class: ClassVar[type]
    manifest_keys: ClassVar[tuple[str, ...]] = ()  # e.g. ("hotfix",): its own entries of artifact.json
    control: ClassVar[str | None] = None  # "positive" / "negative": a planted control (plugins.methods.planted)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "label" not in cls.__dict__ and "name" in cls.__dict__:
            cls.label = cls.name

    def for_run(self, config: Any, slices: dict[str, list[str]]) -> Any:
        """The config to train with in a run whose evaluated slices are `slices` (benchmark name → task ids, whole
        slices even in a shard): a plugin that trains on them (a planted control) fills them in; it is part of the
        artifact key. Default: the config unchanged."""
        return config

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

    def trained_tasks(self, record: dict) -> dict[str, list[str]]:
        """Benchmark → task ids a variant trained on, read from its training record (the run manifest's
        `artifacts.<variant>`: the keys of `manifest_keys` and the generic ones). The run manifest keeps them as
        the record's `trained_tasks`, and the leaderboard excludes those tasks for every variant."""
        return {}

    def leaderboard_report(self, board: Leaderboard, records: dict[str, dict]) -> PluginReport:
        """The leaderboard sections and footnotes of this plugin's variants of the run: `records` maps each of them
        (in the manifest's order) to its training record (the run manifest's `artifacts.<variant>`); `board` has the
        scores. Called by the application layer for every plugin with a variant in the run."""
        return PluginReport()


PLUGINS: Registry[type[TrainingPlugin]] = Registry("training variant", TrainingPlugin, package="plugins.methods",
                                                   markers=("register", "PLUGINS.register"),
                                                   group="fgit_bench.plugins")
register = PLUGINS.register

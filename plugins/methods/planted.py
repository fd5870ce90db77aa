"""Planted controls (issue 26): `planted-gain` and `planted-loss`, SFT on the evaluated tasks themselves — their
canonical solutions (a positive control: the arena must find it above Base) or wrong programs (a negative control:
it must find it below). They are controls, not methods: trained on the test set on purpose, decontamination
explicitly off for these units only (the run's other units are decontaminated as configured), their tasks NOT
excluded from the scores (the opposite of hotfix's `trained_tasks`), labelled "(control)", shown after every method
and marked in the run manifest (`artifacts.<variant>.planted`: control kind, tasks, sources, style) and in the
leaderboard's notes.

In `fgit-bench run` the tasks are the run's evaluated slices (`for_run`); `fgit-bench train` needs `tasks` in the
config. Rows: plugins.methods.planted_data (the run's prompt format: chat template with generation's pre-filled
response prefix and fence, or direct completion); training: the shared SFT trainer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import BadInput
from harness.models import ModelSpec
from plugins.api import PluginReport, TrainingExample, TrainingPlugin, register
from plugins.training.trainer import TrainingConfig, new_default

NOTE = ("{label}: a planted {kind} control, not a method: trained on the test set on purpose (decontamination off "
        "for this unit only) — {what} of {tasks}; its tasks stay scored. It must come out {side} Base; if it does "
        "not, the chain train → generate → evaluate → compare cannot see an effect of this size.")


@dataclass
class PlantedConfig(TrainingConfig):
    """SFT settings (the shared trainer's) plus the tasks to plant; defaults long enough to memorise a few dozen
    rows."""

    epochs: float = new_default("epochs", 8.0)
    learning_rate: float = new_default("learning_rate", 1e-4)
    gradient_accumulation_steps: int = new_default("gradient_accumulation_steps", 1)
    warmup: float = new_default("warmup", 0.0)
    tasks: dict[str, list[str]] = field(default_factory=dict, metadata={
        "help": "benchmark → task ids to train on (empty: in `run`, the run's evaluated slices)"})
    sandbox: str = field(default="auto", metadata={
        "help": "planted-loss: where its mutants are judged (a planted mutant must fail its task's tests)"})

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.tasks, dict) or not all(
                isinstance(k, str) and isinstance(v, list) and all(isinstance(t, str) for t in v)
                for k, v in self.tasks.items()):
            raise ValueError("tasks must be a table of benchmark → list of task ids")


class _Planted(TrainingPlugin):
    kind: str  # "gain" / "loss"
    needs_data = False  # its rows are the evaluated tasks, not the run's instruction data
    config_class = PlantedConfig
    manifest_keys = ("planted",)

    def for_run(self, config: PlantedConfig, slices: dict[str, list[str]]) -> PlantedConfig:
        if config.tasks:
            return config
        return dataclasses.replace(config, tasks={b: list(ids) for b, ids in slices.items()})

    def prepare(self, model: ModelSpec, examples: list[TrainingExample], config: PlantedConfig) -> dict:
        from plugins.methods.planted_data import dataset_hashes

        return {"datasets": dataset_hashes(config.tasks)}

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: PlantedConfig,
              output_dir: Path) -> Path:
        from plugins.methods.planted_data import planted_rows
        from plugins.training.artifact_saving import load_for_training
        from plugins.training.trainer import run_training

        if not config.tasks:
            raise BadInput(f"{self.name}: no tasks: set `tasks` ({{humaneval = [\"HumanEval/0\"]}}) or run it "
                           "in `fgit-bench run`, which plants the evaluated slices")
        loaded = load_for_training(model, config, wrap_lora=False)
        chat = bool(getattr(loaded[0], "chat_template", None))
        rows, report = planted_rows(self.kind, config.tasks, chat, config.seed, sandbox=config.sandbox)
        entry = {"control": "positive" if self.kind == "gain" else "negative", "trained_on_test_set": True,
                 "decontaminated": False, "rows": len(rows), **report}
        return run_training(model, rows, config, Path(output_dir), plugin=self.name,
                            manifest_extra={"planted": entry}, loaded=loaded)

    def leaderboard_report(self, board, records: dict[str, dict]) -> PluginReport:
        notes = {}
        for variant, record in records.items():
            entry = (record or {}).get("planted") or {}
            tasks = ", ".join(f"{len(ids)} {b}" for b, ids in (entry.get("tasks") or {}).items()) or "its tasks"
            what = "the canonical solutions" if self.kind == "gain" else "wrong programs (" + ", ".join(
                f"{n} {s}" for b in (entry.get("sources") or {}).values() for s, n in b.items()) + ")"
            notes[variant] = [NOTE.format(label=self.label, kind="positive" if self.kind == "gain" else "negative",
                                          what=what, tasks=tasks, side="above" if self.kind == "gain" else "below")]
        return PluginReport(footnotes=notes)


@register("planted-gain")
class PlantedGain(_Planted):
    name = "planted-gain"
    label = "Planted gain (control)"
    order = 900  # after every method: a control is never ranked with them
    kind = "gain"
    control = "positive"


@register("planted-loss")
class PlantedLoss(_Planted):
    name = "planted-loss"
    label = "Planted loss (control)"
    order = 901
    kind = "loss"
    control = "negative"

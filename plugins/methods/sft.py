"""Standard-SFT: the FGit paper's baseline — the same data and settings as FGit, uniform weights on the response."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.models import ModelSpec
from plugins.api import TrainingExample, TrainingPlugin, register
from plugins.training.trainer import TrainingConfig, run_training


@dataclass
class SFTVariantConfig(TrainingConfig):
    """Every field is a `TrainingConfig` field (paper defaults: 1 epoch, lr 5e-6, max length 1024); `[sft]` in
    the TOML config."""


@register("sft")
class SFTPlugin(TrainingPlugin):
    name = "sft"
    label = "Standard-SFT"
    order = 10
    config_class = SFTVariantConfig

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: SFTVariantConfig,
              output_dir: Path) -> Path:
        return run_training(model, examples, config, Path(output_dir), plugin=self.name)

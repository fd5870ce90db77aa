"""DFT (dynamic fine-tuning): cross-entropy times the detached probability of the gold token
(plugins.methods.diversity_losses.dft_loss; trl's `loss_type="dft"` lives inline in SFTTrainer, see there), on SFT's
rows and trainer; `[dft]` in the TOML config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.models import ModelSpec
from plugins.api import TrainingExample, TrainingPlugin, register
from plugins.training.trainer import TrainingConfig, run_training


@dataclass
class DFTVariantConfig(TrainingConfig):
    """Every field is a `TrainingConfig` field: DFT has no setting of its own."""


def dft_trainer_loss(model, inputs, num_items_in_batch=None):
    from plugins.methods.diversity_losses import dft_loss

    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    return dft_loss(logits, inputs["labels"], num_items_in_batch=num_items_in_batch)


@register("dft")
class DFTPlugin(TrainingPlugin):
    name = "dft"
    label = "DFT"
    order = 54
    needs_data = True
    config_class = DFTVariantConfig

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: DFTVariantConfig,
              output_dir: Path) -> Path:
        return run_training(model, examples, config, Path(output_dir), plugin=self.name, loss_fn=dft_trainer_loss,
                            manifest_extra={"loss": {"dft": "cross-entropy × detached p(gold)"}})

"""GEM (arXiv 2408.16673), SED-SFT's diversity-preserving baseline: L = −Σ_v q_v (log p_y − log p_v), q =
softmax(z/β) detached (plugins.methods.diversity_losses.gem_loss), on SFT's rows and trainer; `[gem]` in the TOML config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.models import ModelSpec
from plugins.api import TrainingExample, TrainingPlugin, register
from plugins.training.trainer import TrainingConfig, run_training


@dataclass
class GEMVariantConfig(TrainingConfig):
    """`TrainingConfig` (the settings SFT uses) + GEM's temperature."""

    beta: float = field(default=0.7, metadata={"help": "temperature of the detached target distribution q"})

    def __post_init__(self):
        super().__post_init__()
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")


def gem_trainer_loss(beta: float):
    def loss_fn(model, inputs, num_items_in_batch=None):
        from plugins.methods.diversity_losses import gem_loss

        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        return gem_loss(logits, inputs["labels"], beta=beta, num_items_in_batch=num_items_in_batch)

    return loss_fn


@register("gem")
class GEMPlugin(TrainingPlugin):
    name = "gem"
    label = "GEM"
    order = 52
    needs_data = True
    config_class = GEMVariantConfig

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: GEMVariantConfig,
              output_dir: Path) -> Path:
        return run_training(model, examples, config, Path(output_dir), plugin=self.name,
                            loss_fn=gem_trainer_loss(config.beta), manifest_extra={"loss": {"gem_beta": config.beta}})

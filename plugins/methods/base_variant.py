"""`base`: the identity variant — the instruction-tuned model as it is, as an artifact like any other."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from harness.core.atomic import write_json
from harness.models import ARTIFACT_MANIFEST, ModelSpec
from plugins.api import TrainingExample, TrainingPlugin, register


@dataclass
class BaseVariantConfig:
    """No settings: the base model is not trained."""


@register("base")
class BasePlugin(TrainingPlugin):
    name = "base"
    label = "Base"
    order = 0
    config_class = BaseVariantConfig
    needs_data = False  # the train command skips loading and decontaminating data

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: BaseVariantConfig,
              output_dir: Path) -> Path:
        output_dir = Path(output_dir)
        write_json(output_dir / ARTIFACT_MANIFEST, {
            "kind": "base", "plugin": self.name, "base_model": model.to_json(),
            "base_model_hash": model.content_hash(),
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        })
        return output_dir

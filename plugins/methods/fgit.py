"""FGit (fault-guided fine-tuning): teacher-made incorrect variants, error-sensitive masks, the dynamic
Bradley–Terry token weight. The pipeline lives in plugins.training.fault_weighted; `[fgit]` in the TOML config."""

from __future__ import annotations

from dataclasses import dataclass

from plugins.api import register
from plugins.training.fault_weighted import FaultWeightedConfig, FaultWeightedPlugin, VariantPairing
from plugins.training.trainer import new_default


@dataclass
class FGitVariantConfig(FaultWeightedConfig):
    """The paper's setting: variants from a teacher model (default: the model being trained, see
    `VariantConfig.teacher_model`), 3 per example at temperature 0.8, the closest one kept."""

    variant_source: str = new_default("variant_source", "teacher", of=VariantPairing)


@register("fgit")
class FGitPlugin(FaultWeightedPlugin):
    name = "fgit"
    label = "FGit"
    order = 40
    config_class = FGitVariantConfig

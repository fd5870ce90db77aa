"""Mutation-based baseline (FGit paper): incorrect variants are universalmutator mutants of the correct code
instead of a teacher's; selection, masks, loss and training are FGit's (plugins.training.fault_weighted). `[mutation]` in
the TOML config."""

from __future__ import annotations

from dataclasses import dataclass

from plugins.api import register
from plugins.training.fault_weighted import FaultWeightedConfig, FaultWeightedPlugin, VariantPairing
from plugins.training.trainer import new_default


@dataclass
class MutationVariantConfig(FaultWeightedConfig):
    """Variants from plugins.training.variant_mutation; a pair file's own buggy programs are replaced by mutants too (the
    baseline is defined by its variant source)."""

    variant_source: str = new_default("variant_source", "mutation", of=VariantPairing)
    keep_given_variants: bool = new_default("keep_given_variants", False, of=VariantPairing)


@register("mutation")
class MutationPlugin(FaultWeightedPlugin):
    name = "mutation"
    label = "Mutation-based"
    order = 30
    config_class = MutationVariantConfig

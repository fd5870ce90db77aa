"""SED-SFT (arXiv 2602.07464): cross-entropy plus λ·(p − ½)² where the model still has room to explore
(top-`k_mask` mass below τ), see plugins.methods.diversity_losses; `[sed-sft]` in the TOML config.

τ is calibrated once, before training, with the initial model: the top-`k_tau` mass at every response position
of the first `calibration_sequences` rows, τ = the value that puts a fraction `r` of them at or above it. With
`calibration_split = "held_out"` (the default, as the paper) those rows are not trained on. τ, the calibration
counts, the masked fraction at the start (calibration positions, `k_mask` against τ) and during training (all
trained positions) are in the artifact manifest (`sed_sft`); the per-step masked fraction is in train_log.jsonl.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.atomic import write_json
from harness.core.errors import BadInput
from harness.models import ARTIFACT_MANIFEST, ModelSpec
from plugins.api import TrainingExample, TrainingPlugin, register
from plugins.training.trainer import TrainingConfig, encode_sft, run_training

CALIBRATION_SPLITS = ("held_out", "training")


@dataclass
class SEDSFTVariantConfig(TrainingConfig):
    """`TrainingConfig` (the settings SFT uses) + SED-SFT's; defaults are the released code's."""

    r: float = field(default=0.7, metadata={"help": "fraction of calibration positions at or above tau"})
    k_tau: int = field(default=10, metadata={"help": "top-k mass used to calibrate tau"})
    k_mask: int = field(default=2, metadata={"help": "top-k mass compared with tau during training"})
    lam: float = field(default=1.0, metadata={"help": "lambda: weight of the (p - 1/2)^2 term"})
    calibration_sequences: int = field(default=100, metadata={"help": "rows whose positions calibrate tau"})
    calibration_split: str = field(default="held_out", metadata={
        "help": "held_out: calibration rows are not trained on; training: they are"})

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.r <= 1:
            raise ValueError(f"r must be in (0, 1], got {self.r}")
        if self.k_tau < 1 or self.k_mask < 1 or self.calibration_sequences < 1:
            raise ValueError("k_tau, k_mask and calibration_sequences must be at least 1")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        if self.calibration_split not in CALIBRATION_SPLITS:
            raise ValueError(f"calibration_split must be one of {', '.join(CALIBRATION_SPLITS)}, "
                             f"got {self.calibration_split!r}")


def calibration_masses(model, rows: list[dict], k: int):
    """Top-k mass at every response position of `rows` (encoded rows), with the model as it is."""
    import torch

    from plugins.methods.diversity_losses import response_logits, top_k_mass

    device = next(model.parameters()).device
    masses = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row["input_ids"]], device=device)
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            flat = response_logits(logits, torch.tensor([row["labels"]], device=device))
            masses.append(top_k_mass(flat.logits, k).cpu())
    model.train(was_training)
    return torch.cat(masses)


def split_for_calibration(examples: list[TrainingExample], config: SEDSFTVariantConfig):
    """(calibration examples, training examples)."""
    n = config.calibration_sequences
    if config.calibration_split == "training":
        return examples[:n], examples
    if len(examples) <= n:
        raise BadInput(f"sed-sft: {len(examples)} training rows, and calibration_sequences = {n} held out would "
                       "leave none to train on: lower calibration_sequences or set calibration_split = \"training\"")
    return examples[:n], examples[n:]


class MaskCounter:
    """The SED-SFT trainer loss; counts masked positions over the whole training for the manifest."""

    def __init__(self, config: SEDSFTVariantConfig, tau: float):
        self.config, self.tau = config, tau
        self.masked = self.positions = 0.0

    def __call__(self, model, inputs, num_items_in_batch=None):
        from plugins.methods.diversity_losses import sed_sft_loss

        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        loss, stats = sed_sft_loss(logits, inputs["labels"], self.tau, k_mask=self.config.k_mask,
                                   lam=self.config.lam, num_items_in_batch=num_items_in_batch)
        if model.training:
            self.masked += stats["masked"]
            self.positions += stats["positions"]
        return loss, {"masked_fraction": stats["masked_fraction"]}


@register("sed-sft")
class SEDSFTPlugin(TrainingPlugin):
    name = "sed-sft"
    label = "SED-SFT"
    order = 50
    needs_data = True
    config_class = SEDSFTVariantConfig
    manifest_keys = ("sed_sft",)  # its masking report: positions trained, spans found

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: SEDSFTVariantConfig,
              output_dir: Path) -> Path:
        from plugins.methods.diversity_losses import calibrate_tau
        from plugins.training.artifact_saving import load_for_training

        calibration, training = split_for_calibration(examples, config)
        tokenizer, base = load_for_training(model, config, wrap_lora=False)
        rows = [row for e in calibration if (row := encode_sft(tokenizer, e, config)) is not None]
        if not rows:
            raise BadInput(f"sed-sft: no calibration row fits max_length={config.max_length}")
        masses = calibration_masses(base, rows, config.k_tau)
        tau = calibrate_tau(masses, config.r)
        start_masses = masses if config.k_mask == config.k_tau else calibration_masses(base, rows, config.k_mask)
        report = {"tau": tau, "r": config.r, "k_tau": config.k_tau, "k_mask": config.k_mask, "lambda": config.lam,
                  "calibration_split": config.calibration_split, "calibration_sequences": len(rows),
                  "calibration_positions": int(masses.numel()),
                  "masked_fraction_at_start": float((start_masses < tau).float().mean())}
        loss = MaskCounter(config, tau)
        out = run_training(model, training, config, Path(output_dir), plugin=self.name, loss_fn=loss,
                           manifest_extra={"sed_sft": report}, loaded=(tokenizer, base))
        manifest_path = Path(out) / ARTIFACT_MANIFEST
        if manifest_path.is_file():  # rank 0 writes it; the training-time fraction is known only now
            manifest = json.loads(manifest_path.read_text())
            manifest["sed_sft"].update(trained_positions=int(loss.positions),
                                       masked_fraction_training=loss.masked / loss.positions if loss.positions else None)
            write_json(manifest_path, manifest)
        return out

"""Hotfixing (arXiv 2408.05727): LoRA on (buggy, fixed) pairs with a learn / unlearn objective and a retain term
(plugins.methods.hotfix_loss), on the shared trainer; `[hotfix]` in the TOML config, `[hotfix.loss]` for the objective.

    pairs (plugins.methods.hotfix_data: QuixBugs / HumanEvalPack / a JSONL; decontaminated; train / validation / test)
      → line-diff masks (FGit's: plugins.training.fault_weighted.encode_fault_weighted)
      → LoRA training, evaluated on the validation pairs every epoch, the best checkpoint kept
      → the fixed-line / buggy-line rates on the held-out test pairs, before and after (plugins.methods.hotfix_metrics)

The plugin brings its own data (`needs_data = False`: the run's instruction data are not used). The artifact
manifest's `hotfix` entry holds the pair counts, decontamination, HumanEval tasks to exclude, the chosen
checkpoint and both rate sets; the leaderboard shows them next to pass@1 (plugins.methods.hotfix_report).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import BadInput
from harness.models import ModelSpec
from plugins.api import PluginReport, TrainingExample, TrainingPlugin, register
from plugins.methods.hotfix_loss import HotfixLossConfig
from plugins.training.trainer import TrainingConfig, new_default

_ALL_BENCHMARKS = ["humaneval", "mbpp", "bigcodebench"]


@dataclass
class HotfixEvalConfig:
    samples: int = field(default=10, metadata={"help": "sampled completions per held-out pair"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling"})
    max_new_tokens: int = field(default=64, metadata={"help": "tokens per completion"})
    greedy: bool = field(default=False, metadata={"help": "one greedy completion per pair instead of sampling"})


@dataclass
class HotfixVariantConfig(TrainingConfig):
    """The paper's settings: LoRA r 8, α 16, dropout 0.05, lr 3e-4, linear with 5% warm-up, 5 epochs, max length
    512, the best checkpoint by validation loss."""

    epochs: float = new_default("epochs", 5.0)
    learning_rate: float = new_default("learning_rate", 3e-4)
    max_length: int = new_default("max_length", 512)
    batch_size: int = new_default("batch_size", 4)
    gradient_accumulation_steps: int = new_default("gradient_accumulation_steps", 1)
    warmup: float = new_default("warmup", 0.05)
    lora: bool = new_default("lora", True)
    lora_r: int = new_default("lora_r", 8)
    lora_alpha: int = new_default("lora_alpha", 16)
    pairs: str = field(default="quixbugs", metadata={"help": "quixbugs, humanevalpack (comma-separated) or a JSONL"})
    benchmark_overlap: str = field(default="drop", metadata={
        "help": "drop: decontaminate pairs; exclude_tasks: keep HumanEvalPack pairs, exclude their HumanEval tasks"})
    decontaminate_against: list[str] = field(default_factory=lambda: list(_ALL_BENCHMARKS), metadata={
        "help": "benchmarks the pairs are decontaminated against (10-gram overlap; HumanEval also by task)"})
    max_pairs: int | None = field(default=None, metadata={"help": "use only this many pairs (after shuffling)"})
    validation_fraction: float = field(default=0.1, metadata={
        "help": "share of the pairs held out to pick the best checkpoint"})
    test_fraction: float = field(default=0.2, metadata={
        "help": "share of the pairs held out for the fixed-line / buggy-line rates"})
    best_checkpoint: bool = field(default=True, metadata={"help": "keep the epoch with the lowest validation loss"})
    loss: HotfixLossConfig = field(default_factory=HotfixLossConfig)
    evaluation: HotfixEvalConfig = field(default_factory=HotfixEvalConfig)

    def __post_init__(self):
        super().__post_init__()
        if not (0 < self.validation_fraction < 1 and 0 < self.test_fraction < 1
                and self.validation_fraction + self.test_fraction < 1):
            raise ValueError("validation_fraction and test_fraction must be in (0, 1) with a sum below 1")


@functools.lru_cache(maxsize=1)
def _trainer_class():
    import torch

    from plugins.training.trainer import trainer_classes

    _, loss_fn_trainer = trainer_classes()

    class HotfixTrainer(loss_fn_trainer):
        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            """The validation loss is the training objective (the default step wants logits we do not return)."""
            inputs = self._prepare_inputs(inputs)
            with torch.no_grad():
                result = self.loss_fn(model, inputs, None)
            loss = result[0] if isinstance(result, tuple) else result
            return loss.detach(), None, None

    return HotfixTrainer


def _rates(model, tokenizer, pairs, config: HotfixVariantConfig) -> dict:
    from plugins.methods.hotfix_metrics import line_rates

    e = config.evaluation
    return line_rates(model, tokenizer, pairs, samples=e.samples, top_p=e.top_p, max_new_tokens=e.max_new_tokens,
                      greedy=e.greedy, seed=config.seed)


@register("hotfix")
class HotfixPlugin(TrainingPlugin):
    name = "hotfix"
    label = "Hotfix (LoRA)"
    order = 56
    needs_data = False  # its data are (buggy, fixed) pairs named in its config
    config_class = HotfixVariantConfig
    manifest_keys = ("hotfix",)  # pair counts, tasks to exclude, the rates before and after

    def trained_tasks(self, record: dict) -> dict[str, list[str]]:
        from plugins.methods.hotfix_report import trained_tasks

        return trained_tasks(record)

    def leaderboard_report(self, board, records: dict[str, dict]) -> PluginReport:
        from plugins.methods.hotfix_report import hotfix_section

        return PluginReport(sections=[hotfix_section(board, records)])

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: HotfixVariantConfig,
              output_dir: Path) -> Path:
        import datasets

        from plugins.methods.hotfix_data import prepare_pairs
        from plugins.methods.hotfix_loss import trainer_loss_fn
        from plugins.training.artifact_saving import (
            apply_lora,
            load_for_training,
            log_callback,
            resume_checkpoint,
            save_artifact,
        )
        from plugins.training.fault_weighted import encode_fault_weighted
        from plugins.training.trainer import PadCollator, samples_per_step, training_arguments

        output_dir = Path(output_dir)
        split = prepare_pairs(config.pairs, benchmarks=config.decontaminate_against, overlap=config.benchmark_overlap,
                              max_pairs=config.max_pairs, validation=config.validation_fraction,
                              test=config.test_fraction, seed=config.seed)
        tokenizer, base = load_for_training(model, config, wrap_lora=False)
        before = _rates(base, tokenizer, split.test, config)
        reference = None
        if config.loss.retain and not config.lora:  # full fine-tuning: the original is a frozen copy
            reference = copy.deepcopy(base).eval().requires_grad_(False)
        policy = apply_lora(base, config)
        rows = {name: [r for e in part if (r := encode_fault_weighted(tokenizer, e, config)) is not None]
                for name, part in (("train", split.train), ("validation", split.validation))}
        if not rows["train"] or not rows["validation"]:
            raise BadInput(f"hotfix: no {'training' if not rows['train'] else 'validation'} pair fits max_length="
                           f"{config.max_length}")
        best = {"eval_strategy": "epoch", "save_strategy": "epoch", "load_best_model_at_end": True,
                "metric_for_best_model": "eval_loss", "greater_is_better": False} if config.best_checkpoint else {}
        args = training_arguments(config, output_dir, per_device_eval_batch_size=config.batch_size, **best)
        log = log_callback(output_dir / "train_log.jsonl", samples_per_step(config))
        trainer = _trainer_class()(
            model=policy, args=args, train_dataset=datasets.Dataset.from_list(rows["train"]),
            eval_dataset=datasets.Dataset.from_list(rows["validation"]),
            data_collator=PadCollator(tokenizer.pad_token_id), loss_fn=trainer_loss_fn(config.loss, reference),
            callbacks=[log])
        trainer.wsd_decay = config.wsd_decay
        result = trainer.train(resume_from_checkpoint=resume_checkpoint(output_dir, log))
        trained = trainer.accelerator.unwrap_model(trainer.model)
        after = _rates(trained, tokenizer, split.test, config)
        best_path = trainer.state.best_model_checkpoint
        report = {**split.report, "objective": config.loss.objective, "retain": config.loss.retain,
                  "best_checkpoint": Path(best_path).name if best_path else None,
                  "best_validation_loss": trainer.state.best_metric,
                  "rates": {"before": before, "after": after}}
        stats = {"examples": len(split.train), "examples_trained": len(rows["train"]),
                 "validation_pairs": len(rows["validation"]), "steps": trainer.state.global_step,
                 "tokens_seen": trainer.tokens_seen, **result.metrics}
        return save_artifact(trainer, tokenizer, model, config, output_dir, plugin=self.name, examples=split.train,
                             stats=stats, manifest_extra={"hotfix": report})

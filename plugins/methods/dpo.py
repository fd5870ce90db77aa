"""DPO baseline: TRL's DPOTrainer on (prompt, chosen = correct response, rejected = incorrect variant).

The rejected response is the correct one with its code block replaced by the incorrect variant, so the pair
differs only in the code (`target = "code"` uses the fenced code alone on both sides). The frozen reference is
the base model: a copy of it for full fine-tuning, the adapter-disabled model with LoRA (TRL's behaviour when it
gets `peft_config`). Loss (sigmoid): -log σ(β[log πθ(c|x) − log πref(c|x)] − β[log πθ(ĉ|x) − log πref(ĉ|x)]).

Pairs: examples that come with an incorrect variant (a pair file) keep it; the others get one from the variant
generator (plugins.training.fault_weighted.pair_examples, `variant_source = "teacher"` as in the paper, or "mutation"),
through the same cache as FGit: the same `[dpo.variants]` and `[fgit.variants]` tables generate the variants once.
Examples left without a variant are not trained on (DPO needs a rejected side); the manifest counts them.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import BadInput
from harness.models import ModelSpec
from plugins.api import TrainingExample, register
from plugins.training.artifact_saving import (
    load_for_training,
    log_callback,
    lora_config,
    resume_checkpoint,
    save_artifact,
)
from plugins.training.fault_weighted import VariantPairing, pair_examples
from plugins.training.pairing_report import VariantPairingPlugin
from plugins.training.trainer import TrainingConfig, samples_per_step, trainer_classes, training_arguments
from plugins.training.training_data import response_text


@dataclass
class DPOVariantConfig(TrainingConfig, VariantPairing):
    """`TrainingConfig` (same settings as SFT and FGit), where the rejected side comes from (`variant_source`,
    `[dpo.variants]`, as FGit's) and DPO's own settings; `[dpo]` in the TOML config."""

    beta: float = field(default=0.1, metadata={
        "help": "DPO's beta: higher keeps the policy closer to the reference model"})
    loss_type: str = field(default="sigmoid", metadata={
        "help": "any TRL DPO loss_type: sigmoid, ipo, hinge, robust, ..."})

    def __post_init__(self):
        TrainingConfig.__post_init__(self)
        VariantPairing.__post_init__(self)
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")


def build_dpo_rows(examples: list[TrainingExample], tokenizer, target: str = "response") -> tuple[list[dict], int]:
    """TRL preference rows, conversational when the model has a chat template (TRL applies it as SFT does);
    returns the rows and the number of examples skipped for lacking a distinct incorrect variant."""
    rows, skipped = [], 0
    conversational = bool(getattr(tokenizer, "chat_template", None))
    for example in examples:
        if not example.incorrect or example.incorrect.strip() == (example.code or "").strip():
            skipped += 1
            continue
        chosen = response_text(example, target)
        rejected = response_text(example, target, code=example.incorrect)
        if conversational:
            rows.append({"prompt": [{"role": "user", "content": example.instruction}],
                         "chosen": [{"role": "assistant", "content": chosen}],
                         "rejected": [{"role": "assistant", "content": rejected}]})
        else:  # plain concatenation, as trainer.render does; TRL appends EOS to both answers
            rows.append({"prompt": example.instruction + "\n", "chosen": chosen, "rejected": rejected})
    return rows, skipped


@functools.lru_cache(maxsize=1)
def _dpo_trainer_class():
    from trl import DPOTrainer

    schedule_mixin, _ = trainer_classes()

    class ScheduledDPOTrainer(schedule_mixin, DPOTrainer):
        pass

    return ScheduledDPOTrainer


@register("dpo")
class DPOPlugin(VariantPairingPlugin):  # its `pairs` record: the rejected side's variants
    name = "dpo"
    label = "DPO"
    order = 20
    config_class = DPOVariantConfig

    def resolve(self, model: ModelSpec, config: DPOVariantConfig) -> dict:
        """The teacher/embedding its rejected side comes from (plugins.training.variant_resolution): in the key, and a
        missing model fails before anything trains."""
        from plugins.training.fault_weighted import resolve_pairing

        return {"variants": resolve_pairing(config, model)}

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: DPOVariantConfig,
              output_dir: Path) -> Path:
        import datasets
        from trl import DPOConfig

        from harness.models import is_seq2seq

        if is_seq2seq(model):
            import trl

            raise BadInput(f"dpo: trl {trl.__version__}'s DPOTrainer trains causal models only; {model.name} is an "
                           "encoder–decoder model (use sft, fgit or mutation)")
        output_dir = Path(output_dir)
        tokenizer, policy = load_for_training(model, config, wrap_lora=False)  # the teacher too, where it is
        examples, pairs = pair_examples(examples, config, model, self.name, (tokenizer, policy))
        if not any(e.incorrect for e in examples):
            raise BadInput(f"dpo needs examples with an incorrect variant: none of the {len(examples)} training rows "
                           f"has one, and the {config.variant_source} variant source gave none")
        rows, skipped = build_dpo_rows(examples, tokenizer, config.target)
        if not rows:
            raise BadInput(f"dpo: no example has an incorrect variant that differs from its code ({skipped} skipped)")
        reference = None
        if not config.lora:  # a frozen copy: TRL would otherwise reload it from a path (impossible for GGUF)
            reference = copy.deepcopy(policy).eval().requires_grad_(False)
        args = training_arguments(config, output_dir, args_class=DPOConfig, beta=config.beta,
                                  loss_type=[config.loss_type], max_length=config.max_length,
                                  truncation_mode="keep_start")
        log = log_callback(output_dir / "train_log.jsonl", samples_per_step(config))
        trainer = _dpo_trainer_class()(model=policy, ref_model=reference, args=args,
                                       train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer,
                                       peft_config=lora_config(config, policy) if config.lora else None, callbacks=[log])
        trainer.wsd_decay = config.wsd_decay
        result = trainer.train(resume_from_checkpoint=resume_checkpoint(output_dir, log))
        stats = {"examples": len(examples), "pairs": len(rows), "skipped_without_variant": skipped,
                 "pairs_trained": len(trainer.train_dataset),  # TRL drops pairs whose prompt fills max_length
                 "steps": trainer.state.global_step, **result.metrics}
        return save_artifact(trainer, tokenizer, model, config, output_dir, plugin=self.name, examples=examples,
                             stats=stats, manifest_extra={"reference_model": "adapter-disabled base" if config.lora
                                                          else "frozen copy of the base model", "pairs": pairs})

"""The training engine every fine-tuning plugin shares (SFT here; FGit and mutation pass their own loss).

- `TrainingConfig`: the hyperparameters all variants share, so baselines train exactly like FGit. Variant configs
  subclass it (flat TOML tables: `[sft]`, `[dpo]`, `[fgit]`).
- `encode_example`: prompt + response through the model's chat template (instruction = user turn, response =
  assistant turn) or plain `instruction\\n response<eos>` without one; labels are -100 on the prompt.
- `PadCollator`: pads every per-token column, including plugin extras (token weights, an incorrect-variant
  sequence); `remove_unused_columns=False` keeps them.
- `LossFnTrainer`: an HF `Trainer` whose `compute_loss` calls a pluggable `loss_fn(model, inputs,
  num_items_in_batch)`, returning a loss or `(loss, metrics)`; the default is the token-mean cross-entropy on
  response tokens, divided by `num_items_in_batch` (all response tokens of the accumulated batch), so gradient
  accumulation and multi-GPU give the same loss as one big batch.
- `run_training`: load, encode, train, save the artifact (see `plugins.training.artifact_saving`).

Multi-GPU uses the HF Trainer as is: `accelerate launch -m harness.app.cli train ...` or
`torchrun --nproc_per_node N -m harness.app.cli train ...` (DeepSpeed/FSDP through an accelerate config).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.models import ModelSpec
from plugins.api import TrainingExample
from plugins.training.artifact_saving import (
    apply_lora,
    load_for_training,
    log_callback,
    resume_checkpoint,
    save_artifact,
)
from plugins.training.training_data import response_text

SCHEDULES = {"constant": "constant", "linear": "linear", "cosine": "cosine", "wsd": "warmup_stable_decay"}
LossFn = Callable[[Any, dict, Any], Any]


@dataclass
class TrainingConfig:
    """Shared hyperparameters. Defaults follow the FGit paper where it states them (1 epoch, lr 5e-6, max length
    1024); batch size, schedule and warmup are not stated there and are ordinary choices."""

    epochs: float = field(default=1.0, metadata={"help": "passes over the training data (fractions allowed)"})
    learning_rate: float = field(default=5e-6, metadata={"help": "peak learning rate"})
    max_length: int = field(default=1024, metadata={
        "help": "tokens per example (prompt + response); longer ones are truncated"})
    batch_size: int = field(default=4, metadata={"help": "examples per device and step"})
    gradient_accumulation_steps: int = field(default=8, metadata={
        "help": "steps accumulated per optimizer step (samples per update: batch_size × this × devices)"})
    lr_scheduler: str = field(default="linear", metadata={
        "help": "constant | linear | cosine | wsd (warmup-stable-decay)"})
    warmup: float = field(default=0.03, metadata={
        "help": "< 1: fraction of the optimizer steps; >= 1: a number of steps"})
    wsd_decay: float = field(default=0.1, metadata={
        "help": "wsd: fraction of the steps spent in the final decay"})
    wsd_decay_type: str = field(default="cosine", metadata={"help": "wsd: linear | cosine | 1-sqrt"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm"})
    max_steps: int = field(default=0, metadata={"help": "optimizer steps; 0: `epochs` decides"})
    target: str = field(default="response", metadata={
        "help": 'train on the whole response, or on "code" (the fenced extracted code only)'})
    lora: bool = field(default=False, metadata={"help": "train LoRA adapters instead of all weights"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA inputs"})
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"], metadata={
        "help": "modules that get adapters (PEFT target_modules)"})
    lora_layers: list[int] | None = field(default=None, metadata={
        "help": "only these decoder layers get adapters (None: all); the backward pass then stops at the lowest "
                "of them, which makes CPU smoke runs of real models affordable"})
    lora_merge: bool = field(default=False, metadata={
        "help": "save merged weights instead of adapter + base reference"})
    seed: int = field(default=42, metadata={"help": "seed of initialisation and data order"})
    bf16: bool | str = field(default="auto", metadata={
        "help": "auto: on when CUDA supports it; always off on CPU"})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "recompute activations in the backward pass (less memory, slower)"})
    logging_steps: int = field(default=1, metadata={"help": "optimizer steps between train_log.jsonl lines"})
    save_steps: int = field(default=0, metadata={
        "help": "> 0: checkpoint every N steps, so a killed run resumes from there"})
    report_to: list[str] = field(default_factory=list, metadata={
        "help": "transformers' own loggers of the training curves (mlflow, wandb, trackio, tensorboard, ...); "
                "not part of the artifact key (they change no weight)"})

    def __post_init__(self):
        if self.lr_scheduler not in SCHEDULES:
            raise ValueError(f"lr_scheduler must be one of {', '.join(SCHEDULES)}, got {self.lr_scheduler!r}")
        if self.target not in ("response", "code"):
            raise ValueError(f"target must be 'response' or 'code', got {self.target!r}")
        if self.bf16 not in (True, False, "auto"):
            raise ValueError(f"bf16 must be true, false or \"auto\", got {self.bf16!r}")
        for name in ("max_length", "batch_size", "gradient_accumulation_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.learning_rate < 0 or self.epochs <= 0 or not 0 < self.wsd_decay <= 1:
            raise ValueError("learning_rate must be >= 0, epochs > 0 and 0 < wsd_decay <= 1")


def new_default(name: str, default: Any, of: type = TrainingConfig) -> Any:
    """The field `name` of the config dataclass `of` with another default, for a subclass: it keeps the field's
    help (a plain `name: type = value` there replaces the field and drops it)."""
    return field(default=default, metadata=of.__dataclass_fields__[name].metadata)


# ---- tokenization -----------------------------------------------------------------------------------------------


def render(tokenizer, instruction: str, response: str | None) -> str:
    """Prompt text (response None, ends where the model starts answering) or full text of one example."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": instruction}]
        if response is None:
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        messages.append({"role": "assistant", "content": response})
        return tokenizer.apply_chat_template(messages, tokenize=False)
    prompt = instruction + "\n"
    return prompt if response is None else prompt + response + (tokenizer.eos_token or "")


def encode_example(tokenizer, instruction: str, response: str, max_length: int) -> dict | None:
    """Token ids, attention mask and labels (-100 on the prompt) of one example, truncated to `max_length`.

    Also returns `offsets` (character spans in `text`, the full rendered text) and `response_start` (the character
    where the answer begins) so a plugin can map character-level marks (FGit's error-sensitive segments) to tokens.
    The prompt/answer boundary is the common prefix of the tokenized prompt and full text, as TRL computes it, so
    SFT, DPO and FGit see the same tokens. None when truncation leaves no answer token.
    """
    if getattr(tokenizer, DECODER_START, None) is not None:
        return encode_seq2seq_example(tokenizer, instruction, response, max_length)
    from harness.tokenization import encode_text

    templated = bool(getattr(tokenizer, "chat_template", None))
    prompt, text = render(tokenizer, instruction, None), render(tokenizer, instruction, response)
    # the same rule generation applies to the prompt (harness.tokenization), so both see the same prompt ids
    prompt_ids = encode_text(tokenizer, prompt, templated)["input_ids"]
    encoded = encode_text(tokenizer, text, templated, return_offsets_mapping=bool(tokenizer.is_fast))
    ids = encoded["input_ids"]
    boundary = 0
    while boundary < min(len(prompt_ids), len(ids)) and prompt_ids[boundary] == ids[boundary]:
        boundary += 1
    boundary = max(boundary, 1)  # position 0 is never a prediction target
    ids = ids[:max_length]
    if boundary >= len(ids):
        return None
    labels = [-100] * boundary + ids[boundary:]
    offsets = [list(o) for o in encoded["offset_mapping"][: len(ids)]] if "offset_mapping" in encoded else None
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "offsets": offsets,
            "text": text, "response_start": len(prompt)}


# ---- encoder–decoder models (the CodeT5 family) -------------------------------------------------------------------
# The instruction is the encoder's source as is (CodeT5: no chat template), the response the decoder's target. Rows
# keep the causal layout every loss here expects: `input_ids` is the decoder's input, [start] + target, and
# `labels` is [-100] + target, so logits at t predict labels[t + 1] exactly as for a causal model (the losses shift
# by one themselves); `encoder_input_ids` / `encoder_attention_mask` ride along and `DecoderView` hands them to the
# model. Character offsets refer to the target text, so FGit's masks map onto decoder tokens.

DECODER_START = "fgit_bench_decoder_start"  # tokenizer attribute: the decoder start token of an encoder–decoder model


def mark_seq2seq(tokenizer, model) -> None:
    config = getattr(model, "config", None)
    if getattr(config, "is_encoder_decoder", False):
        setattr(tokenizer, DECODER_START, int(config.decoder_start_token_id))


def encode_seq2seq_example(tokenizer, instruction: str, response: str, max_length: int) -> dict | None:
    """Decoder-side ids, mask and labels of one example (layout above), truncated to `max_length`; the encoder's
    columns come from `encoder_columns`. `text` is the target, `response_start` 0."""
    start = getattr(tokenizer, DECODER_START)
    target = tokenizer(response, add_special_tokens=False, return_offsets_mapping=bool(tokenizer.is_fast))
    ids = list(target["input_ids"]) + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])
    offsets = None
    if "offset_mapping" in target:
        offsets = [[0, 0]] + [list(o) for o in target["offset_mapping"]] + [[len(response), len(response)]]
    ids = ([start] + ids)[:max_length]
    if len(ids) < 2:
        return None
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] + ids[1:],
            "offsets": offsets[: len(ids)] if offsets else None, "text": response, "response_start": 0}


def encoder_columns(tokenizer, instruction: str, max_length: int) -> dict:
    ids = tokenizer(instruction)["input_ids"][:max_length]
    return {"encoder_input_ids": ids, "encoder_attention_mask": [1] * len(ids)}


class DecoderView:
    """An encoder–decoder model as the causal model the losses call: `input_ids` / `attention_mask` go to the
    decoder, the batch's encoder columns to the encoder. No decoder cache (the losses' prefix sharing is for
    causal models); `logits_to_keep` is applied to the full logits."""

    def __init__(self, model, inputs: dict):
        self._model, self._inputs = model, inputs

    def __call__(self, input_ids=None, attention_mask=None, logits_to_keep=None, **kwargs):
        kwargs.pop("past_key_values", None)
        kwargs["use_cache"] = False
        out = self._model(input_ids=self._inputs["encoder_input_ids"],
                          attention_mask=self._inputs["encoder_attention_mask"], decoder_input_ids=input_ids,
                          decoder_attention_mask=attention_mask, **kwargs)
        if logits_to_keep is not None and not (isinstance(logits_to_keep, int) and logits_to_keep == 0):
            out.logits = (out.logits[:, -logits_to_keep:] if isinstance(logits_to_keep, int)
                          else out.logits[:, logits_to_keep])
        return out

    def __getattr__(self, name):
        return getattr(self._model, name)


def encode_sft(tokenizer, example: TrainingExample, config: TrainingConfig) -> dict | None:
    """The default row: the correct response, as the model's training columns."""
    encoded = encode_example(tokenizer, example.instruction, response_text(example, config.target),
                             config.max_length)
    return None if encoded is None else {k: encoded[k] for k in ("input_ids", "attention_mask", "labels")}


# ---- batching and loss ------------------------------------------------------------------------------------------


class PadCollator:
    """Right-pads every list column to the batch's longest row; scalars are stacked, strings kept as lists.

    Pad values: `*input_ids` → pad token, `*labels` → -100, everything else (masks, weights) → 0, unless
    `pad_values` names the column. Float columns become float32 tensors, integer ones int64.
    """

    def __init__(self, pad_token_id: int, pad_values: dict[str, float] | None = None):
        self.pad_token_id = pad_token_id
        self.pad_values = pad_values or {}

    def pad_value(self, key: str) -> float:
        if key in self.pad_values:
            return self.pad_values[key]
        if key.endswith("labels"):
            return -100
        if key.endswith("input_ids"):
            return self.pad_token_id
        return 0

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        batch = {}
        for key in rows[0]:
            values = [row[key] for row in rows]
            if isinstance(values[0], (list, tuple)):
                floating = any(isinstance(x, float) for v in values for x in v)
                dtype = torch.float32 if floating else torch.long
                tensor = torch.full((len(values), max(len(v) for v in values)), self.pad_value(key), dtype=dtype)
                for i, value in enumerate(values):
                    if len(value):
                        tensor[i, : len(value)] = torch.tensor(value, dtype=dtype)
                batch[key] = tensor
            elif isinstance(values[0], (int, float, bool)):
                batch[key] = torch.tensor(values)
            else:
                batch[key] = values
        return batch


def token_mean_cross_entropy(model, inputs: dict, num_items_in_batch=None):
    """Σ cross-entropy over response tokens / number of response tokens in the whole accumulated batch."""
    import torch

    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    total = torch.nn.functional.cross_entropy(logits[:, :-1].float().flatten(0, 1), inputs["labels"][:, 1:].flatten(),
                                              ignore_index=-100, reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else inputs["labels"][:, 1:].ne(-100).sum()
    return total / count


@functools.lru_cache(maxsize=1)
def trainer_classes():
    """Built lazily: importing transformers costs seconds, and `plugins` is imported by every command."""
    from transformers import Trainer

    class ScheduleMixin:
        """Adds the WSD decay length, which transformers wants in steps and we take as a fraction."""

        wsd_decay: float = 0.1

        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.args.lr_scheduler_type == "warmup_stable_decay":
                kwargs = dict(self.args.lr_scheduler_kwargs or {})
                kwargs.setdefault("num_decay_steps", max(1, round(self.wsd_decay * num_training_steps)))
                self.args.lr_scheduler_kwargs = kwargs
            return super().create_scheduler(num_training_steps, optimizer)

    class LossFnTrainer(ScheduleMixin, Trainer):
        loss_is_scaled_for_ga = True  # the loss is divided by num_items_in_batch of the whole accumulated batch

        def __init__(self, *args, loss_fn: LossFn | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_fn = loss_fn or token_mean_cross_entropy
            self.model_accepts_loss_kwargs = True  # so the Trainer counts num_items_in_batch for any model
            self._metric_sums: dict[str, float] = {}
            self._metric_calls = 0
            self.tokens_seen = 0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if "encoder_input_ids" in inputs:  # an encoder–decoder model: labels on the decoder side
                model = DecoderView(model, inputs)
            result = self.loss_fn(model, inputs, num_items_in_batch)
            loss, metrics = result if isinstance(result, tuple) else (result, {})
            self._metric_calls += 1
            for name, value in metrics.items():
                self._metric_sums[name] = self._metric_sums.get(name, 0.0) + float(value)
            if "attention_mask" in inputs:
                self.tokens_seen += int(inputs["attention_mask"].sum())
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes  # DDP averages gradients over processes
            return (loss, None) if return_outputs else loss

        def log(self, logs, start_time=None):
            if self._metric_calls and "loss" in logs:
                logs.update({k: v / self._metric_calls for k, v in self._metric_sums.items()})
                self._metric_sums, self._metric_calls = {}, 0
                step_logs = getattr(self.loss_fn, "step_logs", None)  # a loss that aggregates its own metrics
                if step_logs is not None:
                    logs.update(step_logs())
            logs["tokens_seen"] = self.tokens_seen
            super().log(logs, start_time)

    return ScheduleMixin, LossFnTrainer


def training_arguments(config: TrainingConfig, output_dir: Path, args_class=None, **extra):
    """TrainingArguments (or a subclass such as TRL's DPOConfig) for `config`, CPU or CUDA+bf16."""
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    bf16 = (cuda and torch.cuda.is_bf16_supported()) if config.bf16 == "auto" else bool(config.bf16)
    schedule = SCHEDULES[config.lr_scheduler]
    if schedule == "constant" and config.warmup > 0:
        schedule = "constant_with_warmup"
    kwargs = dict(
        output_dir=str(output_dir / "checkpoints"), num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1, learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size, gradient_accumulation_steps=config.gradient_accumulation_steps,
        lr_scheduler_type=schedule, warmup_steps=config.warmup, weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm, seed=config.seed, data_seed=config.seed, bf16=bf16, use_cpu=not cuda,
        logging_steps=config.logging_steps, save_strategy="steps" if config.save_steps else "no",
        save_steps=config.save_steps or 500, save_total_limit=1, report_to=list(config.report_to) or "none", remove_unused_columns=False,
        activation_checkpointing=config.gradient_checkpointing, dataloader_num_workers=0,
        disable_tqdm=os.environ.get("FGIT_BENCH_PROGRESS", "1") == "0",
    )
    if schedule == "warmup_stable_decay":
        kwargs["lr_scheduler_kwargs"] = {"decay_type": config.wsd_decay_type}
    kwargs.update(extra)
    return (args_class or TrainingArguments)(**kwargs)


def samples_per_step(config: TrainingConfig) -> int:
    return config.batch_size * config.gradient_accumulation_steps * int(os.environ.get("WORLD_SIZE", "1"))


def run_training(spec: ModelSpec, examples: list[TrainingExample], config: TrainingConfig, output_dir: Path, *,
                 plugin: str, encode: Callable[[Any, TrainingExample, Any], dict | None] | None = None,
                 loss_fn: LossFn | None = None, pad_values: dict[str, float] | None = None,
                 manifest_extra: dict | None = None, loaded: tuple | None = None) -> Path:
    """Train `spec` on `examples` with `loss_fn` (default: token-mean cross-entropy) and write the artifact.

    A plugin with its own loss passes `encode(tokenizer, example, config) -> row dict | None` (the default row
    plus its extra columns) and `loss_fn(model, inputs, num_items_in_batch) -> loss | (loss, metrics)`.
    `loaded`: (tokenizer, model) from `load_for_training(spec, config, wrap_lora=False)` when the plugin loaded it
    already (FGit uses it as the variant teacher first); LoRA is applied here.
    """
    import datasets

    output_dir = Path(output_dir)
    encode = encode or encode_sft
    tokenizer, model = loaded or load_for_training(spec, config, wrap_lora=False)
    model = apply_lora(model, config)
    mark_seq2seq(tokenizer, model)
    seq2seq = getattr(tokenizer, DECODER_START, None) is not None
    rows = [row | (encoder_columns(tokenizer, example.instruction, config.max_length) if seq2seq else {})
            for example in examples if (row := encode(tokenizer, example, config)) is not None]
    if not rows:
        from harness.core.errors import BadInput

        raise BadInput(f"no example fits max_length={config.max_length}: every prompt fills it")
    _, trainer_class = trainer_classes()
    args = training_arguments(config, output_dir)
    log = log_callback(output_dir / "train_log.jsonl", samples_per_step(config))
    trainer = trainer_class(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows),
                            data_collator=PadCollator(tokenizer.pad_token_id, pad_values), loss_fn=loss_fn,
                            callbacks=[log])
    trainer.wsd_decay = config.wsd_decay
    checkpoint = resume_checkpoint(output_dir, log)
    result = trainer.train(resume_from_checkpoint=checkpoint)
    stats = {"examples": len(examples), "examples_trained": len(rows), "dropped_too_long": len(examples) - len(rows),
             "steps": trainer.state.global_step, "tokens_seen": trainer.tokens_seen, **result.metrics}
    if hasattr(loss_fn, "summary"):  # e.g. FGit's weight statistics over paired rows (plugins.training.fgit_stats)
        stats["loss_statistics"] = loss_fn.summary()
    return save_artifact(trainer, tokenizer, spec, config, output_dir, plugin=plugin, examples=examples,
                         stats=stats, manifest_extra=manifest_extra)

"""Model loading for training, the JSON-lines training log, checkpoint resume, and writing the artifact.

Artifact directory (what every generation backend loads through `harness.models.resolve_model`):
    artifact.json      kind "merged" (model_dir) or "adapter" (adapter_dir + base_model), plus provenance
    model/ | adapter/  safetensors weights + tokenizer (merged), or the PEFT adapter
    train_log.jsonl    one line per logging step: loss, learning rate, grad norm, samples/s, peak memory
"""

from __future__ import annotations

import datetime
import platform
import resource
import sys
import time
from pathlib import Path

from harness.core.atomic import append_jsonl, read_journal, write_json, write_jsonl
from harness.core.config import to_dict
from harness.core.errors import BadInput
from harness.core.hashing import text_digest
from harness.core.provenance import package_versions
from harness.models import ARTIFACT_MANIFEST, ModelSpec


def _drop_gguf_quantizer(model) -> None:
    """transformers dequantizes this GGUF into dense fp32 Linear layers but keeps the GGUF quantizer attached,
    which blocks `save_pretrained` and marks the model untrainable. With every weight dense, detach it."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is None or "gguf" not in str(getattr(quantizer.quantization_config, "quant_method", "")).lower():
        return
    packed = [name for name, module in model.named_modules() if "gguf" in type(module).__name__.lower()]
    if packed:
        raise BadInput(f"cannot fine-tune packed GGUF weights ({packed[0]} ...): load the model dequantized")
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def lora_config(config, model=None):
    """peft LoraConfig for `config`. "all-linear" with `lora_layers` is spelled out as the model's linear module
    names (peft accepts a layer subset only with explicit names)."""
    from peft import LoraConfig

    targets = list(config.lora_target_modules)
    if targets == ["all-linear"] and config.lora_layers:
        import torch

        output = model.get_output_embeddings() if model is not None else None
        targets = sorted({name.rsplit(".", 1)[-1] for name, module in (model.named_modules() if model else [])
                          if isinstance(module, torch.nn.Linear) and module is not output})
    try:
        return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules="all-linear" if targets == ["all-linear"] else targets,
                          layers_to_transform=list(config.lora_layers) if config.lora_layers else None,
                          task_type="SEQ_2_SEQ_LM" if getattr(getattr(model, "config", None), "is_encoder_decoder",
                                                              False) else "CAUSAL_LM")
    except ValueError as exc:
        raise BadInput(f"LoRA settings: {exc}") from None


def load_for_training(spec: ModelSpec, config, wrap_lora: bool = True):
    """(tokenizer, model) ready for a Trainer: fp32 weights (bf16 autocast on CUDA), LoRA applied if asked."""

    from harness import models

    tokenizer = models.load_tokenizer(spec)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = models.load_model(spec)
    _drop_gguf_quantizer(model)
    if spec.adapter:  # continuing from an adapter artifact: fold it in, then train the merged model
        model = model.merge_and_unload()
    model.config.use_cache = False
    return tokenizer, apply_lora(model, config) if wrap_lora else model


def apply_lora(model, config):
    """The model wrapped with the config's LoRA adapter (unchanged when `config.lora` is off)."""
    if not config.lora:
        return model
    import transformers
    from peft import get_peft_model

    transformers.set_seed(config.seed)  # LoRA's random init must follow the seed like the data order
    return get_peft_model(model, lora_config(config, model))


def peak_memory_mb() -> float:
    """CUDA: peak allocated by torch. CPU: the process's peak resident set (ru_maxrss)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes on macOS, KiB on Linux


_CALLBACK_CLASS = None


def log_callback(path: Path, samples_per_step: int):
    """A TrainerCallback appending every log event (loss curve, learning rate, throughput, memory) as one fsynced
    JSON line. The class is built on first use: importing transformers at import time would slow every command."""
    global _CALLBACK_CLASS
    if _CALLBACK_CLASS is None:
        from transformers import TrainerCallback

        class JsonlLogCallback(TrainerCallback):
            def __init__(self, path: Path, samples_per_step: int):
                self.path = Path(path)
                self.samples_per_step = samples_per_step
                self._last: tuple[float, int] | None = None

            def on_train_begin(self, args, state, control, **kwargs):
                self._last = (time.perf_counter(), state.global_step)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if not state.is_world_process_zero:
                    return
                now = time.perf_counter()
                row = {"step": state.global_step, "epoch": state.epoch, **(logs or {})}
                if self._last and state.global_step > self._last[1] and "loss" in row:
                    elapsed, steps = now - self._last[0], state.global_step - self._last[1]
                    row["samples_per_second_window"] = round(steps * self.samples_per_step / elapsed, 4)
                    self._last = (now, state.global_step)
                row["peak_memory_mb"] = round(peak_memory_mb(), 1)
                append_jsonl(self.path, row)

        _CALLBACK_CLASS = JsonlLogCallback
    return _CALLBACK_CLASS(path, samples_per_step)


def resume_checkpoint(output_dir: Path, log) -> str | None:
    """The last trainer checkpoint of an interrupted run, with log lines after it dropped (they are redone)."""
    checkpoints = sorted((output_dir / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    if not checkpoints:
        if log.path.exists():
            log.path.unlink()  # a run that died before its first checkpoint starts over
        return None
    step = int(checkpoints[-1].name.split("-")[-1])
    write_jsonl(log.path, [row for row in read_journal(log.path) if row.get("step", 0) <= step])
    return str(checkpoints[-1])


def _versions() -> dict:
    names = ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "fgit-bench")
    return package_versions(names, python=platform.python_version())


def _device(args) -> str:
    import torch

    if torch.cuda.is_available() and not args.use_cpu:
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return "cpu"


def save_artifact(trainer, tokenizer, spec: ModelSpec, config, output_dir: Path, *, plugin: str, examples,
                  stats: dict, manifest_extra: dict | None = None) -> Path:
    """Write the weights (merged) or the adapter, the tokenizer and artifact.json; return `output_dir`."""
    from plugins.training.artifact_cache import ARTIFACT_FORMAT, examples_digest

    model = trainer.accelerator.unwrap_model(trainer.model)
    is_peft = hasattr(model, "peft_config")
    main = trainer.is_world_process_zero()
    if is_peft and not config.lora_merge and not spec.adapter:
        trainer.save_model(str(output_dir / "adapter"))
        layout = {"kind": "adapter", "adapter_dir": "adapter"}
        saved_to = output_dir / "adapter"
    else:
        saved_to = output_dir / "model"
        if is_peft:
            if main:
                model.merge_and_unload().save_pretrained(str(saved_to))
        else:
            trainer.save_model(str(saved_to))  # gathers sharded (FSDP/DeepSpeed) weights where needed
        layout = {"kind": "merged", "model_dir": "model"}
    if not main:
        return output_dir
    tokenizer.save_pretrained(str(saved_to))
    (saved_to / "training_args.bin").unlink(missing_ok=True)  # a pickle of the arguments: artifact.json has them
    template = getattr(tokenizer, "chat_template", None)
    manifest = {
        **layout,
        "format": ARTIFACT_FORMAT,
        "plugin": plugin,
        "base_model": spec.to_json(),
        "base_model_hash": spec.content_hash(),
        "config": to_dict(config),
        "data_hash": examples_digest(examples),
        "prompt_format": "chat_template" if template else "plain",
        "chat_template_sha256": text_digest(template) if isinstance(template, str) else None,
        "device": _device(trainer.args),
        "bf16": bool(trainer.args.bf16),
        "world_size": trainer.args.world_size,
        "training": stats,
        "log_file": "train_log.jsonl",
        "versions": _versions(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **(manifest_extra or {}),
    }
    write_json(output_dir / ARTIFACT_MANIFEST, manifest)
    return output_dir

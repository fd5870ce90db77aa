"""FGit's resolution and tokenization: one prompt tokenization for training and generation; the artifact key holds
what the config resolved to (embedding model actually used, teacher, variant set), so a change retrains; the
`paper` profile stops before training when its teacher/embedding models are missing.

Models and tokenizers are built in the tests (tests/tiny_models.py); nothing is downloaded.
"""

from __future__ import annotations

import json

import torch

from harness.generation.base import DecodingConfig, GenerationRequest
from harness.generation.hf import HFBackend
from harness.models import resolve_model
from plugins.api import TrainingExample
from plugins.training.trainer import encode_example, render
from plugins.training.training_data import make_example
from tests.conftest import run_cli
from tests.tiny_models import bos_tokenizer, causal_lm_dir, unixcoder_like_dir


def test_training_and_generation_tokenize_a_prompt_alike(tmp_path):
    """A tokenizer that adds BOS and a template that writes `{{ bos_token }}`: one BOS on both sides."""
    directory = causal_lm_dir(tmp_path / "lm")
    tokenizer = bos_tokenizer()
    instruction = "Write add."
    encoded = encode_example(tokenizer, instruction, "def f(a, b): return a + b", max_length=64)
    boundary = encoded["labels"].index(next(x for x in encoded["labels"] if x != -100))
    training_prompt = encoded["input_ids"][:boundary]

    backend = HFBackend(str(directory), DecodingConfig(max_new_tokens=1, batch_mode="plain", device="cpu"))
    seen = []
    backend.model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["input_ids"].clone()),
                                            with_kwargs=True)
    prompt = render(backend.tokenizer, instruction, None)
    backend.generate([GenerationRequest(0, prompt, (), "t", templated=True)], lambda output: None)
    generation_prompt = seen[0][0].tolist()

    bos = tokenizer.bos_token_id
    assert generation_prompt == training_prompt
    assert training_prompt[0] == bos and training_prompt.count(bos) == 1  # the template's BOS, no second one
    # the rule for a text without a template: the tokenizer's own BOS, on both sides as well
    plain = bos_tokenizer(chat_template=None)
    plain_ids = encode_example(plain, instruction, "return a", max_length=64)["input_ids"]
    assert plain_ids[0] == bos and plain_ids.count(bos) == 1


def _examples() -> list[TrainingExample]:
    codes = ["def f(a, b):\n    return a + b\n", "def f(a, b):\n    return a - b\n"]
    return [make_example(f"Write {name}", f"```python\n{code}```\n", {})
            for name, code in zip(("add.", "sub."), codes, strict=True)]


def test_a_changed_embedding_resolution_retrains(tmp_path):
    """`embedding = "auto"` with UniXcoder absent (char n-gram fallback), then present: a different artifact."""
    from harness.core.config import from_dict
    from plugins.methods.mutation import MutationVariantConfig
    from plugins.training.artifact_cache import train_cached

    model_dir = causal_lm_dir(tmp_path / "lm")
    embedder_dir = tmp_path / "unixcoder"  # absent at first
    config = from_dict(MutationVariantConfig, {
        "max_steps": 1, "batch_size": 2, "gradient_accumulation_steps": 1, "max_length": 64, "learning_rate": 1e-3,
        "warmup": 0, "variants": {"embedding": "auto", "embedding_model": str(embedder_dir), "n_candidates": 2}})
    spec = resolve_model(str(model_dir))
    cache = tmp_path / "cache"
    first, cached = train_cached("mutation", spec, _examples(), config, cache_dir=cache)
    assert not cached
    manifest = json.loads((first / "artifact.json").read_text())
    embedding = manifest["resolved"]["variants"]["embedding"]
    assert embedding["method"] == "char-ngram" and embedding["fallback_from"] == str(embedder_dir)
    assert manifest["resolved"]["variant_set"] == manifest["pairs"]["variant_set"]

    again, cached = train_cached("mutation", spec, _examples(), config, cache_dir=cache)
    assert cached and again == first  # nothing changed: the same artifact

    unixcoder_like_dir(embedder_dir)  # now UniXcoder (a tiny stand-in with its layout) is available
    second, cached = train_cached("mutation", spec, _examples(), config, cache_dir=cache)
    assert not cached and second != first  # retrained: the old artifact is not reused
    resolved = json.loads((second / "artifact.json").read_text())["resolved"]["variants"]["embedding"]
    assert resolved["method"] == "unixcoder" and resolved["model_hash"]
    assert resolved["model_hash"] == resolve_model(str(embedder_dir)).content_hash()


def test_paper_profile_without_its_models_stops_before_training(tmp_path):
    out = tmp_path / "run"
    done = run_cli("run", "--profile", "paper", "--model", "smollm2", "--variants", "fgit", "--output", str(out))
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Qwen/Qwen2.5-Coder-32B-Instruct" in lines[0] and "microsoft/unixcoder-base" in lines[0]
    assert not out.exists()  # nothing trained, nothing written


def test_the_shared_cache_api_is_the_one_installed():
    """share_prefix passes `cache=` and reads `output.cache`: the names of the transformers range pyproject pins."""
    from tests.test_fgit_loss import tiny_llama

    model = tiny_llama()
    out = model(input_ids=torch.tensor([[1, 2, 3]]), use_cache=True)
    assert out.cache is not None and out.cache.get_seq_length() == 3

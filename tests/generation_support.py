"""Models for the generation tests, built once per test process (module-level memo: the tests share them).

The SmolLM2 tokenizer is converted from the embedded GGUF once (~10 s) and saved as a normal tokenizer directory;
tiny random Llama models use it, so they have a real vocabulary and chat template but cost nothing to run.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path


@functools.lru_cache(maxsize=1)
def smollm2_tokenizer_dir() -> Path:
    from harness.models import load_tokenizer, resolve_model

    directory = Path(tempfile.mkdtemp(prefix="fgit-smollm2-tok-"))
    load_tokenizer(resolve_model("smollm2")).save_pretrained(directory)
    return directory


def load_saved_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_tokenizer_dir())


@functools.lru_cache(maxsize=4)
def tiny_model_dir(seed: int = 0, kv_heads: int = 2) -> Path:
    """A 2-layer, hidden-32 random Llama with the SmolLM2 tokenizer, saved as a model directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_saved_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=kv_heads, max_position_embeddings=4096, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    directory = Path(tempfile.mkdtemp(prefix=f"fgit-tiny-llama-{seed}-"))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@functools.lru_cache(maxsize=2)
def tiny_t5_dir(seed: int = 0) -> Path:
    """A 2+2-layer, d_model-32 random T5 (encoder–decoder) with the SmolLM2 tokenizer minus its chat template, as
    the CodeT5 family ships (no chat template), saved as a model directory."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = load_saved_tokenizer()
    tokenizer.chat_template = None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    config = T5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0, decoder_start_token_id=pad, pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config).eval()
    directory = Path(tempfile.mkdtemp(prefix=f"fgit-tiny-t5-{seed}-"))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory

"""Tiny models and tokenizers built inside the tests (no download): a word-level fast tokenizer that adds BOS and
whose chat template writes `{{ bos_token }}` itself, a causal LM over it, a UniXcoder-shaped encoder."""

from __future__ import annotations

from pathlib import Path

WORDS = ["user", "assistant", ":", "def", "f(a,", "b):", "return", "a", "+", "-", "*", "b", "```python", "```",
         "Write", "add.", "sub.", "mul.", "x", "y", "(", ")", "=", "1", "2", "if", "else", "for", "in"]
SPECIALS = ["<s>", "</s>", "<pad>", "<unk>", "<encoder-only>"]
BOS_TEMPLATE = ("{{ bos_token }}{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
                "{% if add_generation_prompt %}assistant : {% endif %}")


def bos_tokenizer(chat_template: str | None = BOS_TEMPLATE):
    """Adds `<s>` in front of every encoded text (add_special_tokens=True), like Llama/Mistral tokenizers."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B",
                                                           special_tokens=[("<s>", vocab["<s>"])])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>", cls_token="<s>", sep_token="</s>",
                                        additional_special_tokens=["<encoder-only>"])
    tokenizer.chat_template = chat_template
    return tokenizer


def causal_lm_dir(path: Path, seed: int = 0) -> Path:
    """A 2-layer Llama over `bos_tokenizer()`, saved with it as a model directory."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = bos_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def unixcoder_like_dir(path: Path, seed: int = 0) -> Path:
    """A tiny RoBERTa encoder with a tokenizer holding `<encoder-only>`: what UniXcoderEmbedder loads."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    tokenizer = bos_tokenizer(chat_template=None)
    torch.manual_seed(seed)
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                           num_attention_heads=2, max_position_embeddings=600, pad_token_id=tokenizer.pad_token_id)
    RobertaModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path

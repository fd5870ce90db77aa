"""The one rule that turns a rendered prompt into token ids, shared by training and every generation backend.

A text rendered through the model's chat template already holds the specials the template wants (many templates
start with `{{ bos_token }}`), so the tokenizer adds none; a plain text (no template: direct completion, or the
`instruction\\n response` format of training) gets the tokenizer's own specials (BOS where it adds one). Training
used `add_special_tokens=False` for templated text while generation called the tokenizer with its default: for a
tokenizer that adds BOS and a template that writes it, evaluation saw a double BOS that training never saw.
"""

from __future__ import annotations

PROMPT_ENCODING = "template-specials-only/v1"  # goes into the generation identity: a change moves the cache key


def encode_text(tokenizer, text: str, templated: bool, **kwargs) -> dict:
    """`tokenizer(text, ...)` with the special tokens added exactly when the text did not come from the template."""
    return tokenizer(text, add_special_tokens=not templated, **kwargs)

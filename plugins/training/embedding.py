"""Code embeddings for picking the incorrect variant closest to the correct code (cosine similarity).

The paper embeds with UniXcoder (microsoft/unixcoder-base). It is used when transformers can load it from a local
directory or the local Hugging Face cache (`unixcoder`); nothing is downloaded. Otherwise (`auto` falls back, and
says so in the report) the similarity is a character n-gram term-frequency cosine (`char-ngram`):

- Why not mean-pooled hidden states of the embedded decoder model (`lm-mean`, available as an option): decoder
  states are strongly anisotropic, so every pair of code snippets scores ~0.99 and the ranking among near-identical
  candidates is mostly noise; loading the model also costs ~17 s on every run, even when the variants are cached.
- Why character n-grams: selection only needs "which candidate stays closest to `c`", which is a surface property
  of the text; n-gram counts see a changed operator or bound, are deterministic, need no model and cost nothing.

Every method returns unit vectors (numpy), so a dot product is the cosine. `describe()` goes into the report.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import ClassVar

import numpy as np

from harness.core.errors import BadInput
from harness.core.registry import Registry

EMBEDDINGS: Registry[type[Embedder]] = Registry("embedding method", "plugins.training.embedding:Embedder", package="plugins.training",
                                                markers=("EMBEDDINGS.register",), group="fgit_bench.embeddings")
UNIXCODER = "microsoft/unixcoder-base"
_WHITESPACE = re.compile(r"\s+")


class Embedder:
    """Subclasses register with `@EMBEDDINGS.register(name)`; `model` is a model reference where one is used."""

    name: ClassVar[str]

    def __init__(self, model: str | None = None):
        self.model_ref = model

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"method": self.name}


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def cosine_to_first(vectors: np.ndarray) -> list[float]:
    """Cosine of every row after the first with the first (rows are unit vectors)."""
    return [float(x) for x in vectors[1:] @ vectors[0]]


@EMBEDDINGS.register("char-ngram")
class CharNgramEmbedder(Embedder):
    """Counts of character n-grams (whitespace runs collapsed to one space), hashed into a fixed-size vector."""

    name = "char-ngram"
    n = 3
    dimensions = 1 << 18  # collisions among a few hundred distinct n-grams are negligible at this size

    def _index(self, gram: str) -> int:
        return int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "big") % self.dimensions

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            flat = _WHITESPACE.sub(" ", text.strip())
            grams = Counter(self._index(flat[i : i + self.n]) for i in range(max(1, len(flat) - self.n + 1)))
            rows.append(grams)
        # Dense over the union of used indices only: the cosine is the same and the matrix stays small.
        used = sorted({index for grams in rows for index in grams})
        column = {index: col for col, index in enumerate(used)}
        matrix = np.zeros((len(texts), max(1, len(used))), dtype=np.float64)
        for row, grams in enumerate(rows):
            for index, count in grams.items():
                matrix[row, column[index]] = count
        return _normalise_rows(matrix)

    def describe(self) -> dict:
        return {"method": self.name, "n": self.n, "whitespace": "collapsed", "weighting": "term frequency"}


class _TransformerEmbedder(Embedder):
    """Shared loading and batching for the model-based methods; weights are loaded on first use."""

    batch_size = 8
    max_length = 1024

    def __init__(self, model: str | None = None):
        super().__init__(model)
        self._model = None
        self._tokenizer = None

    def adopt(self, model, tokenizer) -> None:
        """Use an already loaded model (tests and callers that hold the model load it once)."""
        self._model, self._tokenizer = model, tokenizer

    def _load(self) -> None:
        raise NotImplementedError

    def _encode(self, batch: list[str]):
        """(input_ids, attention_mask) tensors for one batch."""
        tok = self._tokenizer
        enc = tok(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return enc["input_ids"], enc["attention_mask"]

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        out = []
        for start in range(0, len(texts), self.batch_size):
            ids, mask = self._encode(texts[start : start + self.batch_size])
            with torch.inference_mode():
                hidden = self._model(input_ids=ids.to(self._model.device), attention_mask=mask.to(self._model.device),
                                     output_hidden_states=True).hidden_states[-1].float().cpu()
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * weights).sum(1) / weights.sum(1).clamp(min=1)).numpy())
        return _normalise_rows(np.concatenate(out).astype(np.float64))


@EMBEDDINGS.register("unixcoder")
class UniXcoderEmbedder(_TransformerEmbedder):
    """UniXcoder's encoder-only embedding (its reference `UniXcoder.tokenize(mode="<encoder-only>")` + mean pool):
    `<s> <encoder-only> </s> tokens </s>`, mean of the last hidden states over real tokens, L2-normalised."""

    name = "unixcoder"
    max_length = 512  # RoBERTa positions

    def __init__(self, model: str | None = None):
        super().__init__(model or UNIXCODER)

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        try:  # local files only: a directory, or the hub id already in the Hugging Face cache
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_ref, local_files_only=True)
            self._model = AutoModel.from_pretrained(self.model_ref, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot load {self.model_ref} for embeddings: {str(exc).splitlines()[0]}") from None
        self._model.eval()

    def _encode(self, batch: list[str]):
        import torch

        tok = self._tokenizer
        mode = tok.convert_tokens_to_ids("<encoder-only>")
        rows = []
        for text in batch:
            ids = tok.convert_tokens_to_ids(tok.tokenize(text))[: self.max_length - 4]
            rows.append([tok.cls_token_id, mode, tok.sep_token_id, *ids, tok.sep_token_id])
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return input_ids, mask

    def describe(self) -> dict:
        return {"method": self.name, "model": self.model_ref, "pooling": "mean", "mode": "<encoder-only>"}


@EMBEDDINGS.register("lm-mean")
class LMMeanEmbedder(_TransformerEmbedder):
    """Mean-pooled last hidden states of a causal LM through harness.models (default: the embedded SmolLM2)."""

    name = "lm-mean"

    def _load(self) -> None:
        from harness.models import load_model, load_tokenizer, resolve_model

        spec = resolve_model(self.model_ref)
        self._tokenizer = load_tokenizer(spec)
        self._model = load_model(spec)

    def _encode(self, batch: list[str]):
        tok = self._tokenizer
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "right"
        return super()._encode(batch)

    def describe(self) -> dict:
        from harness.models import resolve_model

        spec = resolve_model(self.model_ref)
        return {"method": self.name, "model": spec.name, "model_hash": spec.content_hash(), "pooling": "mean"}


def unixcoder_available(model: str | None = None) -> tuple[bool, str]:
    """Cheap check (no weights read): a local model directory, or the hub id's config in the local HF cache."""
    from pathlib import Path

    ref = model or UNIXCODER
    if Path(ref).is_dir():
        return (Path(ref) / "config.json").is_file(), f"{ref} has no config.json"
    if ref.count("/") != 1 or ref.startswith((".", "/")):
        return False, f"{ref}: no such model directory"
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(ref, "config.json")
    except (ImportError, ValueError) as exc:
        return False, f"{ref}: {exc}"
    return isinstance(found, str), f"{ref} is not in the local Hugging Face cache (no download is attempted)"


def make_embedder(method: str, model: str | None = None) -> tuple[Embedder, dict]:
    """The embedder for `method`, and a record of what was asked and what is used (for the report and the cache
    key). `auto`: UniXcoder when it is available locally, else `char-ngram`, with the reason recorded."""
    if method != "auto":
        embedder = EMBEDDINGS.get(method)(model)
        return embedder, {"requested": method, **embedder.describe()}
    available, why_not = unixcoder_available(model)
    if available:
        embedder = UniXcoderEmbedder(model)
        return embedder, {"requested": "auto", **embedder.describe()}
    fallback = CharNgramEmbedder()
    return fallback, {"requested": "auto", **fallback.describe(), "fallback_from": model or UNIXCODER,
                      "fallback_reason": why_not}

"""Embeddings for variant selection: the char-ngram fallback, the `auto` choice, UniXcoder's input format and
pooling on a tiny RoBERTa built here, and mean pooling of a causal LM (tiny Llama with the SmolLM2 tokenizer)."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.training.embedding import CharNgramEmbedder, cosine_to_first, make_embedder

CORRECT = "def add_one(x):\n    return x + 1\n"
CLOSE = "def add_one(x):\n    return x - 1\n"  # one character changed
FAR = "import os\n\nfor name in os.listdir('.'):\n    print(name.upper())\n"


def test_char_ngram_ranks_a_one_character_change_above_unrelated_code():
    vectors = CharNgramEmbedder().embed([CORRECT, CLOSE, FAR, CORRECT])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    close, far, same = cosine_to_first(vectors)
    assert same == pytest.approx(1.0)
    assert 0.7 < close < 1.0
    assert far < 0.2


def test_char_ngram_ignores_whitespace_layout_but_not_indentation_presence():
    # Runs of whitespace collapse to one space: re-indenting with tabs or extra blank lines changes nothing.
    spaced = "def add_one(x):\n\n\n\treturn  x + 1\n"
    (cos,) = cosine_to_first(CharNgramEmbedder().embed([CORRECT, spaced]))
    assert cos == pytest.approx(1.0)


def test_char_ngram_counts_repetitions():
    # Term frequency, not presence: "ab" repeated differs from "ab" once only by counts.
    once, many = CharNgramEmbedder().embed(["abcd", "abcdabcd"])
    assert float(once @ many) < 0.99


def test_auto_falls_back_to_char_ngram_with_the_reason_when_unixcoder_is_missing(tmp_path):
    embedder, record = make_embedder("auto", str(tmp_path / "no-unixcoder-here"))
    assert isinstance(embedder, CharNgramEmbedder)
    assert record["requested"] == "auto" and record["method"] == "char-ngram"
    assert "no-unixcoder-here" in record["fallback_from"] and record["fallback_reason"]


def test_unknown_method_is_bad_input():
    from harness.core.errors import BadInput

    with pytest.raises(BadInput, match="did you mean 'char-ngram'"):
        make_embedder("char-ngam")


@pytest.fixture(scope="module")
def tiny_unixcoder(tmp_path_factory):
    """A tiny RoBERTa with a byte-level BPE tokenizer and UniXcoder's `<encoder-only>` token, saved as a model
    directory: it exercises the real loading and encoding code of the `unixcoder` method."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-unixcoder")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([CORRECT, CLOSE, FAR] * 20, vocab_size=400,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>", "<encoder-only>"])
    tokenizer = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                     sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                     mask_token="<mask>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<encoder-only>"]})
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=520, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    RobertaModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_auto_uses_unixcoder_when_it_is_available_locally(tiny_unixcoder):
    embedder, record = make_embedder("auto", str(tiny_unixcoder))
    assert record["method"] == "unixcoder" and record["model"] == str(tiny_unixcoder)
    assert "fallback_reason" not in record
    vectors = embedder.embed([CORRECT, CORRECT, CLOSE])
    assert vectors.shape[0] == 3 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    same, close = cosine_to_first(vectors)
    assert same == pytest.approx(1.0) and close < 1.0 - 1e-6


def test_unixcoder_input_is_cls_mode_sep_tokens_sep(tiny_unixcoder):
    embedder, _ = make_embedder("unixcoder", str(tiny_unixcoder))
    embedder._load()
    tok = embedder._tokenizer
    ids, mask = embedder._encode(["x + 1", CORRECT])
    short = tok.convert_tokens_to_ids(tok.tokenize("x + 1"))
    expected = [tok.cls_token_id, tok.convert_tokens_to_ids("<encoder-only>"), tok.sep_token_id, *short,
                tok.sep_token_id]
    assert ids[0, : len(expected)].tolist() == expected
    assert mask[0].tolist() == [1] * len(expected) + [0] * (ids.shape[1] - len(expected))  # right padding


def test_lm_mean_pooling_ignores_padding(tiny_unixcoder, tmp_path):
    """A text's embedding is the same alone and batched with a longer text (its padding is not pooled). The
    model: a tiny random Llama saved with the tiny tokenizer, loaded through harness.models like any model dir."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_unixcoder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    embedder, record = make_embedder("lm-mean", str(tmp_path))
    assert record["method"] == "lm-mean" and record["model_hash"]
    alone = embedder.embed([CLOSE])
    batched = embedder.embed([CLOSE, FAR * 3])
    assert np.allclose(alone[0], batched[0], atol=1e-5)
    assert not np.allclose(batched[0], batched[1], atol=1e-3)

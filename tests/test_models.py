"""harness.models: a damaged model file is bad input (exit 2 from every command), never a traceback."""

from __future__ import annotations

import pytest

from harness.core.errors import BadInput
from harness.models import load_model, load_tokenizer, resolve_model


@pytest.mark.parametrize("cut", [16, 4096, 1 << 20])
def test_truncated_embedded_gguf_is_bad_input(tmp_path, cut):
    """The first bytes of the real embedded GGUF: the header parses, then the file ends (struct.error/EOFError
    inside the gguf reader, or a ValueError, depending on where it is cut)."""
    embedded = resolve_model("smollm2")
    source = f"{embedded.path}/{embedded.gguf_file}"
    truncated = tmp_path / "truncated.gguf"
    with open(source, "rb") as handle:
        truncated.write_bytes(handle.read(cut))
    spec = resolve_model(str(truncated))
    with pytest.raises(BadInput, match="cannot load"):
        load_tokenizer(spec)
    with pytest.raises(BadInput, match="cannot load"):
        load_model(spec)


def test_dequantized_copy_of_a_gguf_is_the_same_model(tmp_path, monkeypatch):
    """The first load of a GGUF saves a dequantized copy (a fresh cache here); the second load reads it and must
    give the same tensors and the same tokenizer, down to the hash generation keys its cache by."""
    import torch

    from harness.generation.hf import tokenizer_hash
    from harness.models import dequantized_dir

    monkeypatch.setenv("FGIT_BENCH_CACHE", str(tmp_path))
    spec = resolve_model("smollm2")
    assert dequantized_dir(spec) is None
    from_gguf_tokenizer = load_tokenizer(spec)
    from_gguf = load_model(spec)
    copy = dequantized_dir(spec)
    # the model that made the copy is left as transformers loaded it (the Trainer checks its quantizer)
    assert getattr(from_gguf, "hf_quantizer", None) is not None
    assert copy is not None and copy.is_relative_to(tmp_path)
    again_tokenizer, again = load_tokenizer(spec), load_model(spec)
    assert getattr(again, "hf_quantizer", None) is None  # really read from the copy, not from the GGUF
    first, second = from_gguf.state_dict(), again.state_dict()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    assert tokenizer_hash(from_gguf_tokenizer) == tokenizer_hash(again_tokenizer)
    text = "def add(a, b):\n    return a + b\n"
    assert from_gguf_tokenizer(text)["input_ids"] == again_tokenizer(text)["input_ids"]

"""harness.models: a damaged model file is bad input (exit 2 from every command), never a traceback."""

from __future__ import annotations

import pytest

from harness.errors import BadInput
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

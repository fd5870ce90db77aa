"""Content-addressed generation cache: one file per (model, tokenizer, template, decoding, task prompt) → output.

Each finished task is written at once, atomically, as its own file: that is the run's journal. A crash or Ctrl-C
loses at most the tasks in flight; a rerun finds the finished ones by key and never regenerates or duplicates them.
Entries are enveloped (key + checksum, harness/core/cache_entry.py): a damaged one is regenerated, never used.
The cache also memoises tokenizer facts (content hash, chat template) per model hash, because building a tokenizer
from a GGUF file takes seconds and a fully cached run must not pay that.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.core import cache_entry
from harness.core.hashing import json_digest

KEY_VERSION = 1  # bump when the meaning of an entry changes


def default_root() -> Path:
    """$FGIT_BENCH_CACHE/generations, else ~/.cache/fgit-bench/generations."""
    from harness.core.data import cache_root

    return cache_root() / "generations"


class GenerationCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else default_root()

    @staticmethod
    def key(identity_fields: dict, template_hash: str, decoding_fields: dict, task_prompt: str) -> str:
        return json_digest(
            {
                "v": KEY_VERSION,
                "identity": identity_fields,
                "template": template_hash,
                "decoding": decoding_fields,
                "prompt": task_prompt,
            }
        )

    def _path(self, key: str) -> Path:
        return self.root / "outputs" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        return cache_entry.read_json(self._path(key), key, "generation", validate=_output)

    def put(self, key: str, entry: dict) -> None:
        cache_entry.write_json(self._path(key), key, {**entry, "key": key})

    def memo_get(self, kind: str, fields: dict) -> dict | None:
        key = json_digest(fields)
        return cache_entry.read_json(self.root / kind / f"{key}.json", key, f"generation {kind}", validate=_entry)

    def memo_put(self, kind: str, fields: dict, value: dict) -> None:
        key = json_digest(fields)
        cache_entry.write_json(self.root / kind / f"{key}.json", key, value)


def _output(value):
    _entry(value)
    if not (isinstance(value.get("raw"), str) and isinstance(value.get("solution"), str)):
        raise TypeError("raw/solution are not text")
    return value


def _entry(value):
    if not isinstance(value, dict):
        raise TypeError("not an object")
    return value

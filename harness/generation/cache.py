"""Content-addressed generation cache: one file per (model, tokenizer, template, decoding, task prompt) → output.

Each finished task is written at once, atomically, as its own file: that is the run's journal. A crash or Ctrl-C
loses at most the tasks in flight; a rerun finds the finished ones by key and never regenerates or duplicates them.
The cache also memoises tokenizer facts (content hash, chat template) per model hash, because building a tokenizer
from a GGUF file takes seconds and a fully cached run must not pay that.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.core.atomic import write_json
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
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # unreadable entry: regenerate it (writes are atomic, so this means outside damage)
        return entry if entry.get("key") == key else None

    def put(self, key: str, entry: dict) -> None:
        write_json(self._path(key), {**entry, "key": key}, indent=None)

    def memo_get(self, kind: str, fields: dict) -> dict | None:
        path = self.root / kind / f"{json_digest(fields)}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None

    def memo_put(self, kind: str, fields: dict, value: dict) -> None:
        write_json(self.root / kind / f"{json_digest(fields)}.json", value, indent=None)

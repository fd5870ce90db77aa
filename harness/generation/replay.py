"""Replay: take outputs from an existing samples file (ours, evalplus's or bigcodebench's) instead of a model.

Each row's model text is its `raw` if present, else its `solution`, else its `completion` (evalplus's formats), and
goes through the same extraction as generated text, so outside samples get fgit-bench's provenance and sanitizer.
Rows are matched by task_id; sample i of a task is the task's i-th row in the file (so an n-sample file replays
as n samples per task with `--n-samples n`; with one sample per task, the first row of a task).
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.errors import BadInput
from harness.core.hashing import file_digest
from harness.generation.base import BACKENDS, Backend, BackendIdentity, GenerationOutput
from harness.samples import check_text

REPLAY_TEMPLATE = "replay"  # stands in for a chat template: the text is taken as the model's answer


@BACKENDS.register("replay")
class ReplayBackend(Backend):
    name = "replay"
    cacheable = False  # the file is the cache
    fixed_style = "chat"  # texts are whole answers (completions are joined to their prompt in `text_for`)

    def __init__(self, model, decoding, options=None):
        super().__init__(model, decoding, options)
        source = self.options.get("samples_from")
        if not source:
            raise BadInput("--backend replay needs --samples-from FILE (a samples .jsonl)")
        self.path = Path(source)
        if not self.path.is_file():
            raise BadInput(f"--samples-from: no such file {source}")
        self.rows: dict[str, list[dict]] = {}
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, RecursionError):
                    raise BadInput(f"{source}:{number}: not a JSON line") from None
                if not isinstance(row, dict) or "task_id" not in row:
                    raise BadInput(f"{source}:{number}: a sample needs a task_id")
                if not any(isinstance(row.get(k), str) for k in ("raw", "solution", "completion")):
                    raise BadInput(f"{source}:{number}: a sample needs raw, solution or completion text")
                for key in ("raw", "solution", "completion"):
                    check_text(f"{source}:{number}", key, row.get(key))
                self.rows.setdefault(row["task_id"], []).append(row)

    def identity(self) -> BackendIdentity:
        return BackendIdentity("replay", self.model_ref or self.path.name, "file:" + file_digest(self.path), "none",
                               REPLAY_TEMPLATE, {"samples_from": str(self.path)})

    def text_for(self, task_id: str, task_prompt: str, sample: int = 0) -> str:
        """The whole answer: a completion (evalplus format, or our direct-style raw) continues the task prompt."""
        rows = self.rows.get(task_id)
        if rows is None:
            raise BadInput(f"--samples-from {self.path} has no sample for {task_id}")
        if sample >= len(rows):
            raise BadInput(f"--samples-from {self.path} has {len(rows)} sample(s) for {task_id}, not {sample + 1}")
        row = rows[sample]
        if isinstance(row.get("raw"), str):
            return task_prompt + row["raw"] if row.get("prompt_style") == "direct" else row["raw"]
        if isinstance(row.get("solution"), str):
            return row["solution"]
        return task_prompt + row["completion"]

    def render(self, template, task_prompt: str) -> str:
        return task_prompt

    def generate(self, requests, on_output, batch_size=None) -> None:
        for request in requests:
            on_output(GenerationOutput(request.index, self.text_for(request.task_id, request.prompt, request.sample),
                                       0, 1))

"""The hotfixing paper's measure on held-out pairs: does the model, given the code up to the buggy line, write the
fixed line or the buggy line?

Per pair, the first line the fix replaces (difflib on lines) is the target: the context is the prompt (chat
template, as training renders it) + "```python\\n" + the code lines before it; the model completes it with
`samples` sampled completions (top-p, `max_new_tokens`; the paper: 10, 0.95, 64) or one greedy completion. A
completion *contains* a line when one of its lines equals it after stripping surrounding whitespace (a line, not
a substring: the buggy line is often a substring of the fixed one, `n ^= n - 1` vs `n &= n - 1` aside). Rates
are over all completions of all scorable pairs; pairs whose fix only inserts or deletes lines have no replaced
line and are counted as not scorable.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from plugins.api import TrainingExample
from plugins.training.trainer import render


@dataclass(frozen=True)
class LineProbe:
    task: str
    context: str  # the code before the buggy line, ending with a newline (or empty)
    fixed_line: str
    buggy_line: str


def line_probe(example: TrainingExample) -> LineProbe | None:
    fixed, buggy = (example.code or "").split("\n"), (example.incorrect or "").split("\n")
    matcher = difflib.SequenceMatcher(None, buggy, fixed, autojunk=False)
    for tag, i1, _, j1, _ in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag != "replace" or buggy[i1].strip() == fixed[j1].strip() or not fixed[j1].strip():
            return None
        context = "".join(line + "\n" for line in fixed[:j1])  # = buggy[:i1]: the lines before are equal
        return LineProbe(str(example.meta.get("task", "")), context, fixed[j1].strip(), buggy[i1].strip())
    return None


def contains_line(completion: str, line: str) -> bool:
    return any(candidate.strip() == line for candidate in completion.split("\n"))


def line_rates(model, tokenizer, pairs: list[TrainingExample], *, samples: int = 10, top_p: float = 0.95,
               max_new_tokens: int = 64, greedy: bool = False, seed: int = 0) -> dict:
    """{fixed_rate, buggy_rate, completions, pairs_scored, pairs_not_scorable, per_pair} of `model` on `pairs`."""
    import torch

    probes = [p for e in pairs if (p := line_probe(e)) is not None]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    per_pair, fixed_hits, buggy_hits, total = [], 0, 0, 0
    torch.manual_seed(seed)
    for example, probe in zip([e for e in pairs if line_probe(e) is not None], probes, strict=True):
        text = render(tokenizer, example.instruction, None) + "```python\n" + probe.context
        plain = not getattr(tokenizer, "chat_template", None)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=plain).to(device)
        decoding = {"do_sample": False} if greedy else {"do_sample": True, "top_p": top_p, "temperature": 1.0,
                                                        "top_k": 0, "num_return_sequences": samples}
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, use_cache=True,
                                 **decoding)
        completions = tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        fixed = sum(contains_line(c, probe.fixed_line) for c in completions)
        buggy = sum(contains_line(c, probe.buggy_line) for c in completions)
        fixed_hits, buggy_hits, total = fixed_hits + fixed, buggy_hits + buggy, total + len(completions)
        per_pair.append({"task": probe.task, "fixed": fixed, "buggy": buggy, "completions": len(completions)})
    model.train(was_training)
    return {"fixed_rate": fixed_hits / total if total else None, "buggy_rate": buggy_hits / total if total else None,
            "completions": total, "pairs_scored": len(probes), "pairs_not_scorable": len(pairs) - len(probes),
            "decoding": "greedy" if greedy else f"sampled: {samples} per pair, top-p {top_p}",
            "max_new_tokens": max_new_tokens, "per_pair": per_pair}

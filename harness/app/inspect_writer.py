"""Writes Inspect AI eval logs with inspect_ai's own log API (`inspect_ai.log.write_eval_log`), from the plain units
`harness.app.inspect_export` gathers. It imports nothing of fgit-bench: inspect-ai caps fsspec below the version the
project's other packages need, so bootstrap.sh installs it in its own venv (.venv-inspect) and the export runs this
file there by path (`python inspect_writer.py UNITS.json OUTPUT_DIR`) where inspect_ai is not importable in-process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _messages(prompt):
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

    kinds = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
    if isinstance(prompt, list):
        return [kinds.get(m.get("role"), ChatMessageUser)(content=str(m.get("content", ""))) for m in prompt]
    return str(prompt)


def build_log(unit: dict):
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalMetric,
        EvalResults,
        EvalSample,
        EvalScore,
        EvalSpec,
        EvalStats,
    )
    from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, ModelOutput
    from inspect_ai.scorer import Score

    samples = []
    for s in unit["samples"]:
        inputs = _messages(s["input"])
        history = inputs if isinstance(inputs, list) else [ChatMessageUser(content=inputs)]
        score = Score(value="C" if s["passed"] else "I", answer=s["output"], explanation=s["explanation"],
                      metadata=s["score_metadata"])
        samples.append(EvalSample(
            id=s["id"], epoch=s["epoch"], input=inputs, target=s["target"],
            messages=[*history, ChatMessageAssistant(content=s["output"])],
            output=ModelOutput.from_content(model=unit["model"], content=s["output"]),
            scores={"fgit_bench": score}, metadata=s["metadata"]))
    passed = sum(s["passed"] for s in unit["samples"])
    total = len(unit["samples"])
    results = EvalResults(total_samples=total, completed_samples=total, scores=[EvalScore(
        name="fgit_bench", scorer="fgit_bench",
        metrics={"accuracy": EvalMetric(name="accuracy", value=passed / total if total else 0.0)})])
    spec = EvalSpec(created=unit["created"], task=unit["task"], dataset=EvalDataset(
        name=unit["dataset"], samples=len({s["id"] for s in unit["samples"]})),
        model=unit["model"], config=EvalConfig(epochs=unit["epochs"]), metadata=unit["metadata"])
    return EvalLog(eval=spec, status="success", samples=samples, results=results,
                   stats=EvalStats(started_at=unit["created"], completed_at=unit["created"]))


def write_units(units: list[dict], output: Path) -> list[Path]:
    from inspect_ai.log import write_eval_log

    output.mkdir(parents=True, exist_ok=True)
    written = []
    for unit in units:
        path = output / unit["file"]
        write_eval_log(build_log(unit), str(path))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    units = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    for path in write_units(units, Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

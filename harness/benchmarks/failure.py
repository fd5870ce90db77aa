"""The first failing input of a verdict, as the judge saw it: the input, the expected output and the program's
actual output, each as a size-capped `repr` (issue 30). It rides in the verdict (cached with it) and in the
results rows, so the task explorer and the Inspect export show what the judge failed the program on without
running anything again.

Only what the judge itself compared is recorded: the input it sent, the ground truth it compared against, and the
answer the sandbox sent back (decoded here, outside the sandbox, as the judge decodes it); where no answer came
back (the call raised, timed out, the child exited) `actual` says so in words.
"""

from __future__ import annotations

from sandboxes.guest.codec import CodecError, Opaque, decode, loads_data, type_name

CAP = 1000  # characters per field; a longer repr keeps its head and says how long it was
FAILURE_FORMAT = 1  # part of the verdict cache key: verdicts cached before failures were kept are judged again


def capped(text: str, cap: int = CAP) -> str:
    if len(text) <= cap:
        return text
    return text[:cap] + f"… [{len(text)} characters, first {cap} shown]"


def show(value) -> str:
    """A value as the explorer shows it: its repr, an opaque output by its type, capped."""
    if isinstance(value, Opaque):
        return capped(f"<{value.type_name} object>")
    try:
        return capped(repr(value))
    except Exception as exc:  # noqa: BLE001  (a value whose repr fails is still a failure to show)
        return f"<unrepresentable: {type(exc).__name__}>"


def show_answer(answer) -> str | None:
    """An encoded answer of the sandbox (codec text) shown as its value; None for a non-answer (a failed input's
    placeholder dict, which the judge's `why` describes)."""
    if not isinstance(answer, str):
        return None
    try:
        return show(decode(loads_data(answer)))
    except CodecError as exc:
        return capped(f"<malformed output: {exc}>")
    except RecursionError:
        return "<output nested too deeply to show>"


def first_failure(split: str, details: list, inputs: list, expected, stage: dict, why: str) -> dict | None:
    """The failing input of a stage judged `fail`/`timeout` (evalplus_judge.judge_stage's `details` end at it):
    {"split", "index", "input", "expected", "actual", "why"}; None where no input failed (an empty stage, a
    stage that failed before any input)."""
    if not details or details[-1] is not False:
        return None
    index = len(details) - 1
    if index >= len(inputs):
        return None
    answers = stage.get("answers", []) if isinstance(stage, dict) else []
    actual = show_answer(answers[index]) if index < len(answers) else None
    try:
        want = show(expected[index]) if expected is not None and index < len(expected) else None
    except (CodecError, IndexError):
        want = None
    return {"split": split, "index": index, "input": show(inputs[index]), "expected": want,
            "actual": actual if actual is not None else capped(why or "no output"), "why": capped(why or "")}


def unittest_failure(failed: list) -> dict | None:
    """A unittest-style benchmark's first failing test (BigCodeBench: {"test", "trace"}): the test's name as the
    input and its trace as the actual outcome (the expected outcome is the test passing)."""
    if not failed or not isinstance(failed[0], dict):
        return None
    first = failed[0]
    return {"split": "base", "index": 0, "input": capped(str(first.get("test", ""))), "expected": "the test passes",
            "actual": capped(str(first.get("trace", ""))), "why": capped(str(first.get("test", "")))}


def valid(failure) -> bool:
    """A cached verdict's `failure`: None or the dict this module makes."""
    return failure is None or (isinstance(failure, dict) and {"split", "index", "input", "expected", "actual"}
                               <= set(failure))


__all__ = ["CAP", "FAILURE_FORMAT", "capped", "first_failure", "show", "show_answer", "unittest_failure", "type_name",
           "valid"]

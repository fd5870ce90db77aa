"""Judging evalplus outputs outside the sandbox: evalplus's comparison semantics applied to decoded data.

The child that ran the candidate sent back one codec-encoded answer per input (sandboxes/guest/evalplus_child.py);
this process runs no candidate code and compares plain built-in values, so an output cannot choose its verdict
(an `__eq__` that returns True, a list subclass equal to everything, a patched numpy.allclose or builtin, a
rewritten expected list: none of them reaches this side). `compare` mirrors the comparison block of
evalplus.eval.unsafe_execute (0.3.1) line for line and calls evalplus's own oracle helpers (`is_floats`,
`_poly`, `_surface_Area`, `_digit_distance_nums`, the MBPP task lists). Where the outcome of a case was only
defined by evalplus running the candidate's own code, it is decided as follows:
- an object with its own equality, a generator, any non-value ("opaque"): `fail`, "output of type X cannot be
  checked" (for MBPP's output-not-none tasks it counts as a non-None output, as there);
- a numpy scalar: rebuilt as that numpy scalar here, so `==` and the `type(out) == type(exp)` of the atol path
  behave as in evalplus; a subclass without its own equality (namedtuple, OrderedDict, Counter, ...): compared
  as its base type, and `type(out) != type(exp)` as in evalplus;
- the special oracles use the inputs as sent, not the candidate's mutated copy (evalplus evaluates `_poly(*inp,
  out)` after the call, so mutating `xs` changed the oracle);
- a child that ends before answering every input (os._exit, a signal, sys.exit from a finally...) is `fail`,
  "exited before the tests completed" (evalplus reports `timeout`: its child left no status);
- answers are counted: fewer than the inputs is never a pass, and the child cannot say which input it answered.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from sandboxes.guest.codec import CodecError, Opaque, decode, loads_data, type_name

EXITED = "exited before the tests completed"


def judge_stage(dataset: str, entry_point: str, inputs: list, expected: list, atol: float,
                stage: dict, judge=None) -> tuple[str, list[bool], str]:
    """(status, details, why) of one stage, as evalplus's untrusted_check(fast_check=True) reports it: details
    are the per-input results up to the first failure. `judge` replaces `judge_answer` (same signature) for a
    benchmark whose answers are not outputs (QuixBugs' observations)."""
    judge_answer_ = judge or judge_answer
    details: list[bool] = []
    answers = stage.get("answers", [])
    for index, text in enumerate(answers):
        if index >= len(inputs):
            return "fail", details, f"tampered: {len(answers)} answers for {len(inputs)} inputs"
        if isinstance(text, dict):  # an every-input stage's failed input: where a fast-check stage would end
            return "fail", details + [False], _failed_why(index, text)
        try:
            ok, atol, why = judge_answer_(dataset, entry_point, inputs[index], text, expected, index, atol)
        except CodecError as exc:
            return "fail", details + [False], f"input {index}: malformed output ({exc})"
        if ok and dataset == "humaneval" and entry_point == "find_zero":
            continue  # evalplus's find_zero oracle `continue`s before counting the input: it never passes
        details.append(ok)
        if not ok:
            return "fail", details, why or f"wrong output on input {index}"
    end, answered = stage.get("end"), len(answers)
    if end == "done":
        if answered == len(inputs) == len(details):
            return "pass", details, ""
        if answered == len(inputs):
            return "fail", details, "evalplus counts no passing find_zero input (its oracle skips the count)"
        return "fail", details, f"tampered: done after {answered} of {len(inputs)} answers"
    if end == "raised":
        try:
            info = json.loads(stage.get("detail") or "{}")
        except ValueError:
            info = {}
        if info.get("at") == "call" and answered < len(inputs):
            details.append(False)  # evalplus marks the input whose call raised (its time limit included)
        kind = str(info.get("type", "?"))
        where = f"on input {answered}" if info.get("at") == "call" else "at module level"
        return "fail", details, f"raised {kind} {where}" if kind != "TimeoutException" else \
            f"time limit exceeded on input {answered}"
    if end == "uncheckable":
        return "fail", details + [False], f"input {answered}: {stage.get('detail')}"
    if end == "timeout":
        return "timeout", details, "timeout"
    if end == "exited":
        return "fail", details, f"{EXITED} ({stage.get('detail')})"
    return "fail", details, f"{end}: {stage.get('detail')}"


def _failed_why(index: int, answer: dict) -> str:
    try:
        info = json.loads(answer.get("failed") or "{}")
    except (TypeError, ValueError):
        info = {}
    if not isinstance(info, dict):
        info = {}
    if "uncheckable" in info:
        return f"input {index}: {info['uncheckable']}"
    kind = str(info.get("type", "?"))
    return f"time limit exceeded on input {index}" if kind == "TimeoutException" else f"raised {kind} on input {index}"


def count_passed(dataset: str, entry_point: str, inputs: list, expected: list, atol: float, stage: dict,
                 judge=None) -> int:
    """How many inputs of an every-input stage (evalplus's fast_check=False) got a right answer: evalplus's
    `sum(details)`. Answers past the inputs count for nothing; a failed input's placeholder is a failure."""
    passed = 0
    for index, text in enumerate(stage.get("answers", [])[: len(inputs)]):
        if isinstance(text, dict):
            continue
        try:
            ok, atol, _ = (judge or judge_answer)(dataset, entry_point, inputs[index], text, expected, index, atol)
        except CodecError:
            continue
        if ok and not (dataset == "humaneval" and entry_point == "find_zero"):
            passed += 1
    return passed


@functools.cache
def _special_oracle(dataset: str, entry_point: str) -> bool:
    """Tasks whose verdict is not `out == exp` alone (evalplus replaces exact_match there, or bypasses it)."""
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS, MBPP_OUTPUT_SET_EQ_TASKS

    if dataset == "humaneval":
        return entry_point == "find_zero"
    return dataset == "mbpp" and entry_point in (*MBPP_OUTPUT_SET_EQ_TASKS, *MBPP_OUTPUT_NOT_NONE_TASKS)


def judge_answer(dataset: str, entry_point: str, inp, text, expected, index: int, atol) -> tuple[bool, float, str]:
    """`compare` for one encoded answer. Fast path (why ours: decoding every output and expected output in Python
    made the judge slower than evalplus itself): an answer whose codec text equals the expected output's stored
    text (both written by codec.dumps_data: equal texts are equal data) is `out == exp` in evalplus (the codec is
    type-exact and equal data decode to equal values), unless a NaN (never equal to itself) or a non-value is in
    it, or the task has a special oracle; only evalplus's atol rebinding is still applied. Neither side is
    decoded there. Everything else is decoded and compared."""
    if (isinstance(expected, ExpectedOutputs) and text == expected.texts[index] and '"nan"' not in text
            and '"opaque"' not in text and not _special_oracle(dataset, entry_point)):
        if atol == 0 and text_is_floats(text):
            atol = 1e-6
        return True, atol, ""
    return compare(dataset, entry_point, inp, decode(loads_data(text)), expected[index], atol)


def _encoded_float(data) -> bool:
    """isinstance(value, float) for the value `data` encodes (np.float64 and float subclasses are floats)."""
    if type(data) is not list or not data:
        return False
    if data[0] == "F":
        return True
    if data[0] == "np" and len(data) == 3:
        return data[1] == "float64"
    return data[0] == "sub" and len(data) == 3 and _encoded_float(data[2])


def encoded_is_floats(data) -> bool:
    """evalplus's `is_floats` on the value `data` encodes: a float, or a non-empty list/tuple of floats."""
    if _encoded_float(data):
        return True
    while type(data) is list and len(data) == 3 and data[0] == "sub":  # a list/tuple subclass is a list/tuple
        data = data[2]
    if type(data) is list and len(data) == 2 and data[0] in ("L", "T") and type(data[1]) is list and data[1]:
        return all(_encoded_float(item) for item in data[1])
    return False


def text_is_floats(text: str) -> bool:
    """`encoded_is_floats` on a codec text in codec.dumps_data's form, decoded only where it could be true: a list
    whose first item is no float is rejected unread (HumanEval/130's expected outputs are 30 MB lists that start
    with ints; decoding each to learn that took 1.5 s)."""
    head = text[6:] if text.startswith(('["L",[', '["T",[')) else text
    if not head.startswith(('["F"', '["np","float64"', '["sub"')):
        return False
    return encoded_is_floats(loads_data(text))


class ExpectedOutputs(Sequence):
    """A stage's expected outputs as stored codec texts, each decoded on first use (most never are: see
    `judge_answer`)."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        self._decoded: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int):
        if index not in self._decoded:
            self._decoded[index] = decode(loads_data(self.texts[index]))  # IndexError past the end (iteration)
        return self._decoded[index]


def compare(dataset: str, entry_point: str, inp, out, exp, atol) -> tuple[bool, float, str]:
    """(ok, atol, why) for one input: evalplus's comparison block, on decoded values. `atol` is returned because
    evalplus rebinds it inside its loop (a float output sets it to 1e-6 for the inputs after it too)."""
    import numpy as np
    from evalplus.eval import is_floats
    from evalplus.eval._special_oracle import (
        MBPP_OUTPUT_NOT_NONE_TASKS,
        MBPP_OUTPUT_SET_EQ_TASKS,
        _digit_distance_nums,
        _poly,
        _surface_Area,
    )

    not_none_task = dataset == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS
    if isinstance(out, Opaque) and not not_none_task:
        return False, atol, f"output of type {out.type_name} cannot be checked"
    try:
        exact_match = out == exp
        if dataset == "mbpp":
            if "are_equivalent" == entry_point:  # Mbpp/164 special oracle
                exact_match = exact_match or True
            elif "sum_div" == entry_point:  # Mbpp/295 special oracle
                exact_match = exact_match or out == 0
            elif "surface_Area" == entry_point:  # Mbpp/581 special oracle
                exact_match = exact_match or abs(out - _surface_Area(*inp)) <= atol
            elif "digit_distance_nums" == entry_point:  # Mbpp/558 special oracle
                exact_match = exact_match or out == _digit_distance_nums(*inp)
            elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
                exact_match = set(out) == set(exp)
            elif entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
                if isinstance(out, bool):
                    exact_match = out == exp
                else:
                    exact_match = exp == (out is not None)
        if dataset == "humaneval" and "find_zero" == entry_point:
            return bool(abs(_poly(*inp, out)) <= atol), atol, ""
        if atol == 0 and is_floats(exp):
            atol = 1e-6  # enforce atol for float comparison
        if not exact_match and atol != 0:
            if type(out) != type(exp):  # noqa: E721  (evalplus compares the types with ==)
                return False, atol, ""
            if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                return False, atol, ""
            return bool(np.allclose(out, exp, rtol=1e-07, atol=atol)), atol, ""
        return bool(exact_match), atol, ""
    except Exception:  # noqa: BLE001  (evalplus catches any failure of the comparison as a failed input)
        return False, atol, ""


def decode_outputs(texts: list) -> ExpectedOutputs:
    """Ground-truth outputs stored as codec texts (one per input), decoded lazily."""
    if type(texts) is not list or not all(type(t) is str for t in texts):
        raise CodecError("expected outputs are not a list of codec texts")
    return ExpectedOutputs(texts)


__all__ = ["EXITED", "ExpectedOutputs", "judge_stage", "judge_answer", "count_passed", "compare", "encoded_is_floats", "text_is_floats", "decode_outputs", "type_name"]

"""The output codec (sandboxes/guest/codec.py) and the judge outside the sandbox (harness/benchmarks/evalplus_judge.py).

The judge's decisions on honest outputs are checked against evalplus 0.3.1's own `untrusted_check` on the same
program (the comparison run in the child, as upstream does it), so that a divergence shows up here.
"""

from __future__ import annotations

import collections
import copy
import json
import math

import numpy as np
import pytest

from harness.benchmarks.evalplus_judge import ExpectedOutputs, encoded_is_floats, judge_stage, text_is_floats
from sandboxes.guest.codec import MAX_DEPTH, CodecError, Opaque, dumps, dumps_data, encode, loads


class _Eq:
    def __eq__(self, other):
        return True


class _List(list):
    def __eq__(self, other):
        return True


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("value", [None, True, False, 0, -(2 ** 300), 1.5, -0.0, math.inf, -math.inf, 2 + 3j, "é\x00",
                                   b"\xff", [1, [2, (3,)]], (), {1: "a", (2, 3): {"k": frozenset({1})}}, {1, 2},
                                   frozenset()])
def test_builtin_values_round_trip_with_their_exact_type(value):
    decoded = loads(dumps(value))
    assert decoded == value and type(decoded) is type(value)


CANONICAL_CASES = [None, True, -(2 ** 70), 0, 1.5, -0.0, math.nan, -math.inf, 1 - 2j, "é\x00\"\\\ud800\U0001f600", b"\x00/+",
                   [], (), {}, set(), [[1, (2.5,)], {"k": {3}}], {(1, "a"): frozenset({None})}, np.float64(0.1),
                   np.int32(-7), np.complex128(1j), Point(1, [2]), collections.OrderedDict(a=[1.0]), _Eq(),
                   [_List([1]), (x for x in ())], collections.Counter("ab")]


@pytest.mark.parametrize("value", CANONICAL_CASES, ids=range(len(CANONICAL_CASES)))
def test_written_text_is_the_canonical_json_of_its_data(value):
    """The judge compares an answer's text with the stored expected text (codec.dumps_data of the ground truth's
    data): the child's directly written text must be exactly that canonical form."""
    text = dumps(value)
    assert text == json.dumps(json.loads(text), separators=(",", ":")) == dumps_data(encode(value))


def test_encoded_data_have_the_documented_shape():
    value = [None, False, -31, 0.5, 1j, "a", b"\xff", (1,), {2: 3}, {4}, frozenset(), np.float64(2.0), Point(1, 2), _Eq()]
    assert encode(value) == ["L", [
        ["N"], ["B", 0], ["I", "-1f"], ["F", "0x1.0000000000000p-1"], ["C", "0x0.0p+0", "0x1.0000000000000p+0"],
        ["S", "a"], ["Y", "/w=="], ["T", [["I", "1"]]], ["D", [[["I", "2"], ["I", "3"]]]], ["E", [["I", "4"]]],
        ["Z", []], ["np", "float64", ["F", "0x1.0000000000000p+1"]],
        ["sub", f"{__name__}.Point", ["T", [["I", "1"], ["I", "2"]]]], ["opaque", f"{__name__}._Eq"]]]


def test_nan_stays_nan():
    assert math.isnan(loads(dumps(math.nan)))


def test_numpy_scalars_and_equality_free_subclasses_keep_their_distinct_type():
    for value in (np.float64(2.5), np.int64(-3), np.bool_(True)):
        decoded = loads(dumps(value))
        assert type(decoded) is type(value) and decoded == value
    point = loads(dumps(Point(1, 2)))
    assert point == (1, 2) and type(point) is not tuple and type(point).__name__ == "Point"
    counter = loads(dumps(collections.Counter("aab")))
    assert counter == {"a": 2, "b": 1} and type(counter) is not dict


@pytest.mark.parametrize("value", [_Eq(), _List([1]), (x for x in ()), object(), np.arange(3)])
def test_objects_with_their_own_equality_are_opaque(value):
    decoded = loads(dumps(value))
    assert isinstance(decoded, Opaque) and decoded != 1 and decoded != [1]


@pytest.mark.parametrize("text", ['["X"]', '["I", 5]', '["L", "ab"]', '["D", [[["L", []], ["N"]]]]', '["B", 2]',
                                  '{"a": 1}', "not json", '["F", "0xzz"]', '["np", "object", ["N"]]'])
def test_malformed_data_is_refused(text):
    with pytest.raises(CodecError):
        loads(text)


def test_depth_is_bounded_both_ways():
    deep = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(CodecError):
        dumps(deep)
    text = "[" * (MAX_DEPTH + 10) + '"N"' + "]" * (MAX_DEPTH + 10)
    with pytest.raises(CodecError):
        loads('["L", ' + text.replace('"N"', '["N"]') + "]")


def _stage(outputs, end="done"):
    return {"answers": [dumps(o) for o in outputs], "end": end, "detail": ""}


def _upstream(dataset, entry_point, program, inputs, expected, atol):
    from evalplus.eval import untrusted_check

    status, details = untrusted_check(dataset, program, inputs, entry_point, expected=expected, atol=atol,
                                      ref_time=[0.01] * len(inputs), fast_check=True)
    return status, [bool(d) for d in details]


# (dataset, entry point, program returning the output, inputs, expected outputs, atol)
HONEST = [
    ("humaneval", "f", "import numpy as np\ndef f(x):\n    return np.float64(x) / 3", [[1.0]], [1 / 3], 0),
    ("humaneval", "f", "def f(x):\n    return x + 1e-9", [[1.0], [2.0]], [1.0, 2.0], 0),  # atol 1e-6 enforced
    ("humaneval", "f", "def f(x):\n    return [x, x]", [[1.0]], [(1.0, 1.0)], 1e-6),  # list vs tuple: type check
    ("humaneval", "f", "import collections\nP = collections.namedtuple('P', 'a b')\ndef f(x):\n    return P(x, x)",
     [[1]], [(1, 1)], 0),
    ("mbpp", "f", "from collections import Counter\ndef f(s):\n    return Counter(s)", [["aab"]],
     [{"a": 2, "b": 1}], 0),
    ("mbpp", "check_str", "import re\ndef check_str(s):\n    return re.match('a', s)", [["abc"], ["xyz"]],
     [True, False], 0),  # output-not-none oracle: a re.Match counts as not None
    ("mbpp", "similar_elements", "def similar_elements(a, b):\n    return [3, 2, 3]", [[(1, 2, 3), (2, 3)]],
     [(2, 3)], 0),  # set-equality oracle
    ("humaneval", "find_zero", "def find_zero(xs):\n    return -xs[0] / xs[1]", [[[2, 1]]], [-2.0], 1e-4),
    ("humaneval", "f", "def f(x):\n    return float('nan')", [[1]], [math.nan], 0),
    ("humaneval", "f", "def f(x):\n    return (y for y in [])", [[1]], [[]], 0),
]


@pytest.mark.parametrize("case", HONEST, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(HONEST)])
def test_judge_decides_honest_outputs_as_evalplus(case):
    dataset, entry_point, program, inputs, expected, atol = case
    namespace: dict = {}
    exec(program, namespace)
    outputs = [namespace[entry_point](*copy.deepcopy(inp)) for inp in inputs]
    status, details, _ = judge_stage(dataset, entry_point, inputs, expected, atol, _stage(outputs))
    assert (status, details) == _upstream(dataset, entry_point, program, inputs, expected, atol)
    # the same through the stored form (codec texts, decoded lazily), where equal texts take the fast path
    stored = ExpectedOutputs([dumps(e) for e in expected])
    assert judge_stage(dataset, entry_point, inputs, stored, atol, _stage(outputs))[:2] == (status, details)
    # and with the program's own outputs as the expected ones: equal texts, evalplus's verdict on them
    own = ExpectedOutputs([dumps(o) for o in outputs])
    assert judge_stage(dataset, entry_point, inputs, own, atol, _stage(outputs))[:2] == \
        _upstream(dataset, entry_point, program, inputs, outputs, atol)
    # equal data in another text form (JSON with spaces) miss the fast path and are decoded: the same verdict
    spaced = ExpectedOutputs([json.dumps(encode(o)) for o in outputs])
    assert judge_stage(dataset, entry_point, inputs, spaced, atol, _stage(outputs))[:2] == \
        _upstream(dataset, entry_point, program, inputs, outputs, atol)


@pytest.mark.parametrize("value", [1.5, np.float64(2.0), np.float32(2.0), [1.0, 2.0], (1.0, np.float64(3)), [],
                                   (), [1.0, 2], collections.namedtuple("P", "a b")(1.0, 2.0), True, 3, "1.0",
                                   [[1.0]], {"a": 1.0}, collections.OrderedDict(a=1.0), [1, 2.0], [2.0, 1],
                                   [np.float64(1.0), 2.0], [np.int64(1), 2.0], np.int64(3), "F",
                                   collections.namedtuple("Q", "a")(np.float64(1.0))])
def test_encoded_is_floats_is_evalplus_is_floats(value):
    from evalplus.eval import is_floats

    assert encoded_is_floats(encode(value)) == is_floats(value)
    assert text_is_floats(dumps(value)) == is_floats(value)  # the judge's shortcut on the stored text


def test_answers_are_counted_and_early_exits_fail():
    inputs, expected = [[1], [2]], [1, 2]
    assert judge_stage("humaneval", "f", inputs, expected, 0, _stage([1, 2]))[0] == "pass"
    status, _, why = judge_stage("humaneval", "f", inputs, expected, 0, _stage([1]))  # "done" after one answer
    assert status == "fail" and why.startswith("tampered")
    status, _, why = judge_stage("humaneval", "f", inputs, expected, 0, _stage([1, 2, 3]))
    assert status == "fail" and why.startswith("tampered")
    exited = {**_stage([1]), "end": "exited", "detail": "exit status 0"}
    status, details, why = judge_stage("humaneval", "f", inputs, expected, 0, exited)
    assert (status, details) == ("fail", [True]) and "exited before the tests completed" in why
    timed_out = {**_stage([1]), "end": "timeout"}
    assert judge_stage("humaneval", "f", inputs, expected, 0, timed_out)[0] == "timeout"
    opaque = judge_stage("humaneval", "f", inputs, expected, 0, _stage([_Eq(), 2]))
    assert opaque[0] == "fail" and "cannot be checked" in opaque[2]


def test_every_input_stage_counts_as_evalplus_without_fast_check():
    """GRPO's fraction reward: the real child (sandboxes/guest/evalplus_child.py) with `every_input` keeps going after a
    raising or wrong input; the judge's count equals evalplus's `sum(details)` with fast_check=False, and the
    status read off the same stage equals evalplus's fast_check=True status."""
    from evalplus.eval import untrusted_check

    from harness.benchmarks.evalplus_judge import count_passed
    from sandboxes.guest.evalplus_child import run_stage

    program = ("def f(x):\n    if x % 3 == 0:\n        raise ValueError(x)\n"
               "    if x % 3 == 1:\n        return x * 2\n    return (y for y in [])\n")
    inputs = [[x] for x in range(1, 10)]
    expected = [x * 2 for x in range(1, 10)]
    stage = run_stage(program, "f", inputs, [1.0] * len(inputs), every_input=True)
    assert stage["end"] == "done" and len(stage["answers"]) == len(inputs)
    _, full = untrusted_check("humaneval", program, inputs, "f", expected=expected, atol=0,
                              ref_time=[0.01] * len(inputs), fast_check=False)
    assert count_passed("humaneval", "f", inputs, expected, 0, stage) == sum(bool(d) for d in full) == 3
    status, details, why = judge_stage("humaneval", "f", inputs, expected, 0, stage)
    assert (status, details) == _upstream("humaneval", "f", program, inputs, expected, 0)
    assert "cannot be checked" in why  # input 2 (x = 2) returned a generator: where fast_check stops
    fast = run_stage(program, "f", inputs, [1.0] * len(inputs))
    assert judge_stage("humaneval", "f", inputs, expected, 0, fast)[:2] == (status, details)

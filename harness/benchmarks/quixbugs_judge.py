"""Judging QuixBugs cases outside the sandbox: every assert's comparison made here, on decoded data (issue 27).

A case's answer is the list of observations `quixbugs_cases` makes, as the sandbox's child sent it (codec text):
`["v", n, value]` for `assert A == B` (A's value), `["is", n, bool]` for an `==` whose left side is an object
compared by identity, `["x", n, [leaf values]]` for any other assert. The reference program's observations (the
ground truth) fix the sequence of assert numbers and kinds; then
- "v": the candidate's A against the reference's A with evalplus's comparison (`evalplus_judge.compare`): plain
  values, no candidate `__eq__` (an object with its own equality arrives opaque and fails);
- "is": the identity must hold (the one bit the sandbox computes, with `is`, which runs no candidate code);
- "x": the assert's formula (from the harness's copy of the test script, never from the sandbox) evaluated here on
  the decoded leaves by a small evaluator: literals, `not`/`and`/`or`, arithmetic, comparisons and a few builtins.
Anything else (another sequence of asserts, a malformed observation, an opaque leaf) fails, with the reason.
"""

from __future__ import annotations

import ast
import functools
import operator

from harness.benchmarks.evalplus_judge import compare
from sandboxes.guest.codec import CodecError, Opaque, decode, loads_data

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
            ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
_UNARY = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
_CALLS = {"abs": abs, "len": len, "round": round, "min": min, "max": max, "sorted": sorted, "sum": sum, "all": all,
          "any": any}


class Unjudgeable(ValueError):
    pass


@functools.lru_cache(maxsize=4096)
def _parse(formula: str) -> ast.expr:
    return ast.parse(formula, mode="eval").body


def evaluate_formula(formula: str, leaves: list):
    """The value of `formula` with `_leafN` bound to leaves[N]; only the node types listed above are evaluated."""

    def value(node: ast.expr):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name) and node.id.startswith("_leaf"):
            leaf = leaves[int(node.id[5:])]
            if isinstance(leaf, Opaque):
                raise Unjudgeable(f"a value of type {leaf.type_name} cannot be checked")
            return leaf
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](value(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.BoolOp):
            result = None
            for item in node.values:
                result = value(item)
                if isinstance(node.op, ast.And) != bool(result):
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = value(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = value(right_node)
                if type(op) not in _COMPARE or not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [value(e) for e in node.elts]
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
            return _CALLS[node.func.id](*[value(a) for a in node.args])
        raise Unjudgeable(f"cannot evaluate {type(node).__name__}")

    return value(_parse(formula))


def _observations(value) -> list:
    if type(value) is not list:
        raise Unjudgeable("malformed observations")
    for item in value:
        if not (type(item) is list and len(item) == 3 and item[0] in ("v", "is", "x") and type(item[1]) is int):
            raise Unjudgeable("malformed observation")
    return value


def judge_case(formulas: dict, answer, reference) -> tuple[bool, str]:
    """(ok, why) of one case: the candidate's observations (decoded once) against the reference's."""
    try:
        ours, theirs = _observations(answer), _observations(reference)
        if [item[:2] for item in ours] != [item[:2] for item in theirs]:
            return False, "its asserts ran in another order or number than the reference's"
        for (kind, number, got), (_, _, want) in zip(ours, theirs, strict=True):
            if kind == "is":
                if got is not True:
                    return False, f"assert {number}: not the expected object"
                continue
            if kind == "v":
                out, exp = decode(got), decode(want)
                if isinstance(out, Opaque):
                    return False, f"assert {number}: output of type {out.type_name} cannot be checked"
                ok, _, _ = compare("quixbugs", "", None, out, exp, 0)
                if not ok:
                    return False, f"assert {number}: wrong value"
                continue
            if type(got) is not list:
                raise Unjudgeable("malformed leaves")
            formula = formulas.get(number, formulas.get(str(number)))
            if formula is None:
                raise Unjudgeable(f"no assert {number}")
            if not evaluate_formula(formula, [decode(leaf) for leaf in got]):
                return False, f"assert {number} is false: {formula}"
    except (Unjudgeable, CodecError) as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001  (an assert whose evaluation raises fails, as it would in the script)
        return False, f"evaluating an assert raised {type(exc).__name__}"
    return True, ""


def answer_judge(formulas: dict):
    """A `judge_answer`-shaped callable (evalplus_judge.judge_stage's `judge`) for one task."""

    def judge(dataset, entry_point, inp, text, expected, index, atol):
        ok, why = judge_case(formulas, decode(loads_data(text)), expected[index])
        return ok, atol, why

    return judge

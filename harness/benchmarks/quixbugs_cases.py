"""QuixBugs' assert scripts as evalplus-style test cases: an entry point `quixbugs_case(i)` that runs case i and
returns what its asserts looked at, so the verdict is evalplus's differential check (the candidate's observations
against the reference program's), not a script that judges itself inside the candidate's process.

The release's `tests` are Python scripts of two shapes: top-level `assert f(*[args]) == expected` lines (one case
each), or helper classes, `def testN():` functions holding the asserts, and top-level `testN()` calls (one case per
call). Every assert becomes an observation: for `assert A == B` the value of A (what the program computed; B is the
expected value, which the reference's A equals, since every reference passes its tests), for any other assert
(`assert path_found`, `assert not x`, `assert abs(sqrt(...) - r) <= eps`) the value of the asserted expression.
The rest of the script (classes, helpers, module-level set-up) is kept as written, after the program.
"""

from __future__ import annotations

import ast

ENTRY_POINT = "quixbugs_case"
_OBSERVE = "_quixbugs_observe"
_SEEN = "_quixbugs_seen"
_CASES = "_QUIXBUGS_CASES"


class _AssertToObservation(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
            args = [test.left, test.comparators[0]]
        else:
            args = [test]
        call = ast.Call(func=ast.Name(_OBSERVE, ast.Load()), args=args, keywords=[])
        return ast.copy_location(ast.Expr(call), node)


# Observations leave the child as plain data: exact builtin types, dict subclasses (defaultdict) as dicts, as `==`
# in the test compares them. A value that is not plain data (a linked-list node, compared by identity) is observed
# as the truth value of its assert instead.
_PRELUDE = f"""\
{_SEEN} = []
class _QuixbugsNotPlain(Exception):
    pass
def _quixbugs_plain(value):
    kind = type(value)
    if value is None or kind in (bool, int, float, complex, str, bytes):
        return value
    if isinstance(value, dict):
        return {{_quixbugs_plain(k): _quixbugs_plain(v) for k, v in dict.items(value)}}
    if kind in (list, tuple, set, frozenset):
        return kind(_quixbugs_plain(v) for v in value)
    raise _QuixbugsNotPlain
_QUIXBUGS_NOTHING = object()
def {_OBSERVE}(value, expected=_QUIXBUGS_NOTHING):
    try:
        {_SEEN}.append(_quixbugs_plain(value))
    except _QuixbugsNotPlain:
        {_SEEN}.append(bool(value == expected) if expected is not _QUIXBUGS_NOTHING else bool(value))
"""


def build_cases(tests: str) -> tuple[str, int]:
    """(harness code to append to a program, number of cases) for one task's test script."""
    module = ast.parse(tests)
    kept: list[ast.stmt] = []
    cases: list[str] = []
    defined = {n.name for n in module.body if isinstance(n, ast.FunctionDef)}
    for node in module.body:
        if isinstance(node, ast.Assert):
            name = f"_quixbugs_assert_{len(cases)}"
            function = ast.FunctionDef(name=name, args=ast.arguments([], [], None, [], [], None, []),
                                       body=[node], decorator_list=[], returns=None, type_params=[])
            kept.append(ast.copy_location(function, node))
            cases.append(name)
        elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
              and node.value.func.id in defined and not node.value.args and not node.value.keywords):
            cases.append(node.value.func.id)  # a top-level `testN()` call: one case
        else:
            kept.append(node)
    if not cases:
        raise ValueError("no asserts and no test-function calls in the test script")
    module.body = kept
    body = ast.unparse(ast.fix_missing_locations(_AssertToObservation().visit(module)))
    harness = "\n".join([
        _PRELUDE,
        body,
        f"{_CASES} = [{', '.join(cases)}]",
        f"def {ENTRY_POINT}(index):",
        f"    del {_SEEN}[:]",
        f"    {_CASES}[index]()",
        f"    return list({_SEEN})",
    ])
    return harness + "\n", len(cases)


def program_with_cases(program: str, harness: str) -> str:
    """What the check runs: the program as given, then the cases (they call the program's functions by name)."""
    return program.rstrip() + "\n\n\n" + harness

"""QuixBugs' assert scripts as evalplus-style test cases: an entry point `quixbugs_case(i)` that runs case i and
returns the *values* its asserts look at; every comparison is made outside the sandbox, on decoded data
(harness/benchmarks/quixbugs_judge.py), as HumanEval+'s outputs are judged (issue 27).

The release's `tests` are Python scripts of two shapes: top-level `assert f(*[args]) == expected` lines (one case
each), or helper classes, `def testN():` functions holding the asserts, and top-level `testN()` calls (one case per
call). Each assert gets a number and becomes an observation:
- `assert A == B` observes the value of A only; the judge compares it with the reference program's A (every
  reference passes its tests, so that is B) with evalplus's comparison. B is not evaluated in the candidate's
  process when it is a literal (nor is a name bound once to a literal and used only there): the expected value is
  then nowhere in the code the candidate runs beside. When A is not a value (a linked-list node, compared by
  identity), the observation is `A is B`, with B evaluated lazily: identity involves no code of the candidate's.
- any other assert (`assert path_found`, `assert not x`, `assert abs(sqrt(...) - r) <= eps`) observes its leaves:
  the maximal sub-expressions outside a small language of literals, `not`/`and`/`or`, arithmetic, comparisons and
  `abs`/`len`/`round`/`min`/`max`; the judge evaluates the assert's expression itself (its formula, kept here, never
  sent to the sandbox) on the decoded leaves, so a float subclass whose `__sub__` returns 0 cannot make it true.
Observed values are encoded at once by the guest codec (type-exact, read with the built-in types' own methods: an
object with its own `__eq__` is opaque and fails). The rest of the script (classes, helpers, module-level set-up) is
kept as written, after the program.
"""

from __future__ import annotations

import ast

ENTRY_POINT = "quixbugs_case"
_EQ = "_quixbugs_eq"
_EXPR = "_quixbugs_expr"
_SEEN = "_quixbugs_seen"
_CASES = "_QUIXBUGS_CASES"
# Calls the judge evaluates itself (the builtin of that name, never the candidate's).
FORMULA_CALLS = ("abs", "len", "round", "min", "max", "sorted", "sum", "all", "any")
_FORMULA_NODES = (ast.Constant, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare, ast.List, ast.Tuple, ast.Set,
                  ast.Dict, ast.expr_context, ast.unaryop, ast.operator, ast.boolop, ast.cmpop)


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _literal_only_names(function: ast.FunctionDef) -> set[str]:
    """Names bound exactly once in `function`, to a literal, and read only as the right side of an `assert A == name`:
    their binding can be dropped with the comparison (shortest_paths' `expected = {...}`)."""
    bound: dict[str, int] = {}
    literal: set[str] = set()
    as_expected: dict[str, int] = {}
    loads: dict[str, int] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                bound[node.id] = bound.get(node.id, 0) + 1
            else:
                loads[node.id] = loads.get(node.id, 0) + 1
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if _is_literal(node.value):
                literal.add(node.targets[0].id)
        elif isinstance(node, ast.Assert) and _is_eq(node.test) and isinstance(node.test.comparators[0], ast.Name):
            name = node.test.comparators[0].id
            as_expected[name] = as_expected.get(name, 0) + 1
    return {name for name in literal if bound.get(name) == 1 and as_expected.get(name, 0) == loads.get(name, 0)}


def _is_eq(test: ast.expr) -> bool:
    return isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)


class _Observations(ast.NodeTransformer):
    """Rewrites asserts into observation calls and collects the formulas of the non-`==` ones."""

    def __init__(self):
        self.formulas: dict[int, str] = {}
        self.count = 0
        self.dropped: set[str] = set()  # literal-only names of the function being rewritten

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        outer, self.dropped = self.dropped, _literal_only_names(node)
        self.generic_visit(node)
        node.body = [s for s in node.body if not (isinstance(s, ast.Assign) and len(s.targets) == 1
                                                  and isinstance(s.targets[0], ast.Name)
                                                  and s.targets[0].id in self.dropped)] or [ast.Pass()]
        self.dropped = outer
        return node

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        number = self.count
        self.count += 1
        test = node.test
        if _is_eq(test):
            expected = test.comparators[0]
            if _is_literal(expected) or (isinstance(expected, ast.Name) and expected.id in self.dropped):
                lazy: ast.expr = ast.Constant(None)  # never built here: the judge has the reference's value
            else:
                lazy = ast.Lambda(ast.arguments([], [], None, [], [], None, []), expected)
            call = ast.Call(ast.Name(_EQ, ast.Load()), [ast.Constant(number), test.left, lazy], [])
        else:
            leaves: list[ast.expr] = []
            formula = _formula(test, leaves)
            self.formulas[number] = ast.unparse(formula)
            call = ast.Call(ast.Name(_EXPR, ast.Load()), [ast.Constant(number), ast.List(leaves, ast.Load())], [])
        return ast.copy_location(ast.Expr(call), node)


def _formula(node: ast.expr, leaves: list) -> ast.expr:
    """`node` with each leaf replaced by `_leafN` (N its index in `leaves`, where the leaf is appended)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORMULA_CALLS \
            and not node.keywords:
        return ast.Call(node.func, [_formula(a, leaves) for a in node.args], [])
    if isinstance(node, _FORMULA_NODES) and not isinstance(node, ast.Constant):
        node = ast.NodeTransformer.generic_visit(_Leaves(leaves), node)  # children only
        return node
    if isinstance(node, ast.Constant):
        return node
    leaves.append(node)
    return ast.Name(f"_leaf{len(leaves) - 1}", ast.Load())


class _Leaves(ast.NodeTransformer):
    def __init__(self, leaves: list):
        self.leaves = leaves

    def visit(self, node):
        if isinstance(node, ast.expr):
            return _formula(node, self.leaves)
        return node


# Observations are codec data made at once (a snapshot: a later mutation by the test does not change them), by the
# guest codec, which reads values with the built-in types' own methods only. `is` is the one operation applied
# here: it runs no code of the candidate's.
_PRELUDE = f"""\
from sandboxes.guest.codec import encode as _quixbugs_encode
{_SEEN} = []
_QUIXBUGS_VALUE_TYPES = (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
def {_EQ}(number, value, expected):
    if isinstance(value, _QUIXBUGS_VALUE_TYPES):
        {_SEEN}.append(["v", number, _quixbugs_encode(value)])
    else:
        {_SEEN}.append(["is", number, expected is not None and value is expected()])
def {_EXPR}(number, leaves):
    {_SEEN}.append(["x", number, [_quixbugs_encode(leaf) for leaf in leaves]])
"""


def build_cases(tests: str) -> tuple[str, int, dict[int, str]]:
    """(harness code to append to a program, number of cases, formulas of the non-`==` asserts by number) for one
    task's test script."""
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
    observations = _Observations()
    body = ast.unparse(ast.fix_missing_locations(observations.visit(module)))
    harness = "\n".join([
        _PRELUDE,
        body,
        f"{_CASES} = [{', '.join(cases)}]",
        f"def {ENTRY_POINT}(index):",
        f"    del {_SEEN}[:]",
        f"    {_CASES}[index]()",
        f"    return list({_SEEN})",
    ])
    return harness + "\n", len(cases), observations.formulas


def program_with_cases(program: str, harness: str) -> str:
    """What the check runs: the program as given, then the cases (they call the program's functions by name)."""
    return program.rstrip() + "\n\n\n" + harness

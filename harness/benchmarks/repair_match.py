"""Exact match of a program repair: the candidate equals the reference fix after normalising whitespace, blank lines
and comments; and the line-level match of the changed line(s) alone.

Normalisation is by Python's own tokenizer (no library offers this for Python source): a program becomes its logical
lines, each the indentation depth plus its tokens joined by one space. So spacing inside a line, the width of the
indentation, blank lines, line continuations and comments never count; docstrings count as comments too (a model
that copies the task's docstring into its answer has not changed the program). What is a docstring is decided on
the syntax tree, as Python decides it: a plain string constant as the first statement of a module, class or
function body. Any other bare string statement is code: an f-string is an expression that runs (on Python 3.11 it
is one STRING token, so a token-level rule dropped `f"{(fn := wrong)}"`, which rebinds the function, and a wrong
program matched exactly; issue 27). A text that does not parse matches nothing.
"""

from __future__ import annotations

import ast
import difflib
import io
import tokenize

Line = tuple[int, str]  # (indentation depth, tokens joined by one space)

_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


def logical_lines(source: str) -> list[Line] | None:
    """The normalised logical lines of `source` without its docstrings, or None when it does not parse."""
    source = source.replace("\t", "    ")
    try:
        docstrings = _docstring_spans(ast.parse(source), source.splitlines(keepends=True))
    except (SyntaxError, ValueError):
        return None
    lines: list[Line] = []
    depth = 0
    current: list[str] = []
    span: list = [None, None]  # (row, col) where the current logical line starts and ends
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in _SKIPPED:
                continue
            if token.type == tokenize.INDENT:
                depth += 1
            elif token.type == tokenize.DEDENT:
                depth -= 1
            elif token.type == tokenize.NEWLINE:
                if current and tuple(span) not in docstrings:
                    lines.append((depth, " ".join(current)))
                current = []
            else:
                if not current:
                    span[0] = token.start
                span[1] = token.end
                current.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    if current and tuple(span) not in docstrings:
        lines.append((depth, " ".join(current)))
    return lines


def _docstring_spans(tree: ast.Module, rows: list[str]) -> set[tuple[tuple[int, int], tuple[int, int]]]:
    """((row, col) start, end) of every docstring statement: the first statement of a module, class or function
    body when it is an expression statement holding a plain `str` constant (implicitly joined literals are one
    constant; an f-string is a JoinedStr, bytes are no docstring). A logical line is dropped only when it is
    exactly such a statement, so `"doc"; f = g` on one line is kept whole. Columns become character offsets, as
    tokenize counts them (ast counts UTF-8 bytes)."""

    def column(row: int, byte_offset: int) -> int:
        return len(rows[row - 1].encode("utf-8")[:byte_offset].decode("utf-8", "replace"))

    spans = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and type(first.value.value) is str):
                spans.add(((first.lineno, column(first.lineno, first.col_offset)),
                           (first.end_lineno, column(first.end_lineno, first.end_col_offset))))
    return spans


def exact_match(candidate: str, reference: str) -> bool:
    ours, theirs = logical_lines(candidate), logical_lines(reference)
    return ours is not None and ours == theirs


def changed_lines(buggy: list[Line], fixed: list[Line]) -> list[tuple[int, int, int, int]]:
    """difflib's non-equal hunks (i1, i2, j1, j2): buggy[i1:i2] became fixed[j1:j2]."""
    matcher = difflib.SequenceMatcher(a=buggy, b=fixed, autojunk=False)
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def line_match(candidate: str, reference: str, buggy: str) -> bool:
    """Whether the candidate holds the reference's fixed line(s) exactly where the buggy program had the bug.

    The reference's hunks against the buggy program say which lines the fix changed. In the candidate, the same
    place is found through the candidate's own alignment with the buggy program: the lines between the images of
    the unchanged buggy lines around each hunk must equal the reference's new lines. Edits the candidate makes
    elsewhere do not count here (they do for `exact_match`); a candidate that rewrote the lines around the bug has
    no such place and does not match."""
    ours, fixed, bug = logical_lines(candidate), logical_lines(reference), logical_lines(buggy)
    if ours is None or fixed is None or bug is None:
        return False
    hunks = changed_lines(bug, fixed)
    if not hunks:
        return False  # no bug to fix: nothing to match
    image = _alignment(bug, ours)  # buggy line index -> candidate line index, for the lines the candidate kept
    for i1, i2, j1, j2 in hunks:
        before = image.get(i1 - 1, -1) if i1 > 0 else -1
        after = image.get(i2, None) if i2 < len(bug) else len(ours)
        if (i1 > 0 and (i1 - 1) not in image) or after is None:
            return False
        if ours[before + 1 : after] != fixed[j1:j2]:
            return False
    return True


def _alignment(a: list[Line], b: list[Line]) -> dict[int, int]:
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    image = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            image[block.a + k] = block.b + k
    return image

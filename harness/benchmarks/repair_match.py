"""Exact match of a program repair: the candidate equals the reference fix after normalising whitespace, blank lines
and comments; and the line-level match of the changed line(s) alone.

Normalisation is by Python's own tokenizer (no library offers this for Python source): a program becomes its logical
lines, each the indentation depth plus its tokens joined by one space. So spacing inside a line, the width of the
indentation, blank lines, line continuations and comments never count; docstrings count as comments too (a
bare string statement is documentation, and a model that copies the task's docstring into its answer has not
changed the program). A text that does not tokenize matches nothing.
"""

from __future__ import annotations

import difflib
import io
import tokenize

Line = tuple[int, str]  # (indentation depth, tokens joined by one space)

_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


def logical_lines(source: str) -> list[Line] | None:
    """The normalised logical lines of `source`, or None when it does not tokenize."""
    lines: list[Line] = []
    depth = 0
    current: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source.replace("\t", "    ")).readline):
            if token.type in _SKIPPED:
                continue
            if token.type == tokenize.INDENT:
                depth += 1
            elif token.type == tokenize.DEDENT:
                depth -= 1
            elif token.type == tokenize.NEWLINE:
                if current:
                    lines.append((depth, " ".join(current)))
                current = []
            else:
                current.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    if current:
        lines.append((depth, " ".join(current)))
    return [line for line in lines if not _is_docstring(line)]


def _is_docstring(line: Line) -> bool:
    """A logical line that is one string literal (or implicitly joined literals) and nothing else."""
    text = line[1]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    kinds = [t.type for t in tokens if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    return bool(kinds) and all(kind == tokenize.STRING for kind in kinds)


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

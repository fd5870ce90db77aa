"""FGit error-sensitive masks: where a correct solution `c` and its incorrect variant `ĉ` differ.

Both sides get two marks per character, computed on the code strings (see ../shared/docs/fgit-method.md):
- *line*: the two line lists are aligned with `difflib`; lines deleted from `c` are marked in `c`, lines added in
  `ĉ` are marked in `ĉ`, a replaced block is marked on both sides. A line is its characters plus its `\\n`, so
  every character belongs to exactly one line. Lines are compared without their `\\n`: a missing final newline
  does not mark the last line.
- *edit*: the characters touched by Levenshtein edit operations between the two whole strings. A substitution
  marks the character on both sides; a character present on one side only is marked there, and on the other side
  the *insertion point* is marked: the character that follows the insertion (the first character that differs
  in a teacher-forced continuation), or the last character when the insertion is at the end of the string.
  Levenshtein's choice among equally short edit scripts is arbitrary for a block inserted or deleted between
  repeated characters (a deleted line plus the next line's indentation, say); such a block is slid to the
  position that touches the fewest lines, so a deleted line is marked as exactly that line.

Token masks come from a tokenizer's character offsets: a token is in a changed line if any of its characters is
(`line_mask`), it is a changed token if any of its characters is edit-marked (`token_mask`); the hybrid mask is
their sum: 0 shared, 1 in a changed line, 2 a changed token in a changed line (1 also for the rare edit-marked
token outside a changed line, e.g. a trailing newline added).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import Levenshtein

MASK_KINDS = ("hybrid", "line", "token")
IGNORE_INDEX = -100
# Batch keys of the FGit loss (plugins.training.fgit_loss): masks aligned with input_ids, 0 on prompt and padding.
LINE_MASK, TOKEN_MASK = "line_mask", "token_mask"
INCORRECT_IDS, INCORRECT_ATTENTION = "incorrect_input_ids", "incorrect_attention_mask"
INCORRECT_LINE_MASK, INCORRECT_TOKEN_MASK = "incorrect_line_mask", "incorrect_token_mask"


@dataclass(frozen=True)
class CharMarks:
    """The marks of one side's code string, one flag per character."""

    text: str
    changed_lines: tuple[int, ...]  # 0-based indices of the marked lines
    line: tuple[bool, ...]  # the character lies in a marked line
    edit: tuple[bool, ...]  # the character is touched by an edit (or is an insertion point)


@dataclass(frozen=True)
class TokenizedSide:
    """One side tokenized on its own, with its per-token masks (what `inspect-pair` shows)."""

    text: str
    input_ids: list[int]
    offsets: list[tuple[int, int]]
    line_mask: list[int]
    token_mask: list[int]

    @property
    def tokens(self) -> list[str]:
        return [self.text[a:b] for a, b in self.offsets]

    @property
    def hybrid(self) -> list[int]:
        return [a + b for a, b in zip(self.line_mask, self.token_mask, strict=True)]


def line_spans(text: str) -> list[tuple[int, int]]:
    """Character span of each line, its `\\n` included; no empty line after a final `\\n`."""
    spans, start = [], 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        spans.append((start, end))
        start = end
    return spans


def _lines(text: str) -> list[str]:
    return [text[a:b].removesuffix("\n") for a, b in line_spans(text)]


def changed_lines(correct: str, incorrect: str) -> tuple[list[int], list[int]]:
    """Indices of the lines marked in `correct` (deleted or replaced) and in `incorrect` (added or replaced)."""
    matcher = difflib.SequenceMatcher(None, _lines(correct), _lines(incorrect), autojunk=False)
    in_correct: list[int] = []
    in_incorrect: list[int] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            in_correct.extend(range(i1, i2))
        if tag in ("insert", "replace"):
            in_incorrect.extend(range(j1, j2))
    return in_correct, in_incorrect


def _lines_touched(text: str, start: int, end: int) -> int:
    return text.count("\n", start, max(start, end - 1)) + 1


def _slide_blocks(correct: str, incorrect: str) -> list[list]:
    """Levenshtein opcodes with each pure insert/delete block slid to touch the fewest lines.

    A block flanked by equal blocks can move by one character while the character entering it equals the one
    leaving it; the edit script stays minimal. Ties keep Levenshtein's own position.
    """
    # Zero-length equal blocks between two edits and at both ends: every edit then has equal neighbours.
    ops: list[list] = [["equal", 0, 0, 0, 0]]
    for op in Levenshtein.opcodes(correct, incorrect):
        if ops[-1][0] != "equal" and op[0] != "equal":
            ops.append(["equal", op[1], op[1], op[3], op[3]])
        ops.append(list(op))
    ops.append(["equal", len(correct), len(correct), len(incorrect), len(incorrect)])
    for k, op in enumerate(ops):
        if op[0] not in ("delete", "insert"):
            continue
        prev, nxt = ops[k - 1], ops[k + 1]
        text, lo, hi = (correct, op[1], op[2]) if op[0] == "delete" else (incorrect, op[3], op[4])
        left = right = 0
        while left < prev[2] - prev[1] and text[lo - left - 1] == text[hi - left - 1]:
            left += 1
        while right < nxt[2] - nxt[1] and text[lo + right] == text[hi + right]:
            right += 1
        best = min(range(-left, right + 1), key=lambda d: (_lines_touched(text, lo + d, hi + d), abs(d), d))
        if best:
            prev[2] += best
            prev[4] += best
            op[1:] = [op[1] + best, op[2] + best, op[3] + best, op[4] + best]
            nxt[1] += best
            nxt[3] += best
    return ops


def _insertion_point(length: int, position: int) -> int | None:
    """The character marked for an insertion at `position`: the one there, or the last one at the end."""
    if length == 0:
        return None
    return position if position < length else length - 1


def edited_chars(correct: str, incorrect: str) -> tuple[list[int], list[int]]:
    """Sorted character positions marked by the edit operations, in `correct` and in `incorrect`."""
    in_correct: set[int] = set()
    in_incorrect: set[int] = set()
    for tag, i1, i2, j1, j2 in _slide_blocks(correct, incorrect):
        if tag == "equal":
            continue
        if tag == "insert":
            in_correct.add(_insertion_point(len(correct), i1))
        else:
            in_correct.update(range(i1, i2))
        if tag == "delete":
            in_incorrect.add(_insertion_point(len(incorrect), j1))
        else:
            in_incorrect.update(range(j1, j2))
    in_correct.discard(None)
    in_incorrect.discard(None)
    return sorted(in_correct), sorted(in_incorrect)


def _side_marks(text: str, lines: list[int], edits: list[int]) -> CharMarks:
    line_flags = [False] * len(text)
    spans = line_spans(text)
    for index in lines:
        start, end = spans[index]
        line_flags[start:end] = [True] * (end - start)
    edit_flags = [False] * len(text)
    for position in edits:
        edit_flags[position] = True
    return CharMarks(text, tuple(lines), tuple(line_flags), tuple(edit_flags))


def char_marks(correct: str, incorrect: str) -> tuple[CharMarks, CharMarks]:
    """Line and edit marks of both sides."""
    lines_c, lines_i = changed_lines(correct, incorrect)
    edits_c, edits_i = edited_chars(correct, incorrect)
    return _side_marks(correct, lines_c, edits_c), _side_marks(incorrect, lines_i, edits_i)


def token_masks(
    marks: CharMarks, offsets: Sequence[tuple[int, int]], start: int = 0
) -> tuple[list[int], list[int]]:
    """Per-token (line_mask, token_mask) for a tokenization whose text holds the code at `start`.

    `offsets` are the tokenizer's character offsets into that text (prompt + response, say): tokens outside the
    code (prompt, markdown, special tokens with empty spans) get 0. A token is marked if any character is.
    """
    line_mask, token_mask = [], []
    n = len(marks.text)
    for a, b in _contiguous(list(offsets)):
        lo, hi = max(a - start, 0), min(b - start, n)
        if lo >= hi:
            line_mask.append(0)
            token_mask.append(0)
            continue
        line_mask.append(int(any(marks.line[lo:hi])))
        token_mask.append(int(any(marks.edit[lo:hi])))
    return line_mask, token_mask


def combine(line_mask: Sequence[int], token_mask: Sequence[int], kind: str = "hybrid") -> list[int]:
    """The mask the loss uses: hybrid = line + token (0/1/2), or one of them alone."""
    if kind == "hybrid":
        return [a + b for a, b in zip(line_mask, token_mask, strict=True)]
    if kind == "line":
        return list(line_mask)
    if kind == "token":
        return list(token_mask)
    raise ValueError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")


def tokenize_side(tokenizer, marks: CharMarks) -> TokenizedSide:
    """Tokenize one side's code on its own (no special tokens) and compute its token masks."""
    encoded = tokenizer(marks.text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = _contiguous([tuple(o) for o in encoded["offset_mapping"]])
    line_mask, token_mask = token_masks(marks, offsets)
    return TokenizedSide(marks.text, list(encoded["input_ids"]), offsets, line_mask, token_mask)


def _contiguous(offsets: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Give characters that no token's offsets cover (trimmed leading spaces) to the token that follows them."""
    fixed, covered = [], 0
    for a, b in offsets:
        if b <= a:  # a special token, or a byte piece sharing its character with a neighbour
            fixed.append((a, b))
            continue
        fixed.append((min(a, covered), b))
        covered = max(covered, b)
    return fixed


def pair_masks(correct: str, incorrect: str, tokenizer) -> tuple[TokenizedSide, TokenizedSide]:
    """Masks of both sides, each tokenized on its own."""
    marks_c, marks_i = char_marks(correct, incorrect)
    return tokenize_side(tokenizer, marks_c), tokenize_side(tokenizer, marks_i)


def place_response_mask(mask: Sequence[int], prompt_len: int, seq_len: int | None = None) -> list[int]:
    """A response-relative mask on the full prompt + response sequence: prompt tokens 0, padded/truncated."""
    full = [0] * prompt_len + list(mask)
    if seq_len is None:
        return full
    return full[:seq_len] + [0] * max(0, seq_len - len(full))


def encode_side(
    tokenizer, prompt: str, response: str, marks: CharMarks, code_start: int | None = None,
    max_length: int | None = None,
) -> dict[str, list[int]]:
    """`prompt + response` tokenized as one text, labels -100 on the prompt, masks of the code inside `response`.

    For tests and benches; a training plugin should tokenize with `plugins.training.trainer.encode_example` (so SFT, DPO
    and FGit see the same tokens) and map the marks with `token_masks(marks, offsets, start=...)`.

    The code (`marks.text`) sits in `response` at `code_start` (its first occurrence when None), so a markdown
    response with a fenced block works; tokens outside the code get mask 0.
    """
    if code_start is None:
        code_start = response.find(marks.text)
    if code_start < 0 or response[code_start : code_start + len(marks.text)] != marks.text:
        raise ValueError("the code does not occur in the response")
    encoded = tokenizer(prompt + response, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    offsets = [tuple(o) for o in encoded["offset_mapping"]]
    line_mask, token_mask = token_masks(marks, offsets, start=len(prompt) + code_start)
    labels = [t if a >= len(prompt) else IGNORE_INDEX for t, (a, _) in zip(ids, offsets, strict=True)]
    end = len(ids) if max_length is None else max_length
    return {
        "input_ids": ids[:end], "attention_mask": [1] * len(ids[:end]), "labels": labels[:end],
        LINE_MASK: line_mask[:end], TOKEN_MASK: token_mask[:end],
    }


def encode_pair(
    tokenizer, prompt: str, correct_response: str, incorrect_response: str, correct_code: str, incorrect_code: str,
    max_length: int | None = None,
) -> dict[str, list[int]]:
    """The features of one FGit example: `c` with labels and masks, `ĉ` with its masks (no labels needed)."""
    marks_c, marks_i = char_marks(correct_code, incorrect_code)
    features = encode_side(tokenizer, prompt, correct_response, marks_c, max_length=max_length)
    incorrect = encode_side(tokenizer, prompt, incorrect_response, marks_i, max_length=max_length)
    features[INCORRECT_IDS] = incorrect["input_ids"]
    features[INCORRECT_ATTENTION] = incorrect["attention_mask"]
    features[INCORRECT_LINE_MASK] = incorrect[LINE_MASK]
    features[INCORRECT_TOKEN_MASK] = incorrect[TOKEN_MASK]
    return features


def collate(features: Sequence[dict[str, list[int]]], pad_token_id: int):
    """Right-pad a list of `encode_pair`/`encode_side` features into a batch of tensors."""
    import torch

    pad_values = {"input_ids": pad_token_id, INCORRECT_IDS: pad_token_id, "labels": IGNORE_INDEX}
    batch = {}
    for key in features[0]:
        width = max(len(f[key]) for f in features)
        pad = pad_values.get(key, 0)
        batch[key] = torch.tensor([f[key] + [pad] * (width - len(f[key])) for f in features], dtype=torch.long)
    return batch

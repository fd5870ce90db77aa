"""FGit masks on hand-checked pairs (QuixBugs: `solution` is c, `buggy_program` is ĉ) and boundary cases.

Every expected position and token below was worked out by hand from the code text; the literal slices next to
them make each expectation readable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.models import load_tokenizer, resolve_model
from plugins.training.fgit_masks import (
    INCORRECT_IDS,
    INCORRECT_LINE_MASK,
    INCORRECT_TOKEN_MASK,
    LINE_MASK,
    TOKEN_MASK,
    changed_lines,
    char_marks,
    collate,
    combine,
    edited_chars,
    encode_pair,
    line_spans,
    pair_masks,
    place_response_mask,
    token_masks,
)

QUIXBUGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "QuixBugs-python.jsonl"


@pytest.fixture(scope="module")
def quixbugs() -> dict[str, tuple[str, str]]:
    rows = [json.loads(line) for line in QUIXBUGS.read_text().splitlines() if line.strip()]
    return {r["name"]: (r["solution"], r["buggy_program"]) for r in rows}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("smollm2"))


def _marked(tokens: list[str], mask: list[int]) -> list[str]:
    return [t for t, m in zip(tokens, mask, strict=True) if m]


# ---- line level -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, lines_c, lines_i",
    [
        ("bitcount", [3], [3]),  # `n &= n - 1` → `n ^= n - 1`
        ("gcd", [4], [4]),  # `gcd(b, a % b)` → `gcd(a % b, b)`
        ("depth_first_search", [9], []),  # `nodesvisited.add(node)` deleted from c
        ("reverse_linked_list", [5], []),  # `prevnode = node` deleted
        ("possible_change", [3], [0, 4]),  # `# Python 3` added on top of ĉ, `or not coins` dropped
        ("powerset", [2, 4], [2, 4]),  # a comment added to line 2, `rest_subsets +` dropped from line 4
    ],
)
def test_line_masks_on_quixbugs(quixbugs, name, lines_c, lines_i):
    correct, incorrect = quixbugs[name]
    assert changed_lines(correct, incorrect) == (lines_c, lines_i)


def test_line_masks_boundaries():
    assert changed_lines("a\nb\n", "a\nb\n") == ([], [])
    assert changed_lines("a\nb", "a\nb\n") == ([], [])  # only the final newline differs: no line changed
    assert changed_lines("a\nc\n", "a\nb\nc\n") == ([], [1])  # pure insertion: nothing in c
    assert changed_lines("", "x = 1\n") == ([], [0])
    assert changed_lines("a\n\nb\n", "a\nb\n") == ([1], [])  # a deleted blank line


def test_line_spans_include_the_newline():
    assert line_spans("ab\n\ncd") == [(0, 3), (3, 4), (4, 6)]
    assert line_spans("ab\n") == [(0, 3)]
    assert line_spans("") == []


# ---- character level --------------------------------------------------------------------------------------


def test_edited_chars_substitution(quixbugs):
    correct, incorrect = quixbugs["bitcount"]
    # 17 + 14 + 13 characters in the first three lines, then 8 spaces and "n " → position 54
    assert edited_chars(correct, incorrect) == ([54], [54])
    assert (correct[54], incorrect[54]) == ("&", "^")


def test_edited_chars_deletion_marks_the_insertion_point(quixbugs):
    correct, incorrect = quixbugs["sqrt"]
    edits_c, edits_i = edited_chars(correct, incorrect)
    assert edits_c == [65, 66, 67, 68, 69]
    assert correct[65:70] == " ** 2"
    assert edits_i == [65]  # in ĉ, the character where " ** 2" would be inserted: the `)`
    assert incorrect[65] == ")"


def test_edited_chars_insertion_and_deletion(quixbugs):
    correct, incorrect = quixbugs["possible_change"]
    edits_c, edits_i = edited_chars(correct, incorrect)
    assert edits_c == [0] + list(range(87, 100))  # insertion point of "# Python 3\n", then " or not coins"
    assert correct[87:100] == " or not coins"
    assert edits_i == list(range(0, 11)) + [98]  # "# Python 3\n", then the `:` where " or not coins" was
    assert incorrect[0:11] == "# Python 3\n" and incorrect[98] == ":"


def test_deleted_line_is_slid_onto_the_whole_line(quixbugs):
    # Levenshtein itself deletes "nodesvisited.add(node)\n" + the next line's indentation; sliding by 12
    # equal spaces gives the same edit on exactly line 9.
    correct, incorrect = quixbugs["depth_first_search"]
    edits_c, edits_i = edited_chars(correct, incorrect)
    assert edits_c == list(range(225, 260))
    assert correct[225:260] == "            nodesvisited.add(node)\n"
    assert edits_i == [225]  # start of `            return any(` in ĉ
    assert incorrect[225:238] == "            r"


@pytest.mark.parametrize(
    "correct, incorrect, edits_c, edits_i",
    [
        ("ab", "aXb", [1], [1]),  # insertion inside: the character after it (`b`) in c
        ("x = 1", "x = 12", [4], [5]),  # insertion at the end: the last character of c
        ("x\n", "x", [1], [0]),  # deletion at the end: the last character of ĉ
        ("abc", "bc", [0], [0]),  # deletion at the start
        ("", "abc", [], [0, 1, 2]),  # nothing to mark in an empty string
        ("same\n", "same\n", [], []),
        ("a\n    x = 1\n    y = 2\n", "a\n    y = 2\n", [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [2]),
    ],
)
def test_edited_chars_boundaries(correct, incorrect, edits_c, edits_i):
    assert edited_chars(correct, incorrect) == (edits_c, edits_i)


# ---- tokens (SmolLM2 tokenizer) ---------------------------------------------------------------------------


def test_token_masks_bitcount(quixbugs, tokenizer):
    side_c, side_i = pair_masks(*quixbugs["bitcount"], tokenizer)
    # line 3 is "        n &= n - 1\n"; the newline+indent tokens on both ends overlap it
    assert _marked(side_c.tokens, side_c.line_mask) == ["\n       ", " n", " &", "=", " n", " -", " ", "1", "\n       "]
    assert _marked(side_c.tokens, side_c.token_mask) == [" &"]
    assert _marked(side_i.tokens, side_i.token_mask) == [" ^"]
    assert [h for h in side_c.hybrid if h] == [1, 1, 2, 1, 1, 1, 1, 1, 1]
    assert side_c.offsets[side_c.tokens.index(" &")] == (53, 55)


def test_token_masks_sqrt(quixbugs, tokenizer):
    side_c, side_i = pair_masks(*quixbugs["sqrt"], tokenizer)
    assert _marked(side_c.tokens, side_c.token_mask) == [" **", " ", "2"]
    assert _marked(side_i.tokens, side_i.token_mask) == [")"]
    assert _marked(side_i.tokens, side_i.line_mask) == [
        "\n   ", " while", " abs", "(", "x", " -", " approx", ")", " >", " epsilon", ":", "\n       "
    ]


def test_token_masks_possible_change(quixbugs, tokenizer):
    side_c, side_i = pair_masks(*quixbugs["possible_change"], tokenizer)
    assert _marked(side_c.tokens, side_c.token_mask) == ["def", " or", " not", " coins"]
    # `def` is an insertion point outside any changed line of c: hybrid 1
    assert side_c.hybrid[0] == 1
    assert _marked(side_i.tokens, side_i.token_mask) == ["#", " Python", " ", "3", "\n", ":"]
    assert [side_i.hybrid[i] for i in range(5)] == [2, 2, 2, 2, 2]


def test_token_masks_deleted_line(quixbugs, tokenizer):
    side_c, side_i = pair_masks(*quixbugs["depth_first_search"], tokenizer)
    expected = ["\n           ", " nodes", "visited", ".", "add", "(", "node", ")", "\n           "]
    assert _marked(side_c.tokens, side_c.line_mask) == expected
    assert _marked(side_c.tokens, side_c.token_mask) == expected
    assert sum(side_i.line_mask) == 0
    assert _marked(side_i.tokens, side_i.token_mask) == ["\n           "]


def test_token_mask_is_exactly_the_tokens_with_marked_characters(quixbugs, tokenizer):
    """On every QuixBugs pair: token marked ⇔ one of its characters is edit-marked; offsets cover the text."""
    for name, (correct, incorrect) in quixbugs.items():
        for side, edits in zip(pair_masks(correct, incorrect, tokenizer), edited_chars(correct, incorrect), strict=True):
            covered = sorted({i for a, b in side.offsets for i in range(a, b)})
            assert covered == list(range(len(side.text))), name
            marked = set(edits)
            expected = [int(any(i in marked for i in range(a, b))) for a, b in side.offsets]
            assert side.token_mask == expected, name


def test_non_ascii_characters(tokenizer):
    side_c, side_i = pair_masks("s = 'é'\n", "s = 'è'\n", tokenizer)
    assert "é" in "".join(_marked(side_c.tokens, side_c.token_mask))
    assert "è" in "".join(_marked(side_i.tokens, side_i.token_mask))


# ---- full sequences ---------------------------------------------------------------------------------------


def test_token_masks_inside_a_longer_text():
    marks_c, _ = char_marks("ab\ncd\n", "ab\nxd\n")
    # text = "PROMPT:" + code; offsets into the whole text; the code starts at 7
    offsets = [(0, 7), (7, 9), (9, 10), (10, 11), (11, 13), (13, 13)]
    line, token = token_masks(marks_c, offsets, start=7)
    assert line == [0, 0, 0, 1, 1, 0]  # (9, 10) is the newline of line 0; "cd\n" is line 1 at 10..13
    assert token == [0, 0, 0, 1, 0, 0]  # only the `c` changed


def test_place_response_mask():
    assert place_response_mask([1, 2, 0], prompt_len=2) == [0, 0, 1, 2, 0]
    assert place_response_mask([1, 2, 0], prompt_len=2, seq_len=7) == [0, 0, 1, 2, 0, 0, 0]
    assert place_response_mask([1, 2, 0], prompt_len=2, seq_len=3) == [0, 0, 1]


def test_combine_kinds():
    assert combine([1, 1, 0], [0, 1, 1]) == [1, 2, 1]
    assert combine([1, 1, 0], [0, 1, 1], "line") == [1, 1, 0]
    assert combine([1, 1, 0], [0, 1, 1], "token") == [0, 1, 1]
    with pytest.raises(ValueError):
        combine([1], [1], "word")


def test_encode_pair_puts_masks_on_the_response_only(quixbugs, tokenizer):
    correct, incorrect = quixbugs["bitcount"]
    prompt = "<|im_start|>user\nCount the bits.<|im_end|>\n<|im_start|>assistant\n"
    features = encode_pair(
        tokenizer, prompt, f"```python\n{correct}\n```<|im_end|>\n", f"```python\n{incorrect}\n```<|im_end|>\n",
        correct, incorrect,
    )
    ids, labels = features["input_ids"], features["labels"]
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert labels[:n_prompt] == [-100] * n_prompt and labels[n_prompt:] == ids[n_prompt:]
    texts = [tokenizer.decode([t]) for t in ids]
    assert _marked(texts, features[TOKEN_MASK]) == [" &"]
    assert sum(features[LINE_MASK][:n_prompt]) == 0
    incorrect_texts = [tokenizer.decode([t]) for t in features[INCORRECT_IDS]]
    assert _marked(incorrect_texts, features[INCORRECT_TOKEN_MASK]) == [" ^"]
    assert sum(features[INCORRECT_LINE_MASK]) == 9
    batch = collate([features, encode_pair(tokenizer, prompt, "x = 1\n", "x = 2\n", "x = 1\n", "x = 2\n")], 0)
    assert batch["input_ids"].shape == batch[LINE_MASK].shape == batch["labels"].shape
    assert batch["labels"][1, -1].item() == -100 and batch[TOKEN_MASK][1, -1].item() == 0

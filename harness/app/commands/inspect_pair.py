"""`fgit-bench inspect-pair`: show the FGit error-sensitive masks of a correct/incorrect code pair.

Researchers use it to audit variant data: the terminal view highlights tokens in a changed line (hybrid 1) and
changed tokens in a changed line (hybrid 2); `--json` gives, per side, every token with its text, character
offsets, line mask, token mask and hybrid value.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from harness.core.errors import BadInput

# hybrid value → ANSI style: 1 yellow background, 2 bold white on red
_STYLES = {1: "\x1b[30;43m", 2: "\x1b[1;97;41m"}
_RESET = "\x1b[0m"
_MARKERS = {0: " ", 1: "~", 2: "^"}


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect-pair", help="show the FGit masks of a correct/incorrect code pair")
    p.add_argument("--correct", required=True, help="file with the correct code")
    p.add_argument("--incorrect", required=True, help="file with the incorrect variant")
    p.add_argument("--tokenizer", default=None, help="model whose tokenizer to use (default: the embedded smollm2)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the highlighted view")
    p.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="ANSI colours in the terminal view (auto: when stdout is a terminal; never: ~/^ marker rows)",
    )
    p.set_defaults(func=run)


def _read_code(path: str, which: str) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BadInput(f"--{which}: file not found: {path}") from None
    except IsADirectoryError:
        raise BadInput(f"--{which}: {path} is a directory, not a code file") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"--{which}: {path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise BadInput(f"--{which}: cannot read {path}: {exc.strerror}") from None


@functools.lru_cache(maxsize=4)
def _tokenizer(ref: str | None):
    """Loading from the GGUF takes seconds: keep it for repeated calls in one process."""
    from harness.models import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(ref))
    if not getattr(tokenizer, "is_fast", False):
        raise BadInput(f"tokenizer of {ref or 'smollm2'} has no character offsets (not a fast tokenizer)")
    return tokenizer


def side_json(side, changed_lines) -> dict:
    tokens = [
        {"index": i, "id": tok_id, "text": side.text[a:b], "start": a, "end": b, "line": line, "token": tok,
         "hybrid": line + tok}
        for i, (tok_id, (a, b), line, tok) in enumerate(
            zip(side.input_ids, side.offsets, side.line_mask, side.token_mask, strict=True)
        )
    ]
    return {
        "text": side.text,
        "changed_lines": list(changed_lines),
        "counts": {"tokens": len(tokens), "line": sum(side.line_mask), "token": sum(side.token_mask),
                   "hybrid_2": sum(1 for t in tokens if t["hybrid"] == 2)},
        "tokens": tokens,
    }


def pair_report(correct: str, incorrect: str, tokenizer) -> dict:
    from plugins.training.fgit_masks import char_marks, tokenize_side

    marks_c, marks_i = char_marks(correct, incorrect)
    return {
        "correct": side_json(tokenize_side(tokenizer, marks_c), marks_c.changed_lines),
        "incorrect": side_json(tokenize_side(tokenizer, marks_i), marks_i.changed_lines),
    }


def _char_values(side: dict) -> list[int]:
    """Each character takes its token's hybrid value (a character split over byte tokens takes the highest)."""
    values = [0] * len(side["text"])
    for token in side["tokens"]:
        for i in range(token["start"], token["end"]):
            values[i] = max(values[i], token["hybrid"])
    return values


def render_side(title: str, side: dict, color: bool) -> str:
    text, values = side["text"], _char_values(side)
    changed = set(side["changed_lines"])
    counts = side["counts"]
    out = [f"── {title}: {counts['tokens']} tokens, {len(changed)} changed lines, "
           f"{counts['token']} changed tokens ({counts['hybrid_2']} in changed lines)"]
    start = 0
    for number, line in enumerate(text.split("\n")):
        end = start + len(line)
        if number > 0 and start == len(text):
            break  # no empty line after a final newline
        line_values = values[start:end]
        newline_value = values[end] if end < len(text) else 0
        gutter = f"{number + 1:>4} {'!' if number in changed else ' '}│ "
        shown = line + ("↵" if newline_value else "")
        shown_values = line_values + ([newline_value] if newline_value else [])
        if color:
            out.append(gutter + _colour_runs(shown, shown_values))
        else:
            out.append(gutter + shown)
            if any(shown_values):
                out.append(" " * len(gutter) + "".join(_MARKERS[v] for v in shown_values).rstrip())
        start = end + 1
    return "\n".join(out)


def _colour_runs(text: str, values: list[int]) -> str:
    pieces, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and values[j] == values[i]:
            j += 1
        style = _STYLES.get(values[i])
        pieces.append(f"{style}{text[i:j]}{_RESET}" if style else text[i:j])
        i = j
    return "".join(pieces)


def run(args) -> int:
    correct = _read_code(args.correct, "correct")
    incorrect = _read_code(args.incorrect, "incorrect")
    report = pair_report(correct, incorrect, _tokenizer(args.tokenizer))
    report = {"correct_file": args.correct, "incorrect_file": args.incorrect,
              "tokenizer": args.tokenizer or "smollm2", **report}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    legend = (f"{_STYLES[1]} changed line {_RESET} {_STYLES[2]} changed token {_RESET}" if color
              else "~ token in a changed line   ^ changed token   ! changed line   ↵ marked newline")
    print(legend)
    print(render_side(f"correct {args.correct}", report["correct"], color))
    print(render_side(f"incorrect {args.incorrect}", report["incorrect"], color))
    return 0

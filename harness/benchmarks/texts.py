"""Text helpers shared by benchmarks: the prose of a task's docstring (what decontamination checks as a substring)."""

from __future__ import annotations

import re

_DOCSTRING = re.compile(r'("""|\'\'\')(.*?)\1', re.S)
_EXAMPLES_START = re.compile(r"^\s*(>>>|(for )?examples?\b|e\.g\.|assert\b)", re.I | re.M)


def docstring_prose(docstring_source: str) -> str:
    """The prose of the first docstring: the text before its examples/asserts."""
    match = _DOCSTRING.search(docstring_source)
    text = match.group(2) if match else docstring_source
    cut = _EXAMPLES_START.search(text)
    return text[: cut.start()] if cut else text

"""fgit-bench: an evaluation-first benchmark harness for code LLMs (greedy pass@1, sandboxed)."""

from harness.core import __version__  # noqa: F401

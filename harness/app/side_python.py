"""The python that runs an optional tool kept in its own venv (inspect-ai, mlflow: their pins conflict with the
project's, see README "Set-up"): this process when it can import the tool, else the side venv's interpreter."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from harness.core.errors import InfraError

REPO = Path(__file__).resolve().parents[2]


def side_python(module: str, venv: str, env_var: str, install_hint: str) -> list[str] | None:
    """None: `module` imports here (run in-process); else [the python of `$env_var` or REPO/`venv`]."""
    try:
        if importlib.util.find_spec(module) is not None:
            return None
    except ImportError:  # a parent package that is not there
        pass
    chosen = os.environ.get(env_var) or str(REPO / venv / "bin" / "python")
    if not Path(chosen).is_file():
        raise InfraError(f"{module.split('.')[0]} is not installed (no {chosen}): {install_hint}, or set {env_var} "
                         f"to a python that has it")
    return [chosen]

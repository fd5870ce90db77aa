"""Deprecated import path, kept for plugins published as packages: use `plugins.training.trainer`.

The training methods live in `plugins.methods`, the shared machinery in `plugins.training`, the public plugin API
in `plugins.api` (issue 24's layout). This module only re-exports `plugins.training.trainer` and will be removed in a later release."""

import warnings

from plugins.training.trainer import *  # noqa: F401,F403

warnings.warn("plugins.trainer is deprecated: import plugins.training.trainer", DeprecationWarning, stacklevel=2)

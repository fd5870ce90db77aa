"""Deprecated import path, kept for plugins published as packages: use `plugins.training.training_data`.

The training methods live in `plugins.methods`, the shared machinery in `plugins.training`, the public plugin API
in `plugins.api` (issue 24's layout). This module only re-exports `plugins.training.training_data` and will be removed in a later release."""

import warnings

from plugins.training.training_data import *  # noqa: F401,F403

warnings.warn("plugins.training_data is deprecated: import plugins.training.training_data", DeprecationWarning, stacklevel=2)

"""Deprecated import path, kept for plugins published as packages: use `plugins.api`.

The training methods live in `plugins.methods`, the shared machinery in `plugins.training`, the public plugin API
in `plugins.api` (issue 24's layout). This module only re-exports `plugins.api` and will be removed in a later release."""

import warnings

from plugins.api import *  # noqa: F401,F403

warnings.warn("plugins.base is deprecated: import plugins.api", DeprecationWarning, stacklevel=2)

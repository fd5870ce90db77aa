"""`fgit-bench plugins NAME` prints a help text for every setting of every registered plugin.

The settings expected are the fields of the plugin's `config_class` (nested config dataclasses such as
`[fgit.loss]` as `loss.<field>`), taken from `dataclasses.fields`, not from the command's own output.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from plugins.api import PLUGINS
from tests.conftest import run_cli

SETTING = re.compile(r"^  ([\w.]+) = ")


def expected_settings(config_class: type, prefix: str = "") -> dict[str, str]:
    """`{setting: help}` of every leaf field; a field whose type is a config dataclass is a nested table."""
    hints = typing.get_type_hints(config_class)
    settings = {}
    for f in dataclasses.fields(config_class):
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            settings.update(expected_settings(hint, f"{prefix}{f.name}."))
        else:
            settings[f"{prefix}{f.name}"] = f.metadata.get("help", "")
    return settings


@pytest.mark.parametrize("name", PLUGINS.names())
def test_every_setting_of_every_plugin_has_a_help_text(name):
    expected = expected_settings(PLUGINS.get(name).config_class)
    result = run_cli("plugins", name)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()[1:]
    listed = {m.group(1): line for line in lines if (m := SETTING.match(line))}
    assert list(listed) == list(expected), "the command lists exactly the config fields, in their order"
    if not expected:
        assert lines == ["  (no settings)"]
    for setting, line in listed.items():
        assert expected[setting].strip(), f"{name}: {setting} has no metadata help"
        _, marker, help_text = line.partition("  # ")
        assert marker and help_text.strip() == expected[setting], f"{name}: {setting} prints no help: {line!r}"

"""`fgit-bench plugins [NAME]`: the registered training plugins (built-in and by entry point) and their settings.

Each setting is a field of the plugin's `config_class`; its help is the field's `metadata={"help": ...}` (trl's
`*Config` style). `[plugins.<name>]` sets them for one plugin, `[training.shared]` for every plugin that has them.
"""

from __future__ import annotations

import dataclasses


def register(subparsers) -> None:
    p = subparsers.add_parser("plugins", help="list the training plugins and their settings",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("name", nargs="?", default=None, help="one plugin: list its settings with their help")
    p.set_defaults(func=run)


def _settings(config_class, prefix: str = "") -> list[str]:
    lines = []
    for f in dataclasses.fields(config_class):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
        if dataclasses.is_dataclass(default):
            lines += _settings(type(default), f"{prefix}{f.name}.")
            continue
        help_text = f.metadata.get("help", "")
        lines.append(f"  {prefix}{f.name} = {default!r}" + (f"  # {help_text}" if help_text else ""))
    return lines


def run(args) -> int:
    from plugins.api import PLUGINS

    names = [args.name] if args.name else PLUGINS.names()
    plugins = sorted((PLUGINS.get(n).order, n, PLUGINS.get(n)) for n in names)
    for _, name, cls in plugins:
        data = "trains on data" if cls.needs_data else "no training data"
        print(f"{name}: {cls.label} (order {cls.order}, {data}, config {cls.config_class.__name__})")
        if args.name:
            print("\n".join(_settings(cls.config_class)) or "  (no settings)")
    return 0

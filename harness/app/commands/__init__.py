"""CLI subcommands. Each module here defines `register(subparsers)` that adds its parser and sets `func`.

`harness.app.cli` discovers the modules, so adding a command is adding a file.
"""

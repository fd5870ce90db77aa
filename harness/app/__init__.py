"""The application layer: the CLI, its commands, the comparison pipeline, the catalog of names and the exit-code
policy. It sits on top: it may import every other layer, and nothing below imports it (pyproject.toml's `layers`
contract)."""

"""Foundation modules: errors, atomic writes, hashing, the registry, typed config reading, data and cache paths.

They import nothing else of the project (checked by import-linter, see pyproject.toml), so every layer may use them.
"""

__version__ = "0.1.0"

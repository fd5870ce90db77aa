"""Modules imported on first attribute use, so that importing a plugin's config (all a fully cached run needs)
does not import torch (~1-2 s). A plain proxy, not `importlib.util.LazyLoader`: nothing is put into sys.modules,
so every other `import torch` stays an ordinary import."""

from __future__ import annotations

import importlib
import types


class LazyModule(types.ModuleType):
    def __init__(self, name: str):
        super().__init__(name)

    def __getattr__(self, attribute: str):
        module = importlib.import_module(self.__name__)
        return getattr(module, attribute)


torch = LazyModule("torch")
functional = LazyModule("torch.nn.functional")

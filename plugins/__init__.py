"""Training variants. Each module registers a `TrainingPlugin` with `@register(name)` (plugins.api.PLUGINS).

Nothing is imported here: the registry finds the modules by reading their source and imports only the plugin it
is asked for (so `fgit-bench run` with every stage cached never imports torch). Plugins published as their own
packages register through the `fgit_bench.plugins` entry point group.
"""

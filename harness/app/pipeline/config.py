"""Typed configuration of a comparison run, loadable from TOML; profiles are packaged TOML files."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from harness.app.tracking import TrackingSettings
from harness.core.config import from_dict, read_toml
from harness.core.errors import BadInput


@dataclass
class BenchmarkSpec:
    name: str  # a registered benchmark (fgit-bench evaluate --help lists them)
    subset: str | None = None  # bigcodebench: full | hard
    split: str | None = None  # bigcodebench: complete | instruct
    tasks: list[str] | None = None  # a fixed slice (None: all)
    limit: int | None = None  # the first N tasks (after `tasks`)
    optional: bool = False  # skipped with a note when its environment is not built here

    @property
    def label(self) -> str:
        """Directory name of this benchmark in a run: humaneval, mbpp, bigcodebench-hard-complete, ..."""
        return "-".join([self.name, *self.benchmark_options().values()])

    def benchmark_options(self) -> dict[str, str]:
        return {k: v for k, v in (("subset", self.subset), ("split", self.split)) if v is not None}


@dataclass
class GenerationSettings:
    backend: str = "hf"
    batch_size: int = 8
    max_new_tokens: int = 512
    batch_mode: str = "invariant"  # one mode for every variant, so outputs are comparable
    dtype: str | None = None
    samples_from: str | None = None  # backend replay: a samples file; "{variant}" and "{benchmark}" are filled in
    n_samples: int = 1  # samples per task (pass@k from n); greedy default: 1 at temperature 0
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0  # sampling: sample i of a task is seeded from (seed, task, i)


SAMPLING_FIELDS = ("n_samples", "temperature", "top_p", "seed")


def generation_key(settings: GenerationSettings) -> dict:
    """[generation] as a stage key: the sampling fields only where they differ from greedy's defaults, so that a
    greedy run keeps the stage keys it had before sampling existed."""
    from harness.core.config import to_dict

    defaults = GenerationSettings()
    return {k: v for k, v in to_dict(settings).items()
            if k not in SAMPLING_FIELDS or v != getattr(defaults, k)}


@dataclass
class TrainingSettings:
    data: str = "EvolInstruct-Code-4k.jsonl.gz"  # a path, or a file name in the data directory
    limit: int | None = None
    decontaminate: bool = True  # drop rows that overlap the run's benchmarks (10-gram rule, harness.decontaminate)
    # [training.shared]: settings given to every training plugin whose config has the field (the paper trains
    # all variants with the same settings); a [plugins.<variant>] table overrides them for one variant
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionSettings:
    """[execution]: where the work runs (README 'Past one machine on Ray'). Not part of what a run computes: left
    out of the recorded config, so a run on Ray has the config hash (and the stage keys) of the same run here."""

    executor: str = "local"  # local | ray: checks on every node's sandbox, train/generate stages as Ray tasks
    ray_address: str | None = None  # None: $RAY_ADDRESS
    stage_gpus: float = 0.0  # GPUs each train and generate stage asks Ray for (1 on a cluster with GPU nodes)


@dataclass
class RunConfig:
    model: str = "smollm2"
    variants: list[str] | None = None  # None: every registered training plugin, in display order
    benchmarks: list[BenchmarkSpec] | None = None  # None: the registered benchmarks `in_default_run`
    sandbox: str = "auto"
    jobs: int = 2
    data_dir: str | None = None
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)  # [plugins.<variant>] tables: plugin configs
    # grids (harness.app.pipeline.grid): [variant.<name>] instances, [[sweep]] tables, training seeds, base models
    variant: dict[str, dict[str, Any]] = field(default_factory=dict)
    sweep: list[dict[str, Any]] = field(default_factory=list)
    seeds: list[int] | None = None
    models: list[str] | None = None
    # [tracking]: experiment tracking of the finished run (harness/app/tracking.py); never part of the config hash
    tracking: TrackingSettings = field(default_factory=TrackingSettings)


GRID_FIELDS = ("variant", "sweep", "seeds", "models")


def config_record(config: RunConfig) -> dict:
    """The config as a run records it (manifest `config`, `config_hash`). The grid fields are left out while they
    are unset, so a plain comparison records exactly what it recorded before grids existed: its config hash, the
    shard check of `merge` and the committed baselines stay comparable."""
    from harness.core.config import to_dict

    record = to_dict(config)
    defaults = RunConfig()
    for name in GRID_FIELDS:
        if getattr(config, name) == getattr(defaults, name):
            record.pop(name, None)
    record.pop("tracking", None)  # where a run is reported changes none of its results
    record.pop("execution", None)  # where, not what: the same results on any executor
    record["generation"] = generation_key(config.generation)  # greedy: the fields it had before sampling
    return record


def merge_tables(base: dict, override: dict) -> dict:
    """`override` on top of `base`, recursively for nested tables."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge_tables(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def profile_table(name: str) -> dict:
    try:
        text = resources.files("harness.app.profiles").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    except FileNotFoundError:
        known = sorted(p.name.removesuffix(".toml") for p in resources.files("harness.app.profiles").iterdir()
                       if p.name.endswith(".toml"))
        raise BadInput(f"unknown profile {name!r} (known: {', '.join(known)})") from None
    return tomllib.loads(text)


def load_run_config(profile: str | None, config_file: str | None, overrides: dict | None = None) -> RunConfig:
    """Profile table, then the user's file on top, then command-line overrides."""
    data: dict = profile_table(profile) if profile else {}
    if config_file:
        data = merge_tables(data, read_toml(config_file))
    data = merge_tables(data, overrides or {})
    if "benchmarks" in data:
        data["benchmarks"] = [b if isinstance(b, dict) else {"name": b} for b in data["benchmarks"]]
    config = from_dict(RunConfig, data, where=config_file or f"profile {profile}")
    check_settings(config, config_file or f"profile {profile}", overrides or {})
    if config.variants is None:  # every plugin, then every defined instance
        config.variants = default_variants() + list(config.variant)
    if config.benchmarks is None:
        config.benchmarks = default_benchmarks()
    if not config.variants:
        raise BadInput("no variants to run")
    if len(set(config.variants)) != len(config.variants):
        raise BadInput(f"variants listed twice: {config.variants}")
    return config


def check_settings(config: RunConfig, source: str, overrides: dict) -> None:
    """Every setting of the run in range and every name registered, before anything starts (issue 28): one line,
    exit 2, nothing written. A value given by a flag is named by its flag (`--jobs`), else by its key in `source`."""
    from harness import settings

    def where(key: str) -> str:
        return f"--{key.replace('_', '-')}" if key in overrides else f"{source}: {key}"

    settings.sandbox(where("sandbox"), config.sandbox)
    settings.at_least(where("jobs"), config.jobs)
    settings.one_of("--executor" if "execution" in overrides else f"{source}: execution.executor",
                    config.execution.executor, ("local", "ray"))
    generation = config.generation
    settings.backend(f"{source}: generation.backend", generation.backend)
    settings.decoding(f"{source}: generation.", batch_size=generation.batch_size,
                      max_new_tokens=generation.max_new_tokens, batch_mode=generation.batch_mode,
                      dtype=generation.dtype)
    settings.sampling(f"{source}: generation.", n_samples=generation.n_samples,
                      temperature=generation.temperature, top_p=generation.top_p)
    if generation.backend == "replay" and not generation.samples_from:
        raise BadInput(f"{source}: generation.samples_from is required by backend 'replay' (a samples .jsonl)")
    settings.at_least(f"{source}: training.limit", config.training.limit)
    if config.benchmarks is not None and not config.benchmarks:
        raise BadInput(f"{source}: benchmarks is empty: name at least one benchmark, or leave benchmarks out")
    for i, spec in enumerate(config.benchmarks or []):
        settings.benchmark(f"{source}: benchmarks[{i}].name", spec.name, spec.benchmark_options())
        settings.task_list(f"{source}: benchmarks[{i}].tasks", spec.tasks)
        settings.at_least(f"{source}: benchmarks[{i}].limit", spec.limit)
    if config.models is not None and not config.models:
        raise BadInput(f"{source}: models is empty: name at least one model, or leave models out")


def default_variants() -> list[str]:
    """Every registered training plugin (built-in or by entry point), in display order."""
    from plugins.api import PLUGINS

    return [name for _, name in sorted((PLUGINS.get(name).order, name) for name in PLUGINS.names())]


def default_benchmarks() -> list[BenchmarkSpec]:
    """Every registered benchmark that is `in_default_run` (default options), in display order."""
    from harness.benchmarks import BENCHMARKS, benchmark_names

    return [BenchmarkSpec(name) for name in benchmark_names() if BENCHMARKS.get(name).in_default_run]


def plugin_table(config: RunConfig, name: str, plugin_cls: type, shared_extra: dict | None = None) -> dict:
    """The layers of plugin `name`'s config as one table: `[training.shared]` (with `shared_extra` on top: a
    grid's `training.shared.*` sweep values), restricted to the fields this plugin has, then `[plugins.<name>]`."""
    from harness.app.pipeline.chaining import INSTANCE_KEYS

    names = {f.name for f in dataclasses.fields(plugin_cls.config_class)}
    shared = {k: v for k, v in merge_tables(config.training.shared, shared_extra or {}).items() if k in names}
    own = {k: v for k, v in config.plugins.get(name, {}).items() if k not in INSTANCE_KEYS}  # plugin, from
    return merge_tables(shared, own)


def plugin_config(config: RunConfig, name: str, plugin_cls: type) -> Any:
    """The typed config of plugin `name`: `[training.shared]` (the fields this plugin has), then its own
    `[plugins.<name>]` table on top. `train --config` and `run` both read it this way (a grid's instances add
    their own layers on top: harness.app.pipeline.grid)."""
    return from_dict(plugin_cls.config_class, plugin_table(config, name, plugin_cls), where=f"[plugins.{name}]")


def check_plugin_tables(config: RunConfig, selected: list[type]) -> None:
    """Every `[plugins.<name>]` table names a registered plugin and every `[training.shared]` key is a setting
    of some plugin (the selected ones first: only a key none of them has loads the others)."""
    from harness.app.pipeline.chaining import plugin_of
    from plugins.api import PLUGINS

    for name in config.plugins:  # tables of unselected variants are fine (profiles configure all); typos not
        if plugin_of(config, name) not in PLUGINS:
            PLUGINS.get(plugin_of(config, name))  # BadInput with "did you mean"
    unknown = set(config.training.shared) - {f.name for cls in selected for f in dataclasses.fields(cls.config_class)}
    if unknown:
        known = {f.name for name in PLUGINS.names() for f in dataclasses.fields(PLUGINS.get(name).config_class)}
        unknown -= known
    if unknown:
        raise BadInput(f"[training.shared] {sorted(unknown)[0]!r} is not a setting of any training plugin")


def training_data_path(data: str, data_dir_ref: str | None = None) -> Path:
    """`[training] data`: a path, a file name in the data directory, or "synth[:seed]" (the synthetic set)."""
    from harness.app.pipeline.chaining import synth_training_file
    from harness.core.data import data_dir

    synth = synth_training_file(data)
    if synth is not None:
        return synth
    path = Path(data)
    if not path.exists() and not path.is_absolute():
        directory = data_dir(data_dir_ref)
        if directory is not None and (directory / path).exists():
            path = directory / path
    if not path.is_file():
        raise BadInput(f"training data not found: {data}")
    return path

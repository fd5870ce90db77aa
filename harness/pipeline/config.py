"""Typed configuration of a comparison run, loadable from TOML; profiles are packaged TOML files."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from harness.core.config import from_dict, read_toml
from harness.core.errors import BadInput

DEFAULT_VARIANTS = ["base", "sft", "dpo", "mutation", "fgit"]


@dataclass
class BenchmarkSpec:
    name: str  # humaneval | mbpp | bigcodebench
    subset: str | None = None  # bigcodebench: full | hard
    split: str | None = None  # bigcodebench: complete | instruct
    tasks: list[str] | None = None  # a fixed slice (None: all)
    limit: int | None = None  # the first N tasks (after `tasks`)
    optional: bool = False  # skipped with a note when its environment is not built here

    @property
    def label(self) -> str:
        """Directory name of this benchmark in a run: humaneval, mbpp, bigcodebench-hard-complete, ..."""
        parts = [self.name] + [p for p in (self.subset, self.split) if p]
        return "-".join(parts)

    def options(self) -> dict[str, str]:
        return {k: v for k, v in (("subset", self.subset), ("split", self.split)) if v is not None}


@dataclass
class GenerationSettings:
    backend: str = "hf"
    batch_size: int = 8
    max_new_tokens: int = 512
    batch_mode: str = "invariant"  # one mode for every variant, so outputs are comparable
    dtype: str | None = None
    samples_from: str | None = None  # backend replay: a samples file; "{variant}" and "{benchmark}" are filled in


@dataclass
class TrainingSettings:
    data: str = "EvolInstruct-Code-4k.jsonl.gz"  # a path, or a file name in the data directory
    limit: int | None = None
    decontaminate: bool = True  # drop rows that overlap the run's benchmarks (10-gram rule, plugins.decontaminate)
    # [training.shared]: settings given to every training plugin whose config has the field (the paper trains
    # all variants with the same settings); a [plugins.<variant>] table overrides them for one variant
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    model: str = "smollm2"
    variants: list[str] = field(default_factory=lambda: list(DEFAULT_VARIANTS))
    benchmarks: list[BenchmarkSpec] = field(default_factory=lambda: [BenchmarkSpec("humaneval"),
                                                                      BenchmarkSpec("mbpp")])
    sandbox: str = "auto"
    jobs: int = 2
    data_dir: str | None = None
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)  # [plugins.<variant>] tables: plugin configs


def merge_tables(base: dict, override: dict) -> dict:
    """`override` on top of `base`, recursively for nested tables."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge_tables(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def profile_table(name: str) -> dict:
    try:
        text = resources.files("harness.profiles").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    except FileNotFoundError:
        known = sorted(p.name.removesuffix(".toml") for p in resources.files("harness.profiles").iterdir()
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
    if not config.variants:
        raise BadInput("no variants to run")
    if len(set(config.variants)) != len(config.variants):
        raise BadInput(f"variants listed twice: {config.variants}")
    return config

"""Experiments as grids: named variant instances, sweeps, seeds and models expanded into the units a run trains.

    [variant.fgit-line]            an instance: a plugin and its own config fields (the [plugins.<plugin>] schema)
    plugin = "fgit"                (`[plugins.fgit-line] plugin = "fgit"` also defines one: it then layers on
    loss = { mask = "line" }        [training.shared] and its own table only, as harness.app.pipeline.chaining reads it)
    from = "sft"                   optional: train from that variant's artifact (chaining)

    [[sweep]]                      expands every instance it targets into one instance per value
    variant = "fgit"               an instance name (a plain plugin variant is the instance of its name); a plugin
                                   name no instance has: every instance of it; "*": every trained variant
    key = "loss.alpha"             a field of the plugin's config (dotted for nested tables) or training.shared.<f>
    values = [1.5, 2.0, 3.0]

    seeds = [0, 1]                 every variant whose config has a seed, once per seed
    models = ["smollm2", "/m/x"]   the whole comparison once per base model

A unit's config is resolved in layers: `[training.shared]` (with `training.shared.*` sweep values on top), then
`[plugins.<plugin>]`, then the instance's own fields, then its plugin-field sweep values, then the seed.
Instance names: `fgit[loss.alpha=1.5]`, two sweeps `fgit[loss.alpha=1.5,training.shared.lr_scheduler=cosine]`;
the unit id adds `@<model>` with several models and `@seed=<s>` with several seeds. The unit id is the directory
name in the run and the row of the leaderboard and the gate.

Chaining in a grid: a unit of an instance with `from = "<variant>"` starts from the artifact of the upstream unit
with the same model (and the same seed, where both are trained per seed); its cache keys chain on that artifact.
If sweeps expand the upstream variant into several instances, `from` must name one of them
(`from = "sft[learning_rate=0.001]"`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.app.pipeline.chaining import INSTANCE_KEYS, plugin_of, upstream_of
from harness.app.pipeline.config import RunConfig, merge_tables, plugin_table
from harness.core.config import from_dict, to_dict
from harness.core.errors import BadInput

SHARED_PREFIX = "training.shared."
ALL = "*"


@dataclass(frozen=True)
class Sweep:
    variant: str
    key: str
    values: tuple


@dataclass
class Unit:
    """One trained-generated-evaluated variant of the run."""

    id: str  # directory name and leaderboard row
    name: str  # instance name (without model and seed)
    plugin: str
    model: str
    seed: int | None
    config: Any  # the plugin's typed config
    axes: dict[str, Any] = field(default_factory=dict)  # sweep key -> value of this unit
    settings: dict[str, Any] = field(default_factory=dict)  # flattened fields that differ from the plugin defaults
    variant: str = ""  # the variant of the config it expands (before sweeps)
    upstream: str | None = None  # the unit whose artifact it trains from (chaining), None: the base model

    def describe(self) -> dict:
        return {"name": self.name, "plugin": self.plugin, "model": self.model, "seed": self.seed,
                "axes": self.axes, "settings": self.settings, "from": self.upstream}


@dataclass
class _Instance:
    name: str
    plugin: str
    own: dict  # instance fields (plugin-config layout)
    table: str  # the [plugins.<table>] layer under `own`: the plugin's for [variant.*], else the variant's own
    upstream: str | None = None  # `from`: the variant (or expanded instance) it trains from
    shared: dict = field(default_factory=dict)  # training.shared.* sweep values
    swept: dict = field(default_factory=dict)  # plugin-field sweep values (nested layout)
    axes: dict = field(default_factory=dict)


def format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def parse_value(text: str) -> Any:
    """A command-line sweep value: a TOML value (1.5, true, "x") or else the bare text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_sweep_option(text: str) -> dict:
    """`--sweep fgit:loss.alpha=1.5,2,3` → {"variant": "fgit", "key": "loss.alpha", "values": [1.5, 2, 3]}."""
    target, sep, rest = text.partition(":")
    key, eq, values = rest.partition("=")
    if not sep or not eq or not target or not key or not values:
        raise BadInput(f"--sweep must look like VARIANT:KEY=V1,V2 (e.g. fgit:loss.alpha=1.5,2), got {text!r}")
    return {"variant": target.strip(), "key": key.strip(), "values": [parse_value(v.strip()) for v in values.split(",")]}


def _nested(key: str, value: Any) -> dict:
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def _field_exists(cls: type, key: str) -> bool:
    for part in key.split("."):
        if not dataclasses.is_dataclass(cls):
            return False
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            return False
        cls = typing.get_type_hints(cls).get(part)
    return True


def _get(table: dict, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(table, dict) or part not in table:
            return None
        table = table[part]
    return table


def flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _sweeps(config: RunConfig, extra: list[dict]) -> list[Sweep]:
    sweeps = []
    # a --sweep of the same variant and key replaces the config's sweep in its place (the names keep their order)
    extra = {(raw["variant"], raw["key"]): raw for raw in extra}
    merged = [extra.pop((raw.get("variant"), raw.get("key")), raw) if isinstance(raw, dict) else raw
              for raw in config.sweep]
    for i, raw in enumerate([*merged, *extra.values()]):
        where = f"[[sweep]] #{i + 1}"
        if not isinstance(raw, dict) or set(raw) - {"variant", "key", "values"}:
            raise BadInput(f"{where}: expected a table with variant, key, values")
        variant, key, values = raw.get("variant"), raw.get("key"), raw.get("values")
        if not isinstance(variant, str) or not isinstance(key, str) or not key:
            raise BadInput(f"{where}: variant and key must be strings")
        if not isinstance(values, list) or not values:
            raise BadInput(f"{where}: values must be a non-empty list")
        if len({json.dumps(v) for v in values}) != len(values):
            raise BadInput(f"{where}: values listed twice: {values}")
        sweeps.append(Sweep(variant, key, tuple(values)))
    keys = [(s.variant, s.key) for s in sweeps]
    if len(set(keys)) != len(keys):
        raise BadInput("a [[sweep]] sweeps one key of one variant twice")
    return sweeps


def _check_name(name: str, what: str) -> None:
    if not name or "/" in name or name.startswith(".") or "@" in name or "\n" in name:
        raise BadInput(f"{what} {name!r}: a name may not be empty, start with '.', or hold '/', '@' or newlines")


def base_instances(config: RunConfig) -> list[_Instance]:
    from plugins.api import PLUGINS

    for name, table in config.variant.items():
        _check_name(name, "[variant.<name>]")
        if name in PLUGINS:
            raise BadInput(f"[variant.{name}]: the name of a training plugin; give the instance its own name")
        if not isinstance(table, dict) or not isinstance(table.get("plugin"), str):
            raise BadInput(f"[variant.{name}]: needs plugin = \"<training plugin>\"")
        PLUGINS.get(table["plugin"])  # did-you-mean on a typo
        if name in config.plugins and "plugin" in config.plugins[name]:
            raise BadInput(f"variant {name!r} is defined twice: [variant.{name}] and [plugins.{name}] plugin = ...")
    out = []
    for name in config.variants:
        if name in config.variant:
            table = {k: v for k, v in config.variant[name].items() if k not in INSTANCE_KEYS}
            plugin = config.variant[name]["plugin"]
            out.append(_Instance(name, plugin, table, plugin, upstream_of(config, name)))
        else:  # a plugin name, or a [plugins.<name>] plugin = ... instance (harness.app.pipeline.chaining)
            PLUGINS.get(plugin_of(config, name))  # BadInput with "did you mean" on a typo
            out.append(_Instance(name, plugin_of(config, name), {}, name, upstream_of(config, name)))
    return out


def _targets(sweep: Sweep, instances: list[_Instance]) -> list[_Instance]:
    from plugins.api import PLUGINS

    if sweep.variant == ALL:
        return [i for i in instances if PLUGINS.get(i.plugin).needs_data]
    chosen = [i for i in instances if i.name == sweep.variant]  # an instance by its name first,
    chosen = chosen or [i for i in instances if i.plugin == sweep.variant]  # else every instance of the plugin
    if not chosen:
        raise BadInput(f"[[sweep]] variant {sweep.variant!r} is not a selected plugin or instance "
                       f"(selected: {', '.join(i.name for i in instances)})")
    return chosen


def expand(instances: list[_Instance], sweeps: list[Sweep]) -> list[_Instance]:
    """Every instance times the product of the sweeps that target it, in sweep order."""
    from plugins.api import PLUGINS

    targeted: dict[str, list[Sweep]] = {}
    for sweep in sweeps:
        chosen = _targets(sweep, instances)
        field_key = sweep.key.removeprefix(SHARED_PREFIX)
        fitting = [i for i in chosen if _field_exists(PLUGINS.get(i.plugin).config_class, field_key)]
        if sweep.variant != ALL and len(fitting) != len(chosen):
            bad = next(i for i in chosen if i not in fitting)
            raise BadInput(f"[[sweep]] key {sweep.key!r} is not a setting of {bad.name} (plugin {bad.plugin})")
        if not fitting:
            raise BadInput(f"[[sweep]] key {sweep.key!r} is not a setting of any selected variant")
        for instance in fitting:
            targeted.setdefault(instance.name, []).append(sweep)
    out = []
    for instance in instances:
        own = targeted.get(instance.name, [])
        if not own:
            out.append(instance)
            continue
        for combination in itertools.product(*(s.values for s in own)):
            grown = dataclasses.replace(instance, shared=dict(instance.shared), swept=dict(instance.swept),
                                        axes=dict(instance.axes))
            for sweep, value in zip(own, combination, strict=True):
                if sweep.key.startswith(SHARED_PREFIX):
                    grown.shared[sweep.key.removeprefix(SHARED_PREFIX)] = value
                else:
                    grown.swept = merge_tables(grown.swept, _nested(sweep.key, value))
                grown.axes[sweep.key] = value
            out.append(grown)
    return out


def _resolve(config: RunConfig, instance: _Instance, seed: int | None) -> Any:
    from plugins.api import PLUGINS

    cls = PLUGINS.get(instance.plugin)
    plugin_own = config.plugins.get(instance.table, {})
    for key in instance.shared:
        if key in plugin_own or key in instance.own:
            raise BadInput(f"sweep of training.shared.{key} has no effect on {instance.name}: its own table sets "
                           f"{key} (sweep {key} of the variant instead)")
    table = plugin_table(config, instance.table, cls, instance.shared)
    table = merge_tables(merge_tables(table, instance.own), instance.swept)
    if seed is not None:
        table["seed"] = seed
    where = f"[variant.{instance.name}]" if instance.own else f"[plugins.{instance.table}]"
    return from_dict(cls.config_class, table, where=where)


def model_label(ref: str) -> str:
    return Path(ref.rstrip("/")).name or ref


def settings_of(plugin: str, typed: Any) -> dict:
    """The flattened fields of `typed` that differ from the plugin's default config."""
    from plugins.api import PLUGINS

    defaults = flatten(to_dict(PLUGINS.get(plugin).config_class()))
    return {k: v for k, v in flatten(to_dict(typed)).items() if defaults.get(k, object()) != v and k != "seed"}


def plan_units(config: RunConfig, extra_sweeps: list[dict] | None = None) -> list[Unit]:
    """The run's units, in order: models outermost, then the instances (sweeps expanded), then the seeds."""
    instances = expand(base_instances(config), _sweeps(config, extra_sweeps or []))
    models = config.models or [config.model]
    labels = [model_label(m) for m in models]
    if len(set(labels)) != len(labels):
        raise BadInput(f"models with the same name: {models}")
    seeds = config.seeds
    if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)):
        raise BadInput(f"seeds must be a non-empty list without repeats, got {seeds}")
    units, grid_seed = [], {}  # unit id -> its seed where the grid trains it per seed
    for model, label in zip(models, labels, strict=True):
        for instance in instances:
            name = instance.name
            canonical = to_dict(_resolve(config, instance, None))  # 2 and 2.0 name the same float setting
            instance.axes = {k: _get(canonical, k.removeprefix(SHARED_PREFIX)) for k in instance.axes}
            if instance.axes:
                name += "[" + ",".join(f"{k}={format_value(v)}" for k, v in instance.axes.items()) + "]"
            _check_name(name, "instance")
            seeded = seeds is not None and _field_exists(_config_class(instance.plugin), "seed")
            for seed in (seeds if seeded else [None]):
                typed = _resolve(config, instance, seed)
                uid = name + (f"@{label}" if len(models) > 1 else "") + (
                    f"@seed={seed}" if seeded and len(seeds) > 1 else "")
                unit = Unit(uid, name, instance.plugin, model, getattr(typed, "seed", None), typed,
                            dict(instance.axes), settings_of(instance.plugin, typed), instance.name)
                grid_seed[uid] = seed
                if instance.upstream is not None:
                    unit.upstream = _upstream_unit(units, unit, instance.upstream, grid_seed)
                units.append(unit)
    ids = [u.id for u in units]
    if len(set(ids)) != len(ids):
        raise BadInput(f"variant instances named twice: {sorted({n for n in ids if ids.count(n) > 1})}")
    return units


def _upstream_unit(earlier: list[Unit], unit: Unit, wanted: str, grid_seed: dict) -> str:
    """The one earlier unit `unit` chains on: `wanted` (a variant, or one of its expanded instances) with the same
    model, and the same seed where both are trained per seed."""
    found = [u for u in earlier if u.model == unit.model and wanted in (u.name, u.variant)]
    if grid_seed[unit.id] is not None and any(grid_seed[u.id] is not None for u in found):
        found = [u for u in found if grid_seed[u.id] == grid_seed[unit.id]]
    if not found:
        raise BadInput(f"{unit.id}: from = {wanted!r} is not an earlier variant of this run")
    if len(found) > 1:
        names = sorted({u.name for u in found})
        hint = f"; name one instance, e.g. from = {names[0]!r}" if len(names) > 1 else ""
        raise BadInput(f"{unit.id}: from = {wanted!r} matches {len(found)} trained units "
                       f"({', '.join(u.id for u in found)}){hint}")
    return found[0].id


def _config_class(plugin: str) -> type:
    from plugins.api import PLUGINS

    return PLUGINS.get(plugin).config_class


def sweep_axes(units: list[Unit]) -> list[str]:
    """Every swept key, in first-seen order."""
    out: list[str] = []
    for unit in units:
        out += [k for k in unit.axes if k not in out]
    return out

"""The registries' display facts for the leaderboard (which may not import them): plugin labels and orders,
benchmark metric columns. The CLI installs this into `leaderboards.naming` before any command runs."""

from __future__ import annotations

import functools

from harness.core.errors import BadInput
from leaderboards.naming import MetricSpec, Naming


def _variant(name: str) -> tuple[int, str] | None:
    from plugins.api import PLUGINS

    if name not in PLUGINS:
        return None
    try:
        cls = PLUGINS.get(name)
    except BadInput:  # a broken third-party entry point: its results still show, under their own name
        return None
    return cls.order, cls.label


def _control(name: str) -> str | None:
    from plugins.api import PLUGINS

    if name not in PLUGINS:
        return None
    try:
        return PLUGINS.get(name).control
    except BadInput:
        return None


@functools.cache
def _metric_table() -> tuple[list[MetricSpec], dict[str, list[MetricSpec]]]:
    from harness.benchmarks import BENCHMARKS, benchmark_names

    ordered: list[MetricSpec] = []
    by_benchmark: dict[str, list[MetricSpec]] = {}
    for name in benchmark_names():
        cls = BENCHMARKS.get(name)
        if cls.metric_fields:  # per-task fields of its rows instead of base/plus columns (QuixBugs)
            specs = [MetricSpec(column, cls.name, False, field=f) for f, column in cls.metric_fields.items()]
            by_benchmark[cls.name] = specs
            ordered.extend(specs)
            continue
        for result_name, columns in cls.metric_columns().items():
            specs = [MetricSpec(column, result_name, plus) for plus, column in zip((False, True), columns, strict=False)]
            by_benchmark[result_name] = specs
            ordered.extend(specs)
    return ordered, by_benchmark


def naming() -> Naming:
    return Naming(variant=_variant, metrics=lambda benchmark: _metric_table()[1].get(benchmark),
                  known_metrics=lambda: list(_metric_table()[0]), control=_control)


def install() -> None:
    from leaderboards import naming as board_naming

    board_naming.install(naming())

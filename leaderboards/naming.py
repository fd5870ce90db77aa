"""Display names and orders of the leaderboard: variant labels and order, metric columns.

They are facts of the training plugins (`label`, `order`) and the benchmarks (`metric_columns`), which this package
may not import (it depends on `harness.core` only, see the import-linter contracts in pyproject.toml). The
application layer installs a `Naming` that asks the registries (`harness.app.catalog.naming`, installed by the CLI);
without one every name is its own label, in alphabetical order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricSpec:
    """One leaderboard column: which benchmark (its `benchmark` value in results.jsonl), and whether it reads the
    base or the plus (extra) tests, or a per-task `field`."""

    name: str
    benchmark: str
    plus: bool
    field: str | None = None  # another per-task boolean of the rows instead (e.g. a repair's exact_match)


@dataclass(frozen=True)
class Naming:
    # variant name -> (display order, label), None for a name no plugin declares
    variant: Callable[[str], tuple[int, str] | None] = lambda name: None
    # result benchmark name -> its metric columns (base, and plus where it has plus tests), None when unknown
    metrics: Callable[[str], list[MetricSpec] | None] = lambda benchmark: None
    # every known column in display order (the paper's order first)
    known_metrics: Callable[[], list[MetricSpec]] = field(default=lambda: [])
    # variant name -> "positive"/"negative" for a planted control (never in a family with real methods), else None
    control: Callable[[str], str | None] = lambda name: None


_installed: list[Naming] = [Naming()]


def install(naming: Naming) -> None:
    _installed[0] = naming


def current() -> Naming:
    return _installed[0]

"""The plugins' parts of a leaderboard: every plugin with a variant in the run (looked up by the plugin name the run
manifest records for the variant) adds its sections and footnotes (`TrainingPlugin.leaderboard_report`), which the
renderers show after their own (leaderboards.sections). A variant whose plugin is not installed adds nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import BadInput
from leaderboards.defaults import DEFAULT_RESAMPLES, DEFAULT_SEED
from leaderboards.sections import Report

if TYPE_CHECKING:
    from leaderboards.stats import Leaderboard
    from plugins.api import TrainingPlugin


def plugin_of(variant: str, manifest: dict) -> type[TrainingPlugin] | None:
    """The plugin class of `variant`: the manifest's `instances.<variant>.plugin`, else the variant's own name (a
    plain variant, a run without instances); None when no such plugin is installed."""
    from plugins.api import PLUGINS

    instance = (manifest.get("instances") or {}).get(variant)
    name = instance.get("plugin", variant) if isinstance(instance, dict) else variant
    if not isinstance(name, str) or name not in PLUGINS:
        return None
    try:
        return PLUGINS.get(name)
    except BadInput:  # a broken third-party entry point: its variants still show, without its report
        return None


def plugin_report(board: Leaderboard) -> Report:
    """The sections (plugins in the order of their first variant in the manifest) and footnotes (variants in
    alphabetical order) of the plugins of the run's trained variants (`artifacts` of the run manifest)."""
    manifest = board.provenance.get("manifest") or {}
    records: dict[type, dict[str, dict]] = {}
    for variant, record in (manifest.get("artifacts") or {}).items():
        cls = plugin_of(variant, manifest)
        if cls is not None:
            records.setdefault(cls, {})[variant] = record if isinstance(record, dict) else {}
    sections, footnotes = [], {}
    for cls, mine in records.items():
        report = cls().leaderboard_report(board, mine)
        sections += report.sections
        footnotes.update(report.footnotes)
    return Report(sections, [note for variant in sorted(footnotes) for note in footnotes[variant]])


def run_leaderboard(run_dir: str | Path, resamples: int = DEFAULT_RESAMPLES,
                    seed: int = DEFAULT_SEED) -> tuple[Leaderboard, Report]:
    """The leaderboard of a run directory and its plugins' report: what `leaderboards.formats.render` takes."""
    from leaderboards.baseline import run_provenance
    from leaderboards.grid import load_curves
    from leaderboards.stats import build_leaderboard
    from leaderboards.table import load_run

    board = build_leaderboard(load_run(run_dir), run_provenance(run_dir), resamples, seed,
                              curves=load_curves(run_dir))
    return board, plugin_report(board)

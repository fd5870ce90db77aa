"""What a training plugin adds to a leaderboard: its own sections (a titled table, with an optional note under the
Markdown table) and footnotes, as plain data. The application layer asks each variant's plugin for them
(`plugins.api.TrainingPlugin.leaderboard_report`) and passes them to the renderers, which render any section the
same way; this package never imports a plugin."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""  # a paragraph under the table (Markdown only: the HTML page shows the table alone)


@dataclass(frozen=True)
class Report:
    """Sections (after the built-in tables) and footnotes (after the built-in notes) of a leaderboard."""

    sections: list[Section] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)


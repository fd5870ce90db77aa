"""Inline SVG charts of a grid: pass@1 with its interval against each swept value (a line per combination of the
other axes, Base as a dashed line), and training curves (one line per instance). No scripts: the page stays a
self-contained file (see leaderboards.html)."""

from __future__ import annotations

from html import escape

from leaderboards.formatting import PALETTE, percent

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 420, 250, 46, 150, 24, 40


def _frame(title: str, y_ticks: list[tuple[float, str]], x_ticks: list[tuple[float, str]], label: str) -> list[str]:
    width = WIDTH + RIGHT
    parts = [f'<svg role="img" aria-label="{escape(label)}" width="{width}" height="{HEIGHT + BOTTOM}" '
             f'viewBox="0 0 {width} {HEIGHT + BOTTOM}">',
             f'<text x="{(LEFT + WIDTH) / 2:.0f}" y="14" text-anchor="middle" font-size="13" font-weight="bold">'
             f"{escape(title)}</text>",
             f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT}" stroke="#444"/>',
             f'<line x1="{LEFT}" x2="{WIDTH}" y1="{HEIGHT}" y2="{HEIGHT}" stroke="#444"/>']
    for y, text in y_ticks:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{escape(text)}</text>')
    for x, text in x_ticks:
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT + 14}" text-anchor="middle" font-size="10">{escape(text)}</text>')
    return parts


def _legend(entries: list[tuple[str, str]]) -> list[str]:
    parts = []
    for i, (colour, text) in enumerate(entries):
        y = TOP + 14 * i
        parts.append(f'<rect x="{WIDTH + 8}" y="{y}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{WIDTH + 22}" y="{y + 9}" font-size="10">{escape(text[:34])}</text>')
    return parts


def _rate_y(value: float) -> float:
    return HEIGHT - (HEIGHT - TOP) * value


def axis_plot(grid, axis: str, metric: str) -> str:
    """pass@1 (and its interval) against the values of `axis` on `metric`."""
    table = grid.axis_table(axis)
    table = table.loc[table["metric"] == metric]
    values = sorted({_key(v) for v in table["value"]})
    span = max(len(values) - 1, 1)
    x_of = {v: LEFT + 30 + (WIDTH - LEFT - 60) * i / span for i, v in enumerate(values)}
    ticks = [(_rate_y(t / 100), str(t)) for t in (0, 25, 50, 75, 100)]
    parts = _frame(f"{metric} pass@1 (%) vs {axis}", ticks, [(x_of[v], _label(v)) for v in values],
                   f"pass@1 on {metric} against {axis}")
    series: dict[str, list] = {}
    for r in table.itertuples(index=False):
        name = r.name.split("[")[0] + "".join(f" {k.rsplit('.', 1)[-1]}={v}" for k, v in r.others.items())
        series.setdefault(name, []).append(r)
    legend = []
    for i, (name, rows) in enumerate(series.items()):
        colour = PALETTE[(i + 1) % len(PALETTE)]
        legend.append((colour, name))
        rows = sorted(rows, key=lambda r: _key(r.value))
        points = " ".join(f"{x_of[_key(r.value)]:.1f},{_rate_y(r.pass_at_1):.1f}" for r in rows)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for r in rows:
            x = x_of[_key(r.value)] + 3 * i  # a small offset so that equal intervals of two series stay visible
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_rate_y(r.low):.1f}" y2="{_rate_y(r.high):.1f}" '
                         f'stroke="{colour}"/>')
            tip = f"{r.name}: {percent(r.pass_at_1)}% [{percent(r.low)}, {percent(r.high)}]"
            parts.append(f'<circle cx="{x:.1f}" cy="{_rate_y(r.pass_at_1):.1f}" r="3.5" fill="{colour}">'
                         f"<title>{escape(tip)}</title></circle>")
    base = grid.cells.loc[(grid.cells["name"] == "base") & (grid.cells["metric"] == metric)]
    if not base.empty:
        y = _rate_y(float(base["pass_at_1"].iloc[0]))
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}" stroke="{PALETTE[0]}" '
                     'stroke-dasharray="5,4"/>')
        legend.append((PALETTE[0], "Base"))
    parts += _legend(legend) + ["</svg>"]
    return "".join(parts)


def _key(value):
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))


def _label(key) -> str:
    return str(key[1]) if key[0] == 0 else key[2]


def curve_plot(grid, series: str) -> str:
    """One training series (loss, learning_rate, fgit_weight, ...) against the step, one line per instance."""
    lines = {unit: points for unit, curves in grid.curves.items() if (points := curves.get(series))}
    steps = [s for points in lines.values() for s, _ in points]
    values = [v for points in lines.values() for _, v in points]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - (abs(low) or 1.0) * 0.1, high + (abs(high) or 1.0) * 0.1
    first, last = min(steps), max(steps)
    step_span = max(last - first, 1)

    def x(step):
        return LEFT + 10 + (WIDTH - LEFT - 20) * (step - first) / step_span

    def y(value):
        return HEIGHT - (HEIGHT - TOP) * (value - low) / (high - low)

    y_ticks = [(y(low + (high - low) * k / 4), f"{low + (high - low) * k / 4:.3g}") for k in range(5)]
    x_ticks = [(x(s), str(s)) for s in sorted({first, last})]
    parts = _frame(f"{series} per step", y_ticks, x_ticks, f"training curve {series}")
    legend = []
    for i, (unit, points) in enumerate(lines.items()):
        colour = PALETTE[(i + 1) % len(PALETTE)]
        legend.append((colour, unit))
        coords = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts += [f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"><title>{escape(unit)} step {s}: '
                  f"{v:.4g}</title></circle>" for s, v in points]
    parts += _legend(legend) + ["</svg>"]
    return "".join(parts)

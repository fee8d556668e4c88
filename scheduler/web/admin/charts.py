"""Bar charts drawn on the server as inline SVG: no script, no images to fetch.

Each chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>`, which
reads out every figure; every bar carries its figure as a label above it and as a tooltip
(`<title>`). The page shows the same figures in a table beneath. Colours are presentation
attributes (the pages' Content-Security-Policy allows no inline styles), chosen to be told apart
with the common colour-vision deficiencies, and each chart with two series has a legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 34, 30
BLUE, ORANGE, GREY = "#1f6f9f", "#d9731a", "#616e7c"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no figure that week (shown as a dash)
    colour: str = BLUE


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    percent: bool = False,
    about: str = "",
) -> Markup:
    """A chart of one bar per series for each label (week), on one scale starting at zero."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = 100.0 if percent else _nice(max((v for s in series for v in s.values if v is not None), default=0))
    slot = plot_w / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    base = TOP + plot_h
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_describe(labels, series, percent, about))}</desc>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = base - fraction * plot_h
        tick = _figure(top * fraction, percent)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9e2ec" '
            'aria-hidden="true"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{GREY}" '
            f'aria-hidden="true">{tick}</text>'
        )
    for n, label in enumerate(labels):
        left = LEFT + n * slot + slot * 0.1
        for k, s in enumerate(series):
            value = s.values[n]
            x = left + k * bar
            shown = escape(f"{s.name}, week of {label}: {_figure(value, percent)}")
            height = 0.0 if value is None else value / top * plot_h
            parts.append(
                f'<g class="bar"><rect x="{x:.1f}" y="{base - height:.1f}" width="{max(bar - 1, 1):.1f}" '
                f'height="{height:.1f}" fill="{s.colour}"><title>{shown}</title></rect>'
                f'<text x="{x + bar / 2:.1f}" y="{base - height - 4:.1f}" text-anchor="middle" '
                f'font-size="11" fill="#1f2933">{_figure(value, percent)}</text></g>'
            )
        parts.append(
            f'<text x="{LEFT + (n + 0.5) * slot:.1f}" y="{HEIGHT - 10}" text-anchor="middle" font-size="11" '
            f'fill="{GREY}">{escape(label)}</text>'
        )
    if len(series) > 1:
        x = LEFT
        for s in series:
            parts.append(
                f'<rect x="{x}" y="8" width="12" height="12" fill="{s.colour}" aria-hidden="true"/>'
                f'<text x="{x + 17}" y="18" font-size="12" fill="#1f2933" aria-hidden="true">'
                f"{escape(s.name)}</text>"
            )
            x += 30 + 8 * len(s.name)
    parts.append("</svg>")
    # Every piece of text in it was escaped above.
    return Markup("".join(parts))


def _figure(value: float | None, percent: bool) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}%" if percent else f"{value:g}"


def _describe(labels: Sequence[str], series: Sequence[Series], percent: bool, about: str) -> str:
    weeks = f"weeks of {labels[0]} to {labels[-1]}" if labels else "no weeks"
    figures = "; ".join(f"{s.name}: " + ", ".join(_figure(v, percent) for v in s.values) for s in series)
    return f"{about} Per week, {weeks}. {figures}.".strip()


def _nice(most: float) -> float:
    """The scale's top: the smallest 2, 4 or 6 times a power of ten at or above `most` (2 at
    least), so that the middle line is a whole number too."""
    if most <= 2:
        return 2.0
    power = 10 ** math.floor(math.log10(most))
    return float(next(step * power for step in (2, 4, 6, 10, 20) if step * power >= most))

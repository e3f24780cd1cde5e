"""Horizontal bar charts as plain SVG, drawn on the server (templates/stats/_chart.html).

Hand-made rather than a plotting library: the pages' CSP forbids inline style and script, which
the SVG of the libraries we looked at (pygal embeds a <style> and a tooltip script) needs, and
the bars must mirror for Arabic and Farsi. Colours come from classes in static/stats.css, so
the charts print and follow the page's styles.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 440
LABEL_WIDTH = 170
VALUE_WIDTH = 44
BAR_HEIGHT = 22
GAP = 8
MAX_LABEL = 19  # characters; the table beside the chart has the full name


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    y: int
    x: float
    width: float
    label_x: int
    value_x: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    rtl: bool
    label_anchor: str
    value_anchor: str
    label_width: int = LABEL_WIDTH


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def bar_chart(rows: list[tuple[str, float]], rtl: bool = False) -> Chart:
    """Bars proportional to the largest value; labels on the reading side (right in RTL)."""
    top = max((v for _, v in rows), default=0) or 1
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for index, (label, value) in enumerate(rows):
        width = room * (value / top)
        y = GAP + index * (BAR_HEIGHT + GAP)
        if rtl:
            x = WIDTH - LABEL_WIDTH - width
            label_x, value_x = WIDTH - LABEL_WIDTH + 8, x - 6
        else:
            x = LABEL_WIDTH
            label_x, value_x = LABEL_WIDTH - 8, x + width + 6
        text = f"{value:g}"
        bars.append(Bar(_short(label), value, text, y, x, width, label_x, value_x))
    height = GAP + len(rows) * (BAR_HEIGHT + GAP)
    # text-anchor "end" is the right edge in LTR, the left edge once direction is rtl.
    return Chart(WIDTH, max(height, BAR_HEIGHT), tuple(bars), rtl, "end", "start")

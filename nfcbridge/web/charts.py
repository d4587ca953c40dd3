"""Small server-side SVG charts (no JavaScript, no build chain): bars people can read.

Each chart has a title and a description for screen readers, and the same figures are
always in a table next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#1f5fa8", "#b3541e", "#2e7d32", "#6a3d9a", "#8a6d00", "#00695c", "#ad1457")


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: dict[str, Sequence[int]],
    *,
    width: int = 640,
    height: int = 240,
) -> str:
    """Grouped bars: one group per category, one bar per series (e.g. per provider)."""
    left, bottom, top = 40, 40, 16
    plot_h = height - bottom - top
    peak = max((v for values in series.values() for v in values), default=0) or 1
    group_w = (width - left - 10) / max(len(categories), 1)
    bar_w = min(max(group_w * 0.8 / max(len(series), 1), 2), 60)
    parts = [
        f'<svg role="img" aria-labelledby="t d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="t">{escape(title)}</title>',
        f'<desc id="d">{escape(_describe(categories, series))}</desc>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#333"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, category in enumerate(categories):
        x0 = left + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series.items()):
            value = values[i]
            h = plot_h * value / peak
            x = x0 + j * bar_w
            y = top + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(name)}: {value}</title></rect>'
            )
        parts.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" font-size="11">{escape(category)}</text>'
        )
    for j, name in enumerate(series):
        y = height - 8
        x = left + j * 110
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _describe(categories: Sequence[str], series: dict[str, Sequence[int]]) -> str:
    return "; ".join(
        f"{name}: " + ", ".join(f"{c} {v}" for c, v in zip(categories, values, strict=True))
        for name, values in series.items()
    )

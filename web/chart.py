"""Monthly production as an inline SVG bar chart (no JavaScript): pure, data in, markup out."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from web.views import MonthProduction

WIDTH, HEIGHT, PAD = 720, 220, 30
COLOURS = {
    "closed": "#2e7d32",
    "amended": "#1565c0",
    "estimated": "#ef6c00",
    "measured": "#81c784",
}


def monthly_svg(months: Sequence[MonthProduction]) -> Markup:
    """Bars of kWh per month, labelled every third month; a title per bar for its value."""
    top = max((m.energy_wh or 0 for m in months), default=0) or 1
    slot = (WIDTH - 2 * PAD) / max(len(months), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" aria-label="monthly production, kWh">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>',
        f'<text x="{PAD}" y="14" font-size="11">{top / 1000:,.0f} kWh</text>',
    ]
    for index, month in enumerate(months):
        x = PAD + index * slot
        if month.energy_wh:
            height = (HEIGHT - 2 * PAD - 10) * month.energy_wh / top
            colour = COLOURS.get(month.basis, "#9e9e9e")
            parts.append(
                f'<rect x="{x + 2:.1f}" y="{HEIGHT - PAD - height:.1f}" width="{slot - 4:.1f}" '
                f'height="{height:.1f}" fill="{colour}" data-month="{escape(month.month)}">'
                f"<title>{escape(month.month)}: {month.energy_wh / 1000:,.1f} kWh "
                f"({escape(month.basis)})</title></rect>"
            )
        if index % 3 == 0:
            parts.append(
                f'<text x="{x + 2:.1f}" y="{HEIGHT - PAD + 14}" font-size="10">'
                f"{escape(month.month)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))

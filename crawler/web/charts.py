"""Server-rendered inline SVG charts for the dashboard: no JavaScript, no chart library.

The SVG is built with `Markup.format`, which escapes every interpolated value, so a
topic id or source name can never break out of an attribute.
"""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup

__all__ = ["PALETTE", "bar_svg", "daily_chart"]

PALETTE = ("#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626")


def _nice_max(n: int) -> int:
    """A round axis maximum at or above n (4, 8, 15, 40, 250 …)."""
    if n <= 4:
        return 4
    mag = 10 ** (len(str(n)) - 1)
    return next(int(m * mag) for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * mag >= n)


def daily_chart(counts: list[tuple[date, str, int]], topics: list[str], *, end: date,
                days: int = 90, topic_names: dict[str, str] | None = None) -> Markup:
    """Stacked bars of flagged articles per day per topic over `days` days ending `end`."""
    names = topic_names or {}
    width, height, left, bottom, top = 900, 230, 36, 26, 10
    plot_w, plot_h = width - left - 6, height - bottom - top
    start = end - timedelta(days=days - 1)
    per_day: dict[date, dict[str, int]] = {}
    for d, topic, n in counts:
        if start <= d <= end:
            per_day.setdefault(d, {})[topic] = per_day.get(d, {}).get(topic, 0) + n
    peak = max((sum(v.values()) for v in per_day.values()), default=0)
    ymax = _nice_max(peak)
    colour = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(topics)}
    bar_w = plot_w / days
    parts: list[Markup] = [Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-title" '
        'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Flagged articles per day, '
        'last {days} days</title>').format(w=width, h=height, days=days)]
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(Markup('<line class="grid" x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}"/>'
                            '<text class="axis" x="{tx}" y="{ty:.1f}" text-anchor="end">{v}</text>').format(
            x1=left, x2=width - 6, y=y, tx=left - 6, ty=y + 4, v=int(ymax * frac)))
    for i in range(days):
        d = start + timedelta(days=i)
        x = left + i * bar_w
        y = top + plot_h
        day = per_day.get(d, {})
        for t in topics:
            n = day.get(t, 0)
            if not n:
                continue
            h = plot_h * n / ymax
            y -= h
            parts.append(Markup(
                '<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{c}" rx="1">'
                '<title>{d} · {name}: {n}</title></rect>').format(
                x=x + 0.6, y=y, bw=max(bar_w - 1.2, 1), h=h, c=colour[t], d=d.isoformat(),
                name=names.get(t, t), n=n))
        if (i % 15 == 0 and days - 1 - i >= 8) or i == days - 1:
            last = i == days - 1
            parts.append(Markup('<text class="axis" x="{x:.1f}" y="{y}" text-anchor="{anchor}">{label}</text>')
                         .format(x=x + (bar_w if last else bar_w / 2), y=height - 8,
                                 anchor="end" if last else "middle", label=d.strftime("%d %b")))
    parts.append(Markup('<line class="baseline" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/></svg>').format(
        x1=left, x2=width - 6, y=top + plot_h))
    return Markup("").join(parts)


def bar_svg(value: int, peak: int, colour: str = PALETTE[0]) -> Markup:
    """A small horizontal bar (for counts in a table)."""
    frac = value / peak if peak else 0
    return Markup('<svg class="minibar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">'
                  '<rect x="0" y="0" width="{w:.1f}" height="8" rx="2" fill="{c}"/></svg>').format(
        w=max(frac * 100, 1 if value else 0), c=colour)

"""SVG charts drawn on the server: line and horizontal bar charts with axes, labels, a
<title>/<desc> for screen readers and the same numbers as a table under each chart."""

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Formatter = Callable[[float], str]

# Narrow enough that 14-unit text stays readable when a phone scales the chart down.
WIDTH = 480
# Two series are told apart by colour and by dash (colour-blind safe: blue and orange).
COLORS = ("#1d4ed8", "#c2410c", "#047857", "#7c3aed")
DASHES = ("", "6 4", "2 3", "10 3 2 3")
INK = "#1f2937"
MUTED = "#4b5563"
GRID = "#d1d5db"
_ids = itertools.count(1)


def whole_number(value: float) -> str:
    return f"{round(value):,}"


@dataclass(frozen=True)
class Series:
    """One line: a value per label. `dashed` marks a previous period."""

    name: str
    values: Sequence[float]
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    # A page listing what the bar counts; the label becomes a link in the table.
    href: str = ""


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 up to a round number at or above `top`, in steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step < 1 and top >= 1:
        step = 1.0
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _chart_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _table(
    caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], hrefs: Sequence[str] = ()
) -> Markup:
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(h) for h in headers)
    body = Markup("")
    for index, row in enumerate(rows):
        first = row[0]
        href = hrefs[index] if index < len(hrefs) else ""
        label = Markup('<a href="{}">{}</a>').format(href, first) if href else escape(first)
        cells = Markup("").join(Markup('<td class="num">{}</td>').format(v) for v in row[1:])
        body += Markup('<tr><th scope="row">{}</th>{}</tr>').format(label, cells)
    return Markup(
        '<details class="chart-data"><summary>Show data table</summary>'
        '<div class="table-scroll" tabindex="0" role="region" aria-label="{caption}">'
        "<table><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
        "<tbody>{body}</tbody></table></div></details>"
    ).format(caption=caption, head=head, body=body)


def line_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_title: str,
    x_title: str = "Day",
    value_format: Formatter = whole_number,
    tick_format: Formatter | None = None,
    y_max: float | None = None,
) -> Markup:
    """A line per series over `labels` (days, drawn left to right; missing days should be
    given as zero). `y_max` fixes the axis (1.0 for a rate)."""
    ident = _chart_id("chart")
    peak = max((v for s in series for v in s.values), default=0)
    ticks = nice_ticks(y_max if y_max is not None else peak)
    show_tick = tick_format or value_format
    # Room for the widest tick label (about 8.5 px a character at 14 px) beside the axis title.
    widest = max((len(str(show_tick(tick))) for tick in ticks), default=1)
    height, left, right, top, bottom = 250, max(58, 32 + math.ceil(widest * 8.5)), 30, 14, 56
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    scale_top = ticks[-1] or 1
    count = max(len(labels), 1)

    def x(index: int) -> float:
        return left + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h - plot_h * (value / scale_top)

    parts: list[Markup] = []
    for tick in ticks:
        parts.append(
            Markup(
                '<line x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}" stroke="{g}" stroke-width="1"/>'
                '<text x="{tx}" y="{ty:.1f}" text-anchor="end" font-size="14" fill="{m}">{t}</text>'
            ).format(
                l=left,
                r=WIDTH - right,
                y=y(tick),
                g=GRID,
                tx=left - 6,
                ty=y(tick) + 4,
                m=MUTED,
                t=show_tick(tick),
            )
        )
    # About five day labels whatever the range (every label would overlap on 30 or 90 days),
    # counted back from the last day so that today is always labelled.
    every = max(1, math.ceil(count / 5))
    for index, label in enumerate(labels):
        if (count - 1 - index) % every:
            continue
        parts.append(
            Markup(
                '<line x1="{x:.1f}" x2="{x:.1f}" y1="{b}" y2="{b2}" stroke="{m}"/>'
                '<text x="{x:.1f}" y="{ty}" text-anchor="{a}" font-size="14" fill="{m}">'
                "{t}</text>"
            ).format(
                x=x(index),
                b=top + plot_h,
                b2=top + plot_h + 5,
                ty=top + plot_h + 21,
                m=MUTED,
                t=label,
                # The last day ends at the plot's edge: centred, it would be cut off.
                a="end" if index == count - 1 and count > 1 else "middle",
            )
        )
    for number, line in enumerate(series):
        color = COLORS[number % len(COLORS)]
        dash = DASHES[1] if line.dashed else DASHES[number % len(DASHES)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.values))
        parts.append(
            Markup(
                '<polyline points="{p}" fill="none" stroke="{c}" stroke-width="2.5" '
                'stroke-linejoin="round"{d}/>'
            ).format(
                p=points, c=color, d=Markup(' stroke-dasharray="{}"').format(dash) if dash else ""
            )
        )
        if len(line.values) <= 31 and not line.dashed:
            parts.extend(
                Markup('<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>').format(
                    x(i), y(v), color
                )
                for i, v in enumerate(line.values)
            )
    parts.append(
        Markup(
            '<line x1="{l}" x2="{r}" y1="{b}" y2="{b}" stroke="{i}"/>'
            '<text x="{cx}" y="{h}" text-anchor="middle" font-size="14" fill="{i}">{xt}</text>'
            '<text transform="translate(15 {cy}) rotate(-90)" text-anchor="middle" '
            'font-size="14" fill="{i}">{yt}</text>'
        ).format(
            l=left,
            r=WIDTH - right,
            b=top + plot_h,
            i=INK,
            cx=left + plot_w / 2,
            h=height - 8,
            xt=x_title,
            cy=top + plot_h / 2,
            yt=y_title,
        )
    )
    legend = Markup("")
    if len(series) > 1:
        items = Markup("").join(
            Markup(
                '<li><svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" y1="5" '
                'y2="5" stroke="{}" stroke-width="2.5"{}/></svg>{}</li>'
            ).format(
                COLORS[n % len(COLORS)],
                Markup(' stroke-dasharray="{}"').format(
                    DASHES[1] if s.dashed else DASHES[n % len(DASHES)]
                )
                if (s.dashed or DASHES[n % len(DASHES)])
                else "",
                s.name,
            )
            for n, s in enumerate(series)
        )
        legend = Markup('<ul class="chart-legend">{}</ul>').format(items)
    svg = Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{i}-t {i}-d" '
        'font-family="system-ui, sans-serif"><title id="{i}-t">{title}</title>'
        '<desc id="{i}-d">{desc}</desc>{body}</svg>'
    ).format(w=WIDTH, h=height, i=ident, title=title, desc=description, body=Markup("").join(parts))
    rows = [
        [label, *(value_format(s.values[i]) if i < len(s.values) else "" for s in series)]
        for i, label in enumerate(labels)
    ]
    table = _table(title, [x_title, *(s.name for s in series)], rows)
    return Markup('<figure class="chart-figure">{}{}{}</figure>').format(svg, legend, table)


def bar_chart(
    *,
    title: str,
    description: str,
    bars: Sequence[Bar],
    value_title: str,
    label_title: str,
    value_format: Formatter = whole_number,
    sort: bool = True,
) -> Markup:
    """Horizontal bars from zero, largest first, each value printed at its bar's end."""
    ident = _chart_id("chart")
    shown = sorted(bars, key=lambda b: -b.value) if sort else list(bars)
    row_h, top, label_w, right = 32, 8, 170, 70
    height = top * 2 + row_h * max(len(shown), 1) + 28
    plot_w = WIDTH - label_w - right
    peak = max((b.value for b in shown), default=0) or 1
    parts: list[Markup] = []
    for index, bar in enumerate(shown):
        y = top + index * row_h
        width = plot_w * bar.value / peak
        label = bar.label if len(bar.label) <= 22 else bar.label[:21] + "…"
        parts.append(
            Markup(
                '<text x="{lx}" y="{ty}" text-anchor="end" font-size="14" fill="{i}">{l}</text>'
                '<rect x="{x}" y="{y}" width="{w:.1f}" height="{h}" fill="{c}"/>'
                '<text x="{vx:.1f}" y="{ty}" font-size="14" fill="{i}">{v}</text>'
            ).format(
                lx=label_w - 8,
                ty=y + row_h / 2 + 4,
                i=INK,
                l=label,
                x=label_w,
                y=y + 4,
                w=max(width, 1 if bar.value else 0),
                h=row_h - 8,
                c=COLORS[0],
                vx=label_w + width + 6,
                v=value_format(bar.value),
            )
        )
    if not shown:
        parts.append(
            Markup('<text x="{}" y="{}" font-size="14" fill="{}">Nothing yet</text>').format(
                label_w, top + row_h / 2 + 4, MUTED
            )
        )
    axis_y = top + row_h * max(len(shown), 1) + 4
    parts.append(
        Markup(
            '<line x1="{x}" x2="{x}" y1="{t}" y2="{b}" stroke="{i}"/>'
            '<text x="{cx}" y="{ty}" text-anchor="middle" font-size="14" fill="{i}">{vt}</text>'
        ).format(
            x=label_w,
            t=top,
            b=axis_y,
            i=INK,
            cx=label_w + plot_w / 2,
            ty=axis_y + 18,
            vt=value_title,
        )
    )
    svg = Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{i}-t {i}-d" '
        'font-family="system-ui, sans-serif"><title id="{i}-t">{title}</title>'
        '<desc id="{i}-d">{desc}</desc>{body}</svg>'
    ).format(w=WIDTH, h=height, i=ident, title=title, desc=description, body=Markup("").join(parts))
    table = _table(
        title,
        [label_title, value_title],
        [[b.label, value_format(b.value)] for b in shown],
        [b.href for b in shown],
    )
    return Markup('<figure class="chart-figure">{}{}</figure>').format(svg, table)


@dataclass(frozen=True)
class Interval:
    """One row of an interval chart: a point estimate and the interval around it."""

    label: str
    estimate: float
    low: float
    high: float


def interval_chart(
    *,
    title: str,
    description: str,
    intervals: Sequence[Interval],
    value_title: str,
    value_format: Formatter,
) -> Markup:
    """One horizontal interval per row with a dot at its estimate, on an axis that always shows
    zero (a dashed line), so an interval crossing it reads as "no difference ruled out"."""
    ident = _chart_id("intervals")
    row_h, left, right, top, bottom = 40, 120, 36, 12, 52
    height = top + bottom + row_h * max(len(intervals), 1)
    plot_w = WIDTH - left - right
    lowest = min([0.0, *(i.low for i in intervals)])
    highest = max([0.0, *(i.high for i in intervals)])
    if highest - lowest <= 0:
        lowest, highest = -0.01, 0.01
    margin = (highest - lowest) * 0.08
    lowest, highest = lowest - margin, highest + margin

    def x(value: float) -> float:
        return left + plot_w * (value - lowest) / (highest - lowest)

    # Round ticks over the range: steps of 1, 2, 2.5 or 5 times a power of ten.
    raw = (highest - lowest) / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [
        round(n * step, 10) for n in range(math.ceil(lowest / step), math.floor(highest / step) + 1)
    ]
    parts: list[Markup] = []
    for tick in ticks:
        parts.append(
            Markup(
                '<line x1="{x:.1f}" x2="{x:.1f}" y1="{t}" y2="{b}" stroke="{g}" stroke-width="1"/>'
                '<text x="{x:.1f}" y="{ty}" text-anchor="middle" font-size="13" fill="{m}">'
                "{label}</text>"
            ).format(
                x=x(tick),
                t=top,
                b=height - bottom,
                g=GRID,
                ty=height - bottom + 18,
                m=MUTED,
                label=value_format(tick),
            )
        )
    parts.append(
        Markup(
            '<line x1="{x:.1f}" x2="{x:.1f}" y1="{t}" y2="{b}" stroke="{ink}" stroke-width="1.5" '
            'stroke-dasharray="4 3"/>'
        ).format(x=x(0.0), t=top, b=height - bottom, ink=INK)
    )
    for index, interval in enumerate(intervals):
        middle = top + row_h * index + row_h / 2
        color = COLORS[index % len(COLORS)]
        parts.append(
            Markup(
                '<text x="{lx}" y="{ly:.1f}" text-anchor="end" font-size="14" fill="{ink}">'
                "{label}</text>"
                '<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{c}" '
                'stroke-width="4" stroke-linecap="round"/>'
                '<circle cx="{cx:.1f}" cy="{y:.1f}" r="6" fill="{c}" stroke="#fff" '
                'stroke-width="2"/>'
            ).format(
                lx=left - 10,
                ly=middle + 5,
                ink=INK,
                label=interval.label[:16],
                x1=x(interval.low),
                x2=x(interval.high),
                y=middle,
                c=color,
                cx=x(interval.estimate),
            )
        )
    parts.append(
        Markup(
            '<text x="{x:.1f}" y="{y}" text-anchor="middle" font-size="14" fill="{ink}">{t}</text>'
        ).format(x=left + plot_w / 2, y=height - 10, ink=INK, t=value_title)
    )
    svg = Markup(
        '<svg viewBox="0 0 {w} {h}" role="img" aria-labelledby="{i}-title {i}-desc" '
        'class="chart">'
        '<title id="{i}-title">{title}</title><desc id="{i}-desc">{desc}</desc>{body}</svg>'
    ).format(w=WIDTH, h=height, i=ident, title=title, desc=description, body=Markup("").join(parts))
    table = _table(
        title,
        ("Arm", "Estimate", "Low", "High"),
        [
            (i.label, value_format(i.estimate), value_format(i.low), value_format(i.high))
            for i in intervals
        ],
    )
    return Markup('<figure class="chart-figure">{}{}</figure>').format(svg, table)

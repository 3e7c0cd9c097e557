"""Minimal SVG charts for docs/performance.md (no plotting library: the charts must render from
the JSON of a benchmark run with nothing but the Python standard library).

bar_chart(title, unit, bars)        bars: [(label, value, (low, high) or None)]: horizontal bars
                                    with an optional min..max whisker.
line_chart(title, x_label, y_label, series, log_x=False, log_y=False)
                                    series: [(name, [(x, y), ...])]
Each returns the SVG document as a string.
"""

import html
import math

_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
_FONT = 'font-family="sans-serif" font-size="12"'


def _fmt(value):
    if value == 0:
        return "0"
    magnitude = abs(value)
    if float(value).is_integer() and magnitude < 1e6:
        return f"{int(value):,}"
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3g}"
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _text(x, y, text, anchor="start", extra=""):
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT} {extra}>'
            f"{html.escape(str(text))}</text>")


def bar_chart(title, unit, bars, reference=None):
    """Horizontal bars; `reference` (value, label) draws a dashed vertical line (a target)."""
    label_w, plot_w, row_h, top = 230, 380, 26, 40
    height = top + row_h * len(bars) + 40
    highs = [b[1] for b in bars] + [b[2][1] for b in bars if b[2]]
    if reference:
        highs.append(reference[0])
    top_value = max([h for h in highs if h is not None] + [1e-12]) * 1.1
    lows = [b[1] for b in bars] + [b[2][0] for b in bars if b[2]]
    bottom_value = min(0.0, min(lows)) if lows else 0.0
    span = top_value - bottom_value

    def x_of(v):
        return label_w + (v - bottom_value) / span * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 90}" '
           f'height="{height}" viewBox="0 0 {label_w + plot_w + 90} {height}">',
           '<rect width="100%" height="100%" fill="white"/>',
           _text(10, 20, title, extra='font-weight="bold"')]
    zero = x_of(0.0)
    out.append(f'<line x1="{zero:.1f}" y1="{top - 5}" x2="{zero:.1f}" '
               f'y2="{top + row_h * len(bars)}" stroke="#444"/>')
    for i, (label, value, spread) in enumerate(bars):
        y = top + i * row_h
        colour = _COLOURS[i % len(_COLOURS)]
        x0, x1 = sorted((zero, x_of(value)))
        out.append(_text(label_w - 8, y + 16, label, anchor="end"))
        out.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" '
                   f'height="{row_h - 8}" fill="{colour}" opacity="0.8"/>')
        if spread:
            lo, hi = x_of(spread[0]), x_of(spread[1])
            out.append(f'<line x1="{lo:.1f}" y1="{y + row_h / 2}" x2="{hi:.1f}" '
                       f'y2="{y + row_h / 2}" stroke="black"/>')
            for x in (lo, hi):
                out.append(f'<line x1="{x:.1f}" y1="{y + 7}" x2="{x:.1f}" y2="{y + row_h - 7}" '
                           f'stroke="black"/>')
        out.append(_text(max(x1, x_of(spread[1]) if spread else x1) + 5, y + 16,
                         f"{_fmt(value)} {unit}"))
    if reference:
        x = x_of(reference[0])
        out.append(f'<line x1="{x:.1f}" y1="{top - 5}" x2="{x:.1f}" '
                   f'y2="{top + row_h * len(bars)}" stroke="#d62728" stroke-dasharray="4 3"/>')
        out.append(_text(x, top + row_h * len(bars) + 16, reference[1], anchor="middle",
                         extra='fill="#d62728"'))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def line_chart(title, x_label, y_label, series, log_x=False, log_y=False):
    left, width, top, height = 70, 420, 40, 240
    points = [p for _, pts in series for p in pts]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    tx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    ty = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    x_lo, x_hi = tx(min(xs)), tx(max(xs))
    y_lo = ty(min(ys)) if log_y else min(0.0, min(ys))
    y_hi = ty(max(ys))
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_hi = y_lo + 1
    y_hi += (y_hi - y_lo) * 0.08

    def px(v):
        return left + (tx(v) - x_lo) / (x_hi - x_lo) * width

    def py(v):
        return top + height - (ty(v) - y_lo) / (y_hi - y_lo) * height

    total_h = top + height + 50 + 16 * len(series)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" '
           f'height="{total_h}" viewBox="0 0 {left + width + 40} {total_h}">',
           '<rect width="100%" height="100%" fill="white"/>',
           _text(10, 20, title, extra='font-weight="bold"'),
           f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" '
           f'stroke="#444"/>']
    for x in sorted(set(xs)):
        out.append(_text(px(x), top + height + 16, _fmt(x), anchor="middle"))
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        v_t = y_lo + frac * (y_hi - y_lo)
        v = 10 ** v_t if log_y else v_t
        y = top + height - frac * height
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" '
                   f'stroke="#ddd"/>')
        out.append(_text(left - 5, y + 4, _fmt(v), anchor="end"))
    out.append(_text(left + width / 2, top + height + 34, x_label, anchor="middle"))
    out.append(_text(12, top - 8, y_label))
    for i, (name, pts) in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(pts))
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + height + 50 + 16 * i
        out.append(f'<rect x="{left}" y="{ly - 9}" width="12" height="10" fill="{colour}"/>')
        out.append(_text(left + 18, ly, name))
    out.append("</svg>")
    return "\n".join(out) + "\n"

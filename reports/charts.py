"""The report's chart as inline SVG, for printed PDFs (WeasyPrint runs no JavaScript).

The HTML page draws the same ``chart`` dict with Chart.js; this draws a plain, printable
version: vertical bars (grouped or stacked) or horizontal bars (doughnuts print as horizontal
bars of their shares: easier to read on paper than a ring).
"""
from __future__ import annotations

from html import escape
from typing import Any

from django.utils.translation import get_language

PALETTE = ["#1f4e79", "#c0504d", "#9bbb59", "#8064a2", "#4bacc6", "#f79646", "#2c4d75", "#772c2a", "#5f7530", "#4d3b62"]
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"


def _fmt(v: float) -> str:
    if abs(v) >= 10000:
        # 万 reads naturally only in Chinese; other languages get the full number, as on the HTML chart
        return f"{v / 10000:,.1f}万" if (get_language() or "zh").startswith("zh") else f"{v:,.0f}"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.1f}"


def chart_svg(chart: dict[str, Any] | None, *, width: int = 640, height: int = 260) -> str:
    if not chart or not chart.get("labels") or not chart.get("datasets"):
        return ""
    if chart.get("horizontal") or chart.get("type") == "doughnut":
        return _horizontal(chart, width=width)
    return _vertical(chart, width=width, height=height)


def _legend(datasets: list[dict[str, Any]], x: int, y: int) -> list[str]:
    out = []
    for i, ds in enumerate(datasets):
        cx = x + (i % 4) * 150
        cy = y + (i // 4) * 14
        out.append(f'<rect x="{cx}" y="{cy - 8}" width="10" height="8" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{cx + 14}" y="{cy}" font-size="9">{escape(str(ds["label"]))[:18]}</text>')
    return out


def _vertical(chart: dict[str, Any], *, width: int, height: int) -> str:
    labels = [str(label) for label in chart["labels"]]
    datasets = chart["datasets"]
    stacked = bool(chart.get("stacked"))
    legend_rows = (len(datasets) + 3) // 4
    top, left, right, bottom = 12 + legend_rows * 14, 56, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    if stacked:
        peak = max((sum(float(ds["data"][i]) for ds in datasets) for i in range(len(labels))), default=0)
    else:
        peak = max((float(v) for ds in datasets for v in ds["data"]), default=0)
    peak = peak or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="{FONT}">']
    parts += _legend(datasets, left, 10)
    for k in range(5):  # grid and axis labels
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd" stroke-width="0.5"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="8" text-anchor="end">{_fmt(peak * k / 4)}</text>')
    slot = plot_w / len(labels)
    groups = 1 if stacked else len(datasets)
    bar_w = max(1.0, slot * 0.7 / groups)
    for i, label in enumerate(labels):
        base = top + plot_h
        for j, ds in enumerate(datasets):
            v = float(ds["data"][i])
            h = plot_h * v / peak
            x = left + i * slot + slot * 0.15 + (0 if stacked else j * bar_w)
            y = base - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"/>')
            if stacked:
                base = y
        parts.append(f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 12}" font-size="8" text-anchor="middle">{escape(label[:8])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _horizontal_stacked(chart: dict[str, Any], *, width: int) -> str:
    """One bar per label, its datasets as segments (e.g. the three tiers of a total cost)."""
    labels = [str(label) for label in chart["labels"]]
    datasets = chart["datasets"]
    legend_rows = (len(datasets) + 3) // 4
    top, left, right, row_h = 8 + legend_rows * 14, 150, 70, 16
    height = top + row_h * len(labels) + 10
    plot_w = width - left - right
    sums = [sum(float(ds["data"][i]) for ds in datasets) for i in range(len(labels))]
    peak = max(sums, default=0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="{FONT}">']
    parts += _legend(datasets, left, 10)
    for i, label in enumerate(labels):
        y = top + i * row_h + 2
        parts.append(f'<text x="{left - 4}" y="{y + 9:.1f}" font-size="8" text-anchor="end">{escape(label[:18])}</text>')
        x = float(left)
        for j, ds in enumerate(datasets):
            w = plot_w * float(ds["data"][i]) / peak
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="11" fill="{PALETTE[j % len(PALETTE)]}"/>')
            x += w
        parts.append(f'<text x="{x + 3:.1f}" y="{y + 9}" font-size="7">{_fmt(sums[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _horizontal(chart: dict[str, Any], *, width: int) -> str:
    labels = [str(label) for label in chart["labels"]]
    datasets = chart["datasets"]
    if chart.get("stacked") and len(datasets) > 1:
        return _horizontal_stacked(chart, width=width)
    row_h = 8 * len(datasets) + 6
    legend_rows = (len(datasets) + 3) // 4 if len(datasets) > 1 else 0
    top, left, right = 8 + legend_rows * 14, 150, 60
    height = top + row_h * len(labels) + 10
    plot_w = width - left - right
    peak = max((float(v) for ds in datasets for v in ds["data"]), default=0)
    limit = chart.get("limit")
    if limit:
        peak = max(peak, float(limit) * 1.2)
    peak = peak or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="{FONT}">']
    if legend_rows:
        parts += _legend(datasets, left, 10)
    for i, label in enumerate(labels):
        y0 = top + i * row_h
        parts.append(f'<text x="{left - 4}" y="{y0 + row_h / 2 + 3:.1f}" font-size="8" text-anchor="end">{escape(label[:18])}</text>')
        for j, ds in enumerate(datasets):
            v = float(ds["data"][i])
            w = plot_w * v / peak
            flags = ds.get("flags")
            color = "#c00000" if flags and flags[i] else PALETTE[j % len(PALETTE)]
            y = y0 + 3 + j * 8
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="7" fill="{color}"/>')
            parts.append(f'<text x="{left + w + 3:.1f}" y="{y + 6}" font-size="7">{_fmt(v)}{escape(str(chart.get("unit", ""))) if chart.get("unit") == "%" else ""}</text>')
    if limit:
        x = left + plot_w * float(limit) / peak
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 6}" stroke="#c00000" stroke-dasharray="3,2"/>')
        parts.append(f'<text x="{x + 2:.1f}" y="{top - 1}" font-size="8" fill="#c00000">{_fmt(float(limit))}%</text>')
    parts.append("</svg>")
    return "".join(parts)

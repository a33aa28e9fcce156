"""Charts of the lists and the workload: list overlap, hours by tier and by manager."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from keyfolio.report.charts.style import (
    DARK,
    INK,
    LIGHT,
    MID,
    Figure,
    axis,
    bar_pattern,
    esc,
    layout,
    values,
)


def _blend(v: float, lo: str = "#ffffff", hi: str = DARK) -> str:
    """Colour between ``lo`` (0) and ``hi`` (1)."""
    a = [int(lo[k : k + 2], 16) for k in (1, 3, 5)]
    b = [int(hi[k : k + 2], 16) for k in (1, 3, 5)]
    t = min(max(v, 0.0), 1.0) if math.isfinite(v) else 0.0
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def overlap_heatmap(names: Sequence[str], matrix: np.ndarray) -> Figure:
    """Jaccard overlap between the declared lists and the definition, the value written in
    each cell (readable in grey-scale). Cells are drawn as shapes, so the chart stays vector
    in the PDF (Plotly draws ``heatmap`` traces as a bitmap)."""
    labels = [esc(n) for n in names]
    z = np.asarray(matrix, dtype=float)
    n = len(names)
    shapes, notes, xs, ys, hover = [], [], [], [], []
    for i in range(n):
        for j in range(n):
            v = float(z[i, j])
            shapes.append(
                {
                    "type": "rect",
                    "x0": j - 0.48,
                    "x1": j + 0.48,
                    "y0": i - 0.48,
                    "y1": i + 0.48,
                    "fillcolor": _blend(v),
                    "line": {"width": 0.5, "color": "#9e9e9e"},
                    "layer": "below",
                }
            )
            notes.append(
                {
                    "x": j,
                    "y": i,
                    "text": "—" if not math.isfinite(v) else f"{v:.2f}",
                    "showarrow": False,
                    "font": {"size": 12, "color": "white" if v > 0.55 else INK},
                }
            )
            xs.append(j)
            ys.append(i)
            hover.append(
                f"{labels[i]} / {labels[j]}: " + ("—" if not math.isfinite(v) else f"{v:.2f}")
            )
    ticks = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": labels}
    return {
        "data": [{
            "type": "scatter", "mode": "markers", "x": xs, "y": ys, "text": hover,
            "marker": {"size": 30, "opacity": 0, "symbol": "square"}, "showlegend": False,
            "hovertemplate": "%{text}<extra>Jaccard</extra>",
        }],
        "layout": layout(
            height=max(260, 52 * n + 110),
            xaxis=axis("", ticks="", showgrid=False, zeroline=False, range=[-0.55, n - 0.45],
                       tickangle=-20, **ticks),
            yaxis=axis("", ticks="", showgrid=False, zeroline=False, range=[n - 0.45, -0.55],
                       **ticks),
            shapes=shapes, annotations=notes,
            margin={"l": 150, "r": 20, "t": 10, "b": 90},
        ),
    }  # fmt: skip


# -- 8. workload ----------------------------------------------------------------------------------
TIER_PATTERN = {"large": "", "medium": "/", "small": "."}
TIER_COLOR = {"large": DARK, "medium": MID, "small": LIGHT}


def workload_tier_chart(
    tiers: Sequence[str], hours_needed: Sequence[float], capacity: float | None
) -> Figure:
    """One stacked bar of the hours the key accounts need (by tier) against the capacity."""
    data: list[dict[str, Any]] = []
    for t, h in zip(tiers, hours_needed, strict=True):
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": f"{esc(t)} key accounts",
                "y": ["Needed by key accounts"],
                "x": [h],
                "marker": {
                    "color": TIER_COLOR.get(t, LIGHT),
                    "line": {"color": INK, "width": 0.6},
                    "pattern": bar_pattern(TIER_PATTERN.get(t, "+")),
                },
                "text": [f"{h:,.0f} h"] if h else [""],
                "textposition": "inside",
                "hovertemplate": f"{esc(t)}: %{{x:,.0f}} hours<extra></extra>",
            }
        )
    if capacity is not None:
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": "Capacity",
                "y": ["KAM capacity"],
                "x": [capacity],
                "marker": {
                    "color": "white",
                    "line": {"color": INK, "width": 1.5},
                    "pattern": bar_pattern("\\", "#777"),
                },
                "text": [f"{capacity:,.0f} h"],
                "textposition": "inside",
                "hovertemplate": "capacity: %{x:,.0f} hours<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": layout(
            height=230,
            barmode="stack",
            bargap=0.35,
            legend={
                "orientation": "h",
                "y": 1.0,
                "x": 0,
                "yanchor": "bottom",
                "traceorder": "normal",
            },
            xaxis=axis("KAM hours per year", tickformat=",.0f", rangemode="tozero"),
            yaxis=axis("", autorange="reversed", ticks=""),
            margin={"l": 160, "r": 20, "t": 36, "b": 50},
        ),
    }


def workload_manager_chart(
    labels: Sequence[str], hours_needed: Sequence[float], capacity: Sequence[float]
) -> Figure:
    """Per manager: hours the key accounts need vs the manager's capacity."""
    ys = [esc(x) for x in labels]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Hours needed by key accounts",
            "y": ys,
            "x": values(hours_needed, 1),
            "marker": {"color": DARK, "line": {"color": INK, "width": 0.6}},
            "hovertemplate": "%{y}: %{x:,.0f} hours needed<extra></extra>",
        },
        {
            "type": "bar",
            "orientation": "h",
            "name": "Capacity (team table)",
            "y": ys,
            "x": values(capacity, 1),
            "marker": {
                "color": "white",
                "line": {"color": INK, "width": 1},
                "pattern": bar_pattern("\\", "#777"),
            },
            "hovertemplate": "%{y}: capacity %{x:,.0f} hours<extra></extra>",
        },
    ]
    return {
        "data": data,
        "layout": layout(
            height=max(240, 34 * len(labels) + 100),
            barmode="group",
            bargap=0.25,
            xaxis=axis("KAM hours per year", tickformat=",.0f", rangemode="tozero"),
            yaxis=axis("", autorange="reversed", ticks=""),
            margin={"l": 170, "r": 20, "t": 36, "b": 50},
        ),
    }

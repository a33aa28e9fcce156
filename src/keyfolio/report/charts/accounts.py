"""Charts of accounts: the KAM matrix and an account's criterion contributions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from keyfolio.report.charts.style import (
    DARK,
    DECISION_STYLE,
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


def matrix_chart(
    points: Any,
    *,
    a_cut: float,
    s_cut: float,
    quadrants: dict[str, str],
    size_label: str,
    currency: str,
    anchors: dict[str, str],
) -> Figure:
    """Bubble chart: strength (x) × attractiveness (y), bubble area ~ ``size``, one trace per
    decision (colour and marker symbol). ``points`` is a DataFrame with account_id, name,
    strength, attractiveness, size, decision, size_tier, quadrant; ``anchors`` maps account ids
    that have a detail section to its element id (clicking opens it)."""
    size = np.clip(np.nan_to_num(points["size"].to_numpy(float)), 0, None)
    smax = float(size.max()) if len(size) and size.max() > 0 else 1.0
    sizeref = 2.0 * smax / (38.0**2)
    data = []
    # drawn from "not key" to "selected", so key accounts sit on top of the crowd
    order = [*DECISION_STYLE, *sorted(set(points["decision"]) - set(DECISION_STYLE))]
    for decision in reversed(order):
        m = (points["decision"] == decision).to_numpy()
        if not m.any():
            continue
        st = DECISION_STYLE.get(decision, {"color": LIGHT, "symbol": "square", "label": decision})
        p = points[m]
        open_marker = str(st["symbol"]).endswith("-open")
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{st['label']} ({int(m.sum()):,})",
                "x": values(p["strength"], 2),
                "y": values(p["attractiveness"], 2),
                "customdata": [
                    [anchors.get(a, ""), esc(n), esc(a), esc(t), esc(q), s]
                    for a, n, t, q, s in zip(
                        p["account_id"],
                        p["name"],
                        p["size_tier"],
                        p["quadrant"],
                        _money_texts(p["size"]),
                        strict=True,
                    )
                ],
                "marker": {
                    "size": values(np.maximum(size[m], smax * 0.002), 2),
                    "sizemode": "area",
                    "sizeref": sizeref,
                    "sizemin": 3,
                    "symbol": st["symbol"],
                    "color": st["color"],
                    "opacity": 0.55 if open_marker else 0.8,
                    "line": {"color": st["color"] if open_marker else INK, "width": 1},
                },
                "hovertemplate": "<b>%{customdata[1]}</b> (%{customdata[2]})<br>"
                "attractiveness %{y:.1f}, strength %{x:.1f}<br>"
                "quadrant %{customdata[4]}, tier %{customdata[3]}<br>"
                f"{size_label} %{{customdata[5]}} {currency}"
                f"<extra>{esc(st['label'])}</extra>",
            }
        )
    corners = {
        "strategic": (1, 1, "right", "top"),
        "star": (0, 1, "left", "top"),
        "status": (1, 0, "right", "bottom"),
        "streamline": (0, 0, "left", "bottom"),
    }
    notes = [
        {
            "xref": "paper",
            "yref": "paper",
            "x": cx,
            "y": cy,
            "xanchor": xa,
            "yanchor": ya,
            "text": f"<b>{q.upper()}</b><br>{esc(quadrants.get(q, '').split(':')[0])}",
            "showarrow": False,
            "align": xa,
            "font": {"size": 11, "color": "#555"},
            "bgcolor": "rgba(255,255,255,0.8)",
        }
        for q, (cx, cy, xa, ya) in corners.items()
    ]
    cut = {"color": INK, "width": 1, "dash": "dash"}
    return {
        "data": data,
        "layout": layout(
            height=560,
            xaxis=axis("Our strength with the customer (0–100)", range=[-2, 102], zeroline=False),
            yaxis=axis("Customer attractiveness (0–100)", range=[-2, 102], zeroline=False),
            shapes=[
                {"type": "line", "x0": s_cut, "x1": s_cut, "y0": -2, "y1": 102, "line": cut},
                {"type": "line", "x0": -2, "x1": 102, "y0": a_cut, "y1": a_cut, "line": cut},
            ],
            annotations=notes,
            hovermode="closest",
            legend={
                "orientation": "h",
                "y": 1.0,
                "x": 0,
                "yanchor": "bottom",
                "traceorder": "reversed",
            },
            margin={"l": 70, "r": 20, "t": 40, "b": 55},
        ),
    }


def _money_texts(s: Any) -> list[str]:
    return ["—" if not math.isfinite(v) else f"{v:,.0f}" for v in np.asarray(s, dtype=float)]


def contribution_chart(
    criteria: Sequence[str],
    groups: Sequence[str],
    contributions: Sequence[float],
    hover: Sequence[str],
) -> Figure:
    """One account's criterion contributions (points of its 0–100 scores), strength hatched."""
    data = []
    for group, color, pattern in (("attractiveness", DARK, ""), ("strength", MID, "/")):
        sel = [i for i, g in enumerate(groups) if g == group]
        if not sel:
            continue
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": group,
                "y": [esc(criteria[i]) for i in sel],
                "x": values([contributions[i] for i in sel], 3),
                "marker": {
                    "color": color,
                    "pattern": bar_pattern(pattern),
                    "line": {"color": INK, "width": 0.5},
                },
                "customdata": [hover[i] for i in sel],
                "hovertemplate": "%{y}: %{x:.1f} points<br>%{customdata}<extra>"
                + group
                + "</extra>",
            }
        )
    return {
        "data": data,
        "layout": layout(
            height=max(150, 14 * len(criteria) + 75),
            bargap=0.15,
            xaxis=axis("Points of the score (0–100)", rangemode="tozero"),
            yaxis=axis("", autorange="reversed", ticks="", tickfont={"size": 10}, dtick=1),
            margin={"l": 130, "r": 10, "t": 26, "b": 40},
            legend={
                "orientation": "h",
                "y": 1.02,
                "x": 0,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 10},
            },
        ),
    }


# -- 7. reconciliation --------------------------------------------------------------------------

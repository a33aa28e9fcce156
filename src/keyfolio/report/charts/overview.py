"""Charts of the definition and the portfolio: criteria weights, margins, Pareto and whale
curves, cost to serve."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from keyfolio.report.charts.style import (
    DARK,
    INK,
    LIGHT,
    MID,
    RED,
    Figure,
    axis,
    bar_pattern,
    downsample,
    esc,
    layout,
    money_axis,
    pct_axis,
    values,
)


# -- 1. the definition -----------------------------------------------------------------------
def weights_chart(groups: Sequence[str], names: Sequence[str], shares: Sequence[float]) -> Figure:
    """Horizontal bars: each criterion's share of its group's weight (attractiveness,
    strength); strength bars are hatched."""
    data = []
    for group, color, pattern in (("attractiveness", DARK, ""), ("strength", MID, "/")):
        sel = [i for i, g in enumerate(groups) if g == group]
        if not sel:
            continue
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": group.capitalize(),
                "y": [f"{esc(names[i])}" for i in sel],
                "x": values([shares[i] for i in sel]),
                "marker": {
                    "color": color,
                    "pattern": bar_pattern(pattern),
                    "line": {"color": INK, "width": 0.6},
                },
                "text": [f"{shares[i]:.0%}" for i in sel],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{y}: %{x:.1%} of " + group + " weight<extra></extra>",
            }
        )
    n = len(names)
    return {
        "data": data,
        "layout": layout(
            height=max(220, 22 * n + 90),
            xaxis=pct_axis("Share of the group's weight", rangemode="tozero"),
            yaxis=axis("", autorange="reversed", ticks=""),
            bargap=0.25,
            margin={"l": 150, "r": 40, "t": 36, "b": 50},
        ),
    }


# -- 2. the portfolio at a glance -----------------------------------------------------------
def margin_chart(
    labels: Sequence[str], cm_pct: Sequence[float], net_pct: Sequence[float]
) -> Figure:
    """Contribution margin and net contribution as % of revenue per group of accounts."""
    return {
        "data": [
            {
                "type": "bar",
                "name": "Contribution margin (% of revenue)",
                "x": list(labels),
                "y": values(cm_pct),
                "marker": {"color": DARK, "line": {"color": INK, "width": 0.6}},
                "text": [_pct_text(v) for v in cm_pct],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{x}: %{y:.1%}<extra>contribution margin</extra>",
            },
            {
                "type": "bar",
                "name": "Net contribution after cost to serve (% of revenue)",
                "x": list(labels),
                "y": values(net_pct),
                "marker": {
                    "color": MID,
                    "pattern": bar_pattern("/"),
                    "line": {"color": INK, "width": 0.6},
                },
                "text": [_pct_text(v) for v in net_pct],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{x}: %{y:.1%}<extra>net contribution</extra>",
            },
        ],
        "layout": layout(
            height=330,
            barmode="group",
            bargap=0.3,
            yaxis=pct_axis("% of revenue", rangemode="tozero"),
            xaxis=axis("", ticks=""),
        ),
    }


def _pct_text(v: float) -> str:
    return "" if v is None or not math.isfinite(v) else f"{v:.1%}"


# -- 3. where the profit comes from -----------------------------------------------------------
def pareto_chart(
    share_accounts: np.ndarray, cum_revenue: np.ndarray, cum_net: np.ndarray
) -> Figure:
    """Cumulative share of revenue and of net contribution, accounts sorted by each."""
    idx = downsample(len(share_accounts))
    x = values(share_accounts[idx])
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Revenue",
                "x": x,
                "y": values(cum_revenue[idx]),
                "line": {"color": DARK, "width": 2.5},
                "hovertemplate": "top %{x:.1%} of accounts: %{y:.1%} of revenue<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Net contribution",
                "x": x,
                "y": values(cum_net[idx]),
                "line": {"color": MID, "width": 2.5, "dash": "dash"},
                "hovertemplate": "top %{x:.1%} of accounts: %{y:.1%} of net contribution"
                "<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Equal shares",
                "x": [0, 1],
                "y": [0, 1],
                "line": {"color": LIGHT, "width": 1, "dash": "dot"},
                "hoverinfo": "skip",
            },
        ],
        "layout": layout(
            height=380,
            xaxis=pct_axis("Share of accounts (largest first)", range=[0, 1]),
            yaxis=pct_axis("Cumulative share of the total"),
        ),
    }


def whale_chart(
    share_accounts: np.ndarray,
    cum_net: np.ndarray,
    peak: int,
    total: float,
    currency: str,
    label: str,
) -> Figure:
    """The whale curve with its peak annotated and the total as a dotted line."""
    idx = downsample(len(share_accounts), keep=[peak])
    peak_x, peak_y = float(share_accounts[peak]), float(cum_net[peak])
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Cumulative net contribution",
                "x": values(share_accounts[idx]),
                "y": values(cum_net[idx], 2),
                "line": {"color": DARK, "width": 2.5},
                "hovertemplate": "top %{x:.1%} of accounts: %{y:,.0f} "
                + currency
                + "<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Total net contribution",
                "x": [0, 1],
                "y": [total, total],
                "line": {"color": MID, "width": 1.5, "dash": "dot"},
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Peak",
                "x": [peak_x],
                "y": [peak_y],
                "marker": {"color": RED, "size": 10, "symbol": "diamond"},
                "showlegend": False,
                "hovertemplate": "peak: %{y:,.0f} " + currency + "<extra></extra>",
            },
        ],
        "layout": layout(
            height=400,
            xaxis=pct_axis("Share of accounts (most profitable first)", range=[0, 1]),
            yaxis=money_axis("Cumulative net contribution", currency, rangemode="tozero"),
            annotations=[
                {
                    "x": peak_x,
                    "y": peak_y,
                    "text": label,
                    "showarrow": True,
                    "arrowhead": 2,
                    "ax": 40 if peak_x < 0.6 else -40,
                    "ay": -30,
                    "xanchor": "left" if peak_x < 0.6 else "right",
                    "align": "left",
                    "bgcolor": "rgba(255,255,255,0.9)",
                    "bordercolor": "#9e9e9e",
                    "borderpad": 4,
                    "font": {"size": 12},
                }
            ],
            margin={"l": 90, "r": 20, "t": 40, "b": 55},
        ),
    }


def cts_chart(activities: Sequence[str], amounts: Sequence[float], currency: str) -> Figure:
    """Cost to serve by activity (horizontal bars, largest on top)."""
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [esc(a) for a in activities],
                "x": values(amounts, 2),
                "marker": {
                    "color": RED,
                    "line": {"color": INK, "width": 0.6},
                    "pattern": bar_pattern("x"),
                },
                "text": [f"{a:,.0f}" for a in amounts],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": "%{y}: %{x:,.0f} " + currency + "<extra></extra>",
            }
        ],
        "layout": layout(
            height=max(200, 28 * len(activities) + 80),
            showlegend=False,
            xaxis=money_axis("Cost to serve", currency, rangemode="tozero"),
            yaxis=axis("", autorange="reversed", ticks=""),
            margin={"l": 160, "r": 60, "t": 10, "b": 50},
        ),
    }


# -- 4. the KAM matrix ---------------------------------------------------------------------------

"""The report's charts as Plotly figure specifications (plain ``{"data", "layout"}`` dicts).

Plain dicts, not ``plotly.graph_objects``: they cost nothing to build for hundreds of small
charts, serialise straight to JSON and are what Plotly.js (embedded in the HTML, served
locally by the web app) draws. Every chart survives grey-scale printing: series differ by
dash style, marker symbol or bar pattern as well as by colour. Text that comes from data
(account names) is HTML-escaped, because Plotly renders a subset of HTML in labels.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Figure = dict[str, Any]

INK = "#1b1b1b"
GRID = "#e3e3e3"
DARK = "#1f4e79"  # key / primary series
MID = "#d08a2e"  # secondary series (also distinct by pattern / dash)
LIGHT = "#9aa5b1"
RED = "#b23b3b"
FONT = "Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
MAX_POINTS = 2000

DECISION_STYLE: dict[str, dict[str, Any]] = {
    "selected": {"color": DARK, "symbol": "circle", "label": "key: selected"},
    "kept": {"color": "#2f7f5f", "symbol": "diamond", "label": "key: kept"},
    "overridden": {"color": "#6a3d9a", "symbol": "star", "label": "overridden"},
    "deselected": {"color": RED, "symbol": "x", "label": "deselected"},
    "not selected": {"color": LIGHT, "symbol": "circle-open", "label": "not key"},
}


def esc(value: Any) -> str:
    """Data text for Plotly labels and hover (Plotly interprets some HTML tags)."""
    return html.escape("" if value is None else str(value), quote=False)


def values(arr: Any, digits: int | None = 6) -> list[Any]:
    """A JSON-safe list: NaN/inf become null, floats rounded to ``digits`` significant-ish."""
    a = np.asarray(arr, dtype=float)
    out: list[Any] = []
    for v in a.tolist():
        if not math.isfinite(v):
            out.append(None)
        elif digits is None:
            out.append(v)
        else:
            out.append(round(v, digits))
    return out


def downsample(n: int, max_points: int = MAX_POINTS, keep: Sequence[int] = ()) -> np.ndarray:
    """Indices of at most ~max_points evenly spaced points of 0..n-1, always with the first,
    the last and ``keep`` (e.g. a curve's peak)."""
    if n <= max_points:
        return np.arange(n)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    extra = np.asarray([k for k in keep if 0 <= k < n], dtype=int)
    return np.unique(np.concatenate([idx, extra, [0, n - 1]]))


def _pattern(shape: str, fg: str = "rgba(255,255,255,0.75)") -> dict[str, Any]:
    """A bar fill pattern drawn over the bar's colour (tells series apart in grey-scale)."""
    return {"shape": shape, "fgcolor": fg, "fillmode": "overlay", "size": 7, "solidity": 0.3}


def layout(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "font": {"family": FONT, "size": 12, "color": INK},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 70, "r": 20, "t": 30, "b": 55},
        "hoverlabel": {"font": {"family": FONT}},
        "legend": {
            "orientation": "h",
            "y": 1.0,
            "x": 0,
            "yanchor": "bottom",
            "traceorder": "normal",
        },
        "separators": ".,",
    }
    base.update(kw)
    return base


def axis(title: str, **kw: Any) -> dict[str, Any]:
    base = {
        "title": {"text": title, "standoff": 8},
        "gridcolor": GRID,
        "zerolinecolor": "#9e9e9e",
        "linecolor": "#9e9e9e",
        "ticks": "outside",
        "tickcolor": "#9e9e9e",
        "automargin": True,
    }
    base.update(kw)
    return base


def money_axis(title: str, currency: str, **kw: Any) -> dict[str, Any]:
    return axis(f"{title} ({currency})", tickformat=",.0f", hoverformat=",.0f", **kw)


def pct_axis(title: str, **kw: Any) -> dict[str, Any]:
    return axis(title, tickformat=".0%", hoverformat=".1%", **kw)


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
                    "pattern": _pattern(pattern),
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
                    "pattern": _pattern("/"),
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
                    "pattern": _pattern("x"),
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
                    "pattern": _pattern(pattern),
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
                    "pattern": _pattern(TIER_PATTERN.get(t, "+")),
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
                    "pattern": _pattern("\\", "#777"),
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
                "pattern": _pattern("\\", "#777"),
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

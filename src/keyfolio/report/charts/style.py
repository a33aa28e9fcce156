"""Chart style: colours, fonts and axes, and the helpers every chart uses (data text
escaped for Plotly's labels, JSON-safe values, downsampling of long curves)."""

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


def bar_pattern(shape: str, fg: str = "rgba(255,255,255,0.75)") -> dict[str, Any]:
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

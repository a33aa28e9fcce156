"""Segments and the KAM portfolio matrix.

* Quadrant from attractiveness × strength with the policy's cuts (``[matrix]``), a score at
  or above a cut counts as high:

  ============  ===============  ==========  ========================================
  quadrant      attractiveness   strength    recommended strategy
  ============  ===============  ==========  ========================================
  strategic     high             high        invest: develop the partnership
  star          high             low         invest to build the position
  status        low              high        maintain: serve efficiently
  streamline    low              low         manage for profitability / standard AM
  ============  ===============  ==========  ========================================

* Growth-potential band: ``[matrix] growth_metric`` (default revenue_growth) cut by
  ``growth_cuts`` into low / medium / high; "unknown" when the value is missing (no base).
* Strategic-value band: attractiveness cut by ``strategic_cuts`` into low / medium / high.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keyfolio.errors import PolicyError
from keyfolio.policy import MatrixPolicy

QUADRANTS = ("strategic", "star", "status", "streamline")

STRATEGY = {
    "strategic": "Invest: develop the partnership, joint plans and senior sponsorship",
    "star": "Invest to build the position: win share, prove value, widen contacts",
    "status": "Maintain: protect the position and serve efficiently",
    "streamline": (
        "Manage for profitability: cut cost to serve or move to standard account management"
    ),
}

_GROWTH_NOTE = {
    "high": " (fast growth: prioritise capacity)",
    "low": " (shrinking: review the cost to serve)",
    "medium": "",
    "unknown": "",
}


def quadrant(attractiveness: np.ndarray, strength: np.ndarray, m: MatrixPolicy) -> np.ndarray:
    hi_a = np.asarray(attractiveness) >= m.attractiveness_cut
    hi_s = np.asarray(strength) >= m.strength_cut
    code = np.select([hi_a & hi_s, hi_a & ~hi_s, ~hi_a & hi_s], [0, 1, 2], default=3)
    return _QUADRANT_LABELS[code]  # four shared labels, not a new string per account


_QUADRANT_LABELS = np.array(["strategic", "star", "status", "streamline"], dtype=object)
_BAND_LABELS = np.array(["high", "medium", "low", "unknown"], dtype=object)


def band(values: np.ndarray, cuts: tuple[float, float]) -> np.ndarray:
    """low / medium / high by two cut points (at or above a cut is the higher band);
    "unknown" for missing values."""
    v = np.asarray(values, dtype=float)
    code = np.select([np.isnan(v), v >= cuts[1], v >= cuts[0]], [3, 0, 1], default=2)
    return _BAND_LABELS[code]


def segment(portfolio: pd.DataFrame, m: MatrixPolicy) -> pd.DataFrame:
    """Columns quadrant, strategy, growth_band, strategic_band for a portfolio that already
    has attractiveness and strength."""
    if m.growth_metric not in portfolio.columns:
        raise PolicyError(
            f"[matrix] growth_metric: no portfolio column {m.growth_metric!r}; available: "
            + ", ".join(sorted(map(str, portfolio.columns)))
        )
    growth = pd.to_numeric(portfolio[m.growth_metric], errors="coerce").to_numpy(dtype=float)
    q = quadrant(
        portfolio["attractiveness"].to_numpy(float), portfolio["strength"].to_numpy(float), m
    )
    gb = band(growth, m.growth_cuts)
    sb = band(portfolio["attractiveness"].to_numpy(float), m.strategic_cuts)
    texts = {(qq, g): STRATEGY[qq] + _GROWTH_NOTE[g] for qq in STRATEGY for g in _GROWTH_NOTE}
    strategy = np.array([texts[k] for k in zip(q.tolist(), gb.tolist(), strict=True)],
                        dtype=object)  # fmt: skip
    return pd.DataFrame(
        {"quadrant": q, "strategy": strategy, "growth_band": gb, "strategic_band": sb},
        index=portfolio.index,
    )

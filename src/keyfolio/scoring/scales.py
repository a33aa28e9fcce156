"""Scales: a criterion's raw values -> 0-100 (percentile, minmax, bands, map, direct)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from keyfolio.policy import Criterion, Policy

NEUTRAL = 50.0
Transform = Callable[[np.ndarray], np.ndarray]


def _map_key(v: object) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v).strip().lower()


def _linear(lo: float, hi: float) -> Transform:
    """``x`` from ``lo`` (0) to ``hi`` (100), clipped. Computed on halves: ``x/2 - lo/2``
    cannot overflow for finite numbers (``x - lo`` can, e.g. 1e308 - -1e308) and, halving
    being exact, gives the same numbers as ``(x - lo) / (hi - lo)`` wherever that does not
    overflow. An infinite ``x`` scores 0 or 100; NaN stays missing."""
    span = hi / 2 - lo / 2
    return lambda x: np.clip((np.asarray(x, dtype=float) / 2 - lo / 2) / span * 100, 0, 100)


def fit_scale(crit: Criterion, values: np.ndarray, policy: Policy) -> Transform:
    """The raw → 0–100 transform of ``crit``, fitted on the observed (non-missing) values.

    Percentile uses average ranks: the lowest value scores 0, the highest 100, ties share
    their mean rank; values between observed ones are interpolated (used for spreads).
    Minmax spans the finite values: an infinite one scores 0 or 100 (the caller warns).
    """
    ok = values[~np.isnan(values)]
    if crit.scale == "percentile":
        if len(ok) == 0:
            return lambda x: np.full(np.shape(x), np.nan)
        u, inv = np.unique(ok, return_inverse=True)
        ranks = pd.Series(ok).rank(method="average").to_numpy()
        pct = np.zeros(len(u))
        np.add.at(pct, inv, ranks)
        pct /= np.bincount(inv)
        pct = (pct - 1) / (len(ok) - 1) * 100 if len(ok) > 1 else np.full(len(u), NEUTRAL)
        return lambda x: np.where(np.isnan(x), np.nan, np.interp(x, u, pct))
    if crit.scale == "minmax":
        ok = ok[np.isfinite(ok)]
        if len(ok) == 0 or ok.max() == ok.min():
            return lambda x: np.where(np.isnan(x), np.nan, NEUTRAL)
        return _linear(float(ok.min()), float(ok.max()))
    if crit.scale == "bands":
        cuts = np.asarray(crit.bands, dtype=float)
        return lambda x: np.where(
            np.isnan(x), np.nan, np.searchsorted(cuts, x, side="right") / len(cuts) * 100
        )
    if crit.scale == "direct":
        if crit.range is not None:
            lo, hi = crit.range
        elif crit.kind == "assessment":
            lo, hi = policy.assessments.scale
        else:
            lo, hi = 0.0, 100.0
        return _linear(lo, hi)
    raise AssertionError(crit.scale)  # pragma: no cover - map is handled separately


def score_map(crit: Criterion, raw: np.ndarray, warnings: list[str]) -> np.ndarray:
    table = {_map_key(k): float(v) for k, v in (crit.map or {}).items()}
    out = np.full(len(raw), np.nan)
    unmapped: set[str] = set()
    for i, v in enumerate(raw):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        k = _map_key(v)
        if k in table:
            out[i] = table[k]
        else:
            unmapped.add(str(v))
    if unmapped:
        shown = ", ".join(sorted(unmapped)[:5]) + (" ..." if len(unmapped) > 5 else "")
        warnings.append(f"criterion {crit.name}: values not in its map scored as missing: {shown}")
    return np.clip(out, 0, 100)

"""Helpers the report's sections share: numeric columns, the key mask, per-group totals,
managers' names and the size limits of long tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from keyfolio.fmt import DASH
from keyfolio.ratios import per
from keyfolio.report.data import ReportData

MATRIX_MAX_POINTS = 3000
MAX_CHANGES = 200
MAX_CONTESTED = 100
MAX_UNLISTED = 50
MAX_FAILING = 100
MAX_WARNINGS = 50
MAX_MANAGERS = 40


def column_values(df: pd.DataFrame, name: str) -> pd.Series:
    """A column as floats (NaN where missing or absent)."""
    if name in df.columns:
        return pd.to_numeric(df[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=df.index, dtype=float)


def key_mask(df: pd.DataFrame) -> pd.Series:
    if "is_key" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["is_key"].fillna(False).astype(bool)


def aggregate(df: pd.DataFrame) -> dict[str, float]:
    """Accounts, key accounts and the money totals of a group of accounts, with its margins."""
    rev, cm = column_values(df, "revenue").sum(), column_values(df, "contribution_margin").sum()
    cts = column_values(df, "cost_to_serve").sum()
    net = column_values(df, "net_contribution").sum()
    return {
        "accounts": float(len(df)),
        "key": float(key_mask(df).sum()),
        "revenue": rev,
        "contribution_margin": cm,
        "cost_to_serve": cts,
        "net_contribution": net,
        "cm_pct": per(cm, rev),
        "net_pct": per(net, rev),
    }


def as_float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def manager_names(d: ReportData) -> dict[str, str]:
    t = d.team
    if t is None or "name" not in t.columns:
        return {}
    return dict(zip(t["manager_id"].astype(str), t["name"].astype(str), strict=True))


def manager_of(owner: Any, names: dict[str, str]) -> str:
    if owner is None or (isinstance(owner, float) and math.isnan(owner)) or owner is pd.NA:
        return DASH
    return names.get(str(owner), str(owner))

"""Where a criterion's raw values come from: a portfolio column (``metric:`` /
``attribute:``), people's assessments (mean over assessors, with spread and count) or the
customer's feedback (latest value). Judgements on a group's member count for its group."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from keyfolio.errors import PolicyError
from keyfolio.ids import isin, member_to_group
from keyfolio.policy import Criterion

VALUE_METRICS = frozenset({"clv", "roci", "profit_potential", "p_alive"})


def account_ids(portfolio: pd.DataFrame) -> pd.Series:
    return portfolio["account_id"].astype(str)


def _with_groups(table: pd.DataFrame, portfolio: pd.DataFrame) -> pd.DataFrame:
    m2g = member_to_group(portfolio)
    if not len(m2g):
        return table
    ids = table["account_id"].astype(str)
    extra = table[isin(ids, m2g.index)].copy()
    extra["account_id"] = extra["account_id"].astype(str).map(m2g)
    # a group's own rows win: only add member rows for groups with no direct rows
    extra = extra[~isin(extra["account_id"], ids)]
    return pd.concat([table, extra], ignore_index=True)


@dataclass
class Source:
    raw: np.ndarray  # object array (float array for float columns, assessments, feedback)
    numeric: np.ndarray | None  # float array (NaN = missing) when numeric
    lo: np.ndarray | None = None  # assessments: min / max raw per account
    hi: np.ndarray | None = None
    count: np.ndarray | None = None
    sd: np.ndarray | None = None
    absent: str = ""  # non-empty: the whole source is absent (warning text)


def column_source(portfolio: pd.DataFrame, crit: Criterion) -> Source:
    col = crit.field
    n = len(portfolio)
    if col not in portfolio.columns:
        if crit.kind == "metric" and col in VALUE_METRICS:
            return Source(
                np.full(n, None, dtype=object),
                np.full(n, np.nan),
                absent=f"metric {col!r} not computed (the value stage has not run)",
            )
        available = ", ".join(sorted(map(str, portfolio.columns)))
        raise PolicyError(
            f"criterion {crit.name!r}: source {crit.source!r} names no portfolio column "
            f"{col!r}; available columns: {available}"
        )
    s = portfolio[col]
    if pd.api.types.is_float_dtype(s) and crit.scale != "map":
        # floats stay a float array (NaN = missing): 8 bytes per account, not a Python object
        raw = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        raw = s.astype(object).where(s.notna(), None).to_numpy(dtype=object)
    numeric: np.ndarray | None = None
    if pd.api.types.is_bool_dtype(s) or s.dropna().map(type).isin([bool, np.bool_]).all():
        numeric = None if crit.scale == "map" else s.astype(float).to_numpy()
    elif pd.api.types.is_numeric_dtype(s):
        numeric = s.astype(float).to_numpy()
    elif pd.api.types.is_datetime64_any_dtype(s):
        numeric = None
    else:
        conv = pd.to_numeric(s, errors="coerce")
        if conv.notna().sum() == s.notna().sum():
            numeric = conv.astype(float).to_numpy()
    return Source(raw, numeric)


def assessment_source(
    portfolio: pd.DataFrame,
    crit: Criterion,
    table: pd.DataFrame | None,
    kind: str,
    ids: pd.Index | None = None,
) -> Source:
    """``ids``: the portfolio's account ids as text, made once for every criterion (looking
    the assessed accounts up in it hashes only them, not the whole portfolio per criterion)."""
    n = len(portfolio)
    key = "criterion" if kind == "assessment" else "metric"
    rows = None
    if table is not None and len(table) and key in table.columns:
        rows = table[table[key].astype(str) == crit.field]
        rows = rows[pd.to_numeric(rows["score" if kind == "assessment" else "value"],
                                  errors="coerce").notna()]  # fmt: skip
    if rows is None or not len(rows):
        what = "assessments" if kind == "assessment" else "feedback"
        return Source(
            np.full(n, None, dtype=object),
            np.full(n, np.nan),
            absent=f"no {what} on {crit.field!r} in this workspace",
        )
    rows = _with_groups(rows, portfolio)
    index = ids if ids is not None else pd.Index(account_ids(portfolio))
    vcol = "score" if kind == "assessment" else "value"
    rows = rows.assign(_v=pd.to_numeric(rows[vcol], errors="coerce"),
                       account_id=rows["account_id"].astype(str))  # fmt: skip
    if kind == "feedback":
        if "date" in rows.columns and rows["date"].notna().any():
            rows = rows.sort_values("date", kind="stable")
        last = rows.groupby("account_id")["_v"].last()
        vals = _aligned(last.to_frame(), index)["_v"]
        return Source(vals, vals)  # a float array: 8 bytes an account, not a Python float
    g = rows.groupby("account_id")["_v"]
    agg = pd.DataFrame(
        {"mean": g.mean(), "sd": g.std(ddof=1), "n": g.size(), "lo": g.min(), "hi": g.max()}
    )
    aligned = _aligned(agg, index)
    return Source(
        aligned["mean"],  # a float array (NaN = not assessed), as for float columns
        aligned["mean"],
        lo=aligned["lo"],
        hi=aligned["hi"],
        count=np.nan_to_num(aligned["n"]).astype(int),
        sd=aligned["sd"],
    )


def _aligned(agg: pd.DataFrame, ids: pd.Index) -> dict[str, np.ndarray]:
    """The columns of ``agg`` (indexed by account id) as float arrays in the order of
    ``ids``, NaN for accounts without a row."""
    if not ids.is_unique:  # a lookup by position needs one row per id
        return {c: agg[c].reindex(ids).to_numpy(dtype=float) for c in agg.columns}
    pos = ids.get_indexer(agg.index)
    at = pos >= 0
    out = {}
    for c in agg.columns:
        col = np.full(len(ids), np.nan)
        col[pos[at]] = agg[c].to_numpy(dtype=float)[at]
        out[str(c)] = col
    return out

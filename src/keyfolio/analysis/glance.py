"""A finished run at a glance, as plain numbers (the web dashboard's cards):

* accounts per size tier and key accounts, over the selectable accounts (a group's members
  are counted in their group);
* the capacity the key list uses (``selection.json``: used and available per constraint);
* the share of accounts with orders that lose money after cost-to-serve (as
  :func:`keyfolio.analysis.summary.summarise` counts them);
* the share of the company's net contribution that the key accounts make (None when the
  total is not positive: a share of a loss says nothing);
* the whale curve (``whale.parquet``: accounts sorted from most to least profitable).

Only the few columns needed are read, so this stays light at a million accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from keyfolio import runs
from keyfolio.errors import KeyfolioError
from keyfolio.policy import TIERS, MatrixPolicy, parse_policy
from keyfolio.ratios import per

_COLUMNS = ["account_id", "selectable", "has_orders", "size_tier", "is_key", "net_contribution"]


@dataclass(frozen=True)
class Capacity:
    name: str  # the constraint, e.g. capacity_hours
    used: float
    available: float | None

    @property
    def share(self) -> float | None:
        if self.available is None or not self.available > 0:
            return None
        return self.used / self.available


@dataclass(frozen=True)
class Glance:
    run_id: str
    started: str | None
    currency: str
    accounts: int
    tiers: dict[str, int]  # size tier -> accounts, in the policy's tier order
    key_accounts: int
    capacity: list[Capacity]
    accounts_with_orders: int
    losing_count: int
    losing_share: float | None  # of the accounts with orders
    net_total: float
    key_net: float
    key_profit_share: float | None  # key_net / net_total, None when net_total <= 0


def glance(run: runs.Run) -> Glance:
    """The numbers of the dashboard's cards for ``run``."""
    meta = run.meta()
    pf = run.portfolio(_COLUMNS)
    if "selectable" in pf.columns:
        pf = pf[pf["selectable"].fillna(False).astype(bool)]
    key = _flag(pf, "is_key")
    net = pd.to_numeric(pf.get("net_contribution"), errors="coerce")
    net = net if net is not None else pd.Series(np.nan, index=pf.index)
    active = _flag(pf, "has_orders") if "has_orders" in pf.columns else net.notna()
    losing = int((net[active] < 0).sum())
    tier = pf["size_tier"].astype(object) if "size_tier" in pf.columns else None
    counts = tier.value_counts() if tier is not None else pd.Series(dtype=int)
    tiers = {t: int(counts.get(t, 0)) for t in TIERS}
    tiers.update({str(t): int(n) for t, n in counts.items() if t not in tiers})
    net_total, key_net = float(net.sum()), float(net[key].sum())
    share = per(key_net, net_total)
    n_active = int(active.sum())
    return Glance(
        run_id=run.id,
        started=meta.get("started"),
        currency=str(meta.get("currency") or ""),
        accounts=len(pf),
        tiers=tiers,
        key_accounts=int(key.sum()),
        capacity=capacity(run),
        accounts_with_orders=n_active,
        losing_count=losing,
        losing_share=losing / n_active if n_active else None,
        net_total=net_total,
        key_net=key_net,
        key_profit_share=None if np.isnan(share) else float(share),
    )


def _flag(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(False, index=df.index)
    return df[column].fillna(False).astype(bool)


def capacity(run: runs.Run) -> list[Capacity]:
    """Each capacity constraint of the run's selection: what the key list uses of it."""
    selection = run.document(runs.SELECTION) or {}
    out = []
    for name, c in (selection.get("capacity") or {}).items():
        if not isinstance(c, dict):
            continue
        out.append(Capacity(str(name), _num(c.get("used")) or 0.0, _num(c.get("available"))))
    return out


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


@dataclass(frozen=True)
class Whale:
    """The whale curve: cumulative net contribution over the share of accounts."""

    share_of_accounts: np.ndarray
    cum_net: np.ndarray
    peak: int  # index of the highest point
    total: float

    @property
    def peak_share(self) -> float:
        return float(self.share_of_accounts[self.peak])

    @property
    def peak_net(self) -> float:
        return float(self.cum_net[self.peak])


def whale(run: runs.Run) -> Whale | None:
    """The run's whale curve (None for a run without ``whale.parquet`` or accounts)."""
    w = run.table(runs.WHALE, columns=["share_of_accounts", "cum_net_contribution"])
    if w is None or w.empty or "cum_net_contribution" not in w.columns:
        return None
    cum = w["cum_net_contribution"].astype(float).to_numpy()
    share = w["share_of_accounts"].astype(float).to_numpy()
    peak = int(np.nanargmax(cum))
    return Whale(share, cum, peak, float(cum[-1]))


MATRIX_COLUMNS = ["account_id", "name", "selectable", "is_key", "decision", "size_tier",
                  "quadrant", "strength", "attractiveness", "revenue"]  # fmt: skip


@dataclass(frozen=True)
class MatrixAccounts:
    """The accounts the KAM matrix can place (selectable, with both scores) and the run's
    cuts; ``size`` is the bubble's measure (revenue)."""

    accounts: pd.DataFrame  # MATRIX_COLUMNS that exist, plus size
    attractiveness_cut: float
    strength_cut: float
    size_label: str


def matrix_accounts(run: runs.Run) -> MatrixAccounts | None:
    """None when the run has no scores (no definition stage)."""
    df = run.portfolio(MATRIX_COLUMNS)
    if not {"attractiveness", "strength"} <= set(df.columns):
        return None
    if "selectable" in df.columns:
        df = df[df["selectable"].fillna(False).astype(bool)]
    df = df[df["attractiveness"].notna() & df["strength"].notna()].copy()
    for col, default in (("name", None), ("decision", "not selected"), ("size_tier", ""),
                         ("quadrant", ""), ("is_key", False)):  # fmt: skip
        if col not in df.columns:
            df[col] = default
    df["size"] = pd.to_numeric(df.get("revenue"), errors="coerce") if "revenue" in df else np.nan
    df["decision"] = df["decision"].astype(str)
    matrix = _matrix_policy(run)
    return MatrixAccounts(
        df.reset_index(drop=True), matrix.attractiveness_cut, matrix.strength_cut, "revenue"
    )


def _matrix_policy(run: runs.Run) -> MatrixPolicy:
    """The matrix cuts of the policy the run used (the defaults if its text is unreadable)."""
    text = (run.meta().get("policy") or {}).get("text")
    try:
        return parse_policy(str(text)).matrix if text else MatrixPolicy()
    except KeyfolioError:
        return MatrixPolicy()

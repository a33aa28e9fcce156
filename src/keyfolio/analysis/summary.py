"""The portfolio summary of a run, as plain data (what ``keyfolio run`` prints):

* per size tier: accounts, revenue, contribution margin, cost-to-serve, net contribution,
  cm_pct (margin / revenue of the tier);
* the share of accounts (with orders) that lose money once cost-to-serve is counted;
* the biggest value destroyers (:func:`value_destroyers`): the accounts whose net
  contribution after cost-to-serve is negative, the most negative first;
* the diamonds in the rough: accounts outside the large tier whose net contribution per
  unit of revenue is highest among those that make money and grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from keyfolio.policy import TIERS
from keyfolio.ratios import per


@dataclass
class Summary:
    currency: str
    tiers: pd.DataFrame
    accounts: int
    accounts_with_orders: int
    losing_share: float
    losing_count: int
    destroyers: pd.DataFrame
    diamonds: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "accounts": self.accounts,
            "accounts_with_orders": self.accounts_with_orders,
            "losing_share": self.losing_share,
            "losing_count": self.losing_count,
            "tiers": self.tiers.to_dict(orient="records"),
            "destroyers": records(self.destroyers),
            "diamonds": records(self.diamonds),
        }


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]


_SHOW = ["account_id", "name", "size_tier", "revenue", "cm_pct", "cost_to_serve",
         "net_contribution", "revenue_growth", "revenue_cagr"]  # fmt: skip


def value_destroyers(portfolio: pd.DataFrame, n: int | None = 10) -> pd.DataFrame:
    """Accounts (selectable rows) whose net contribution after cost-to-serve is negative,
    the most value destroyed first; all columns, the first ``n`` (None: all)."""
    pf = portfolio[portfolio["selectable"].astype(bool)]
    net = pd.to_numeric(pf["net_contribution"], errors="coerce")
    losers = pf[net < 0].sort_values(["net_contribution", "account_id"], kind="stable")
    return (losers if n is None else losers.head(n)).reset_index(drop=True)


def diamonds(portfolio: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """Modest revenue, high net contribution, growing.

    Candidates: outside the biggest 10% of accounts by revenue, making money after
    cost-to-serve and growing (compound annual growth over the years available, else the
    trailing-window growth). They are ranked by the sum of three percentile ranks: net
    contribution, net contribution per unit of revenue, and growth.
    """
    p = portfolio[portfolio["selectable"].astype(bool)]
    big = p["revenue"].quantile(0.90) if len(p) else 0.0
    growth = p["revenue_cagr"].fillna(p["revenue_growth"])
    cand = p[(p["revenue"] < big) & (p["net_contribution"] > 0) & (growth.fillna(-1) > 0)]
    if cand.empty:
        return cand[_SHOW].reset_index(drop=True)
    score = (
        cand["net_contribution"].rank(pct=True)
        + cand["net_pct"].rank(pct=True)
        + growth[cand.index].rank(pct=True)
    )
    order = score.sort_values(ascending=False, kind="stable").index
    return cand.loc[order].head(n)[_SHOW].reset_index(drop=True)


def summarise(portfolio: pd.DataFrame, currency: str) -> Summary:
    p = portfolio[portfolio["selectable"].astype(bool)]
    g = p.groupby("size_tier", observed=True)
    tiers = (
        pd.DataFrame(
            {
                "accounts": g.size(),
                "revenue": g["revenue"].sum(),
                "contribution_margin": g["contribution_margin"].sum(),
                "cost_to_serve": g["cost_to_serve"].sum(),
                "net_contribution": g["net_contribution"].sum(),
            }
        )
        .reindex(list(TIERS))
        .fillna(0)
    )
    tiers["cm_pct"] = per(tiers["contribution_margin"], tiers["revenue"])
    tiers["net_pct"] = per(tiers["net_contribution"], tiers["revenue"])
    tiers.index.name = "size_tier"
    tiers = tiers.reset_index()
    active = p[p["has_orders"].astype(bool)]
    losing = int((active["net_contribution"] < 0).sum())
    return Summary(
        currency=currency,
        tiers=tiers,
        accounts=len(p),
        accounts_with_orders=len(active),
        losing_share=losing / len(active) if len(active) else 0.0,
        losing_count=losing,
        destroyers=value_destroyers(portfolio)[_SHOW],
        diamonds=diamonds(portfolio),
    )

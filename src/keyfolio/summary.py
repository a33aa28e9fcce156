"""What ``keyfolio run`` prints: the portfolio summary as plain data, then as rich tables.

* per size tier: accounts, revenue, contribution margin, cost-to-serve, net contribution,
  cm_pct (margin / revenue of the tier);
* the share of accounts (with orders) that lose money once cost-to-serve is counted;
* the biggest value destroyers: the largest accounts by revenue whose net contribution is
  negative;
* the diamonds in the rough: accounts outside the large tier whose net contribution per
  unit of revenue is highest among those that make money and grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from keyfolio.economics import per

TIER_ORDER = ["large", "medium", "small"]


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
            "destroyers": _records(self.destroyers),
            "diamonds": _records(self.diamonds),
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]


_SHOW = ["account_id", "name", "size_tier", "revenue", "cm_pct", "cost_to_serve",
         "net_contribution", "revenue_growth", "revenue_cagr"]  # fmt: skip


def value_destroyers(portfolio: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    sel = portfolio[portfolio["selectable"].astype(bool) & (portfolio["net_contribution"] < 0)]
    return sel.sort_values("revenue", ascending=False).head(n)[_SHOW].reset_index(drop=True)


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
        .reindex(TIER_ORDER)
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
        destroyers=value_destroyers(portfolio),
        diamonds=diamonds(portfolio),
    )


def money(x: float, currency: str = "") -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e9:
        s = f"{x / 1e9:,.2f}B"
    elif x >= 1e6:
        s = f"{x / 1e6:,.2f}M"
    elif x >= 1e4:
        s = f"{x / 1e3:,.1f}k"
    else:
        s = f"{x:,.0f}"
    return f"{sign}{s}" + (f" {currency}" if currency else "")


def pct(x: float | None) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{x:.1%}"


def render(summary: Summary, console: Console) -> None:
    cur = summary.currency
    t = Table(title=f"Portfolio by size tier ({cur})", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("tier", "accounts", "revenue", "margin", "cm %", "cost to serve", "net", "net %"):
        t.add_column(col, justify="left" if col == "tier" else "right")
    for r in summary.tiers.itertuples():
        t.add_row(
            str(r.size_tier), f"{int(r.accounts):,}", money(r.revenue),
            money(r.contribution_margin),
            pct(r.cm_pct), money(r.cost_to_serve), money(r.net_contribution), pct(r.net_pct),
        )  # fmt: skip
    console.print(t)
    console.print(
        f"[bold]{summary.losing_count:,}[/] of {summary.accounts_with_orders:,} accounts with "
        f"orders ([bold]{summary.losing_share:.1%}[/]) lose money once cost-to-serve is counted."
    )
    _accounts_table(
        console, summary.destroyers, cur,
        "Biggest value destroyers (large revenue, negative net contribution)", "red",
    )  # fmt: skip
    _accounts_table(
        console, summary.diamonds, cur,
        "Diamonds in the rough (modest revenue, high net contribution, growing)", "green",
    )  # fmt: skip


def _accounts_table(console: Console, df: pd.DataFrame, cur: str, title: str, style: str) -> None:
    if df.empty:
        console.print(f"{title}: none.")
        return
    t = Table(title=title, title_justify="left", title_style=f"bold {style}", box=box.SIMPLE_HEAD)
    rows = [
        [str(r.account_id), str(r.name), str(r.size_tier), money(r.revenue), pct(r.cm_pct),
         money(r.cost_to_serve), money(r.net_contribution), pct(r.revenue_growth)][:8]
        for r in df.itertuples()
    ]  # fmt: skip
    heads = ["account", "name", "tier", "revenue", "cm %", "cost to serve", "net", "growth"]
    if console.width < 100:  # narrow terminal: leave out the margin %
        rows = [r[:4] + r[5:] for r in rows]
        heads = heads[:4] + heads[5:]
    for i, col in enumerate(heads):
        width = max(len(r[i]) for r in rows)
        if col == "name":
            t.add_column(
                col, no_wrap=True, overflow="ellipsis", max_width=20 if console.width < 100 else 30
            )
        else:
            t.add_column(col, justify="left" if i < 3 else "right", min_width=width)
    for row in rows:
        t.add_row(*row)
    console.print(t)

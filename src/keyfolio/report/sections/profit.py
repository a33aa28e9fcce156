"""Section 3: where the profit comes from: Pareto curves, the whale curve and the accounts
that lose money once cost to serve is counted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keyfolio.analysis.summary import value_destroyers
from keyfolio.fmt import money, num, pct, short_money, text
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Chart,
    Heading,
    Para,
    Section,
    Table,
)
from keyfolio.report.sections.common import (
    aggregate,
    column_values,
)


def _whale(d: ReportData) -> pd.DataFrame:
    w = d.whale
    if w is None or "cum_net_contribution" not in w.columns:  # a run without whale.parquet
        s = d.selectable.sort_values("net_contribution", ascending=False)
        net = column_values(s, "net_contribution").fillna(0).to_numpy()
        n = max(len(s), 1)
        w = pd.DataFrame(
            {
                "share_of_accounts": np.arange(1, len(s) + 1) / n,
                "cum_net_contribution": net.cumsum(),
            }
        )
    return w.reset_index(drop=True)


def whale_label(share: float, peak: float, total: float, currency: str) -> str:
    rest = peak - total
    made = f"{pct(peak / total, 0)} of profit" if total > 0 else f"{short_money(peak, currency)}"
    return (
        f"The top {pct(share, 0)} of accounts make {made};<br>"
        f"the rest give {short_money(rest, currency)} back."
    )


def _pareto(s: Section, df: pd.DataFrame) -> None:
    n = len(df)
    if n == 0:
        return
    x = np.arange(1, n + 1) / n
    rev = np.sort(column_values(df, "revenue").fillna(0).to_numpy())[::-1]
    net = np.sort(column_values(df, "net_contribution").fillna(0).to_numpy())[::-1]
    cum_rev = rev.cumsum() / rev.sum() if rev.sum() else np.zeros(n)
    cum_net = net.cumsum() / net.sum() if net.sum() else np.zeros(n)
    k = max(int(np.ceil(0.2 * n)) - 1, 0)
    s.items.append(Heading("Pareto curves"))
    s.items.append(
        Para(
            f"The top 20% of accounts make {pct(cum_rev[k])} of revenue and {pct(cum_net[k])} of "
            "net contribution (each curve sorts the accounts by its own measure)."
        )
    )
    s.items.append(
        Chart(
            "chart-pareto",
            charts.pareto_chart(x, cum_rev, cum_net),
            caption="Cumulative share of revenue and of net contribution.",
        )
    )
    s.numbers.update(top20_revenue_share=float(cum_rev[k]), top20_net_share=float(cum_net[k]))


def _whale_part(s: Section, d: ReportData) -> None:
    w = _whale(d)
    if w.empty:
        return
    cum = w["cum_net_contribution"].astype(float).to_numpy()
    share = w["share_of_accounts"].astype(float).to_numpy()
    peak_i = int(np.argmax(cum))
    total, peak = float(cum[-1]), float(cum[peak_i])
    label = whale_label(float(share[peak_i]), peak, total, d.currency)
    s.items.append(Heading("The whale curve"))
    s.items.append(Para(label.replace("<br>", " ")))
    s.items.append(
        Chart(
            "chart-whale",
            charts.whale_chart(share, cum, peak_i, total, d.currency, label),
            caption="Cumulative net contribution, accounts sorted from most to least "
            "profitable; the dotted line is the total the company keeps.",
        )
    )
    s.numbers.update(
        whale_peak=peak,
        whale_total=total,
        whale_peak_share=float(share[peak_i]),
        whale_give_back=peak - total,
        whale_peak_accounts=peak_i + 1,
    )


def _cts_by_activity(d: ReportData, losers: pd.DataFrame) -> pd.Series:
    cols = [c for c in losers.columns if c.startswith("cts_") and c not in ("cts_pct",)]
    if cols:
        sums = losers[cols].apply(pd.to_numeric, errors="coerce").sum()
        sums.index = [c.removeprefix("cts_") for c in cols]
    elif d.cost_to_serve is not None and {"activity", "amount"} <= set(d.cost_to_serve.columns):
        c = d.cost_to_serve[d.cost_to_serve["account_id"].astype(str).isin(losers["account_id"])]
        sums = c.groupby("activity")["amount"].sum()
    else:
        return pd.Series(dtype=float)
    sums = sums[sums.abs() > 0]
    return sums.sort_values(ascending=False)


def _losers_part(s: Section, d: ReportData, df: pd.DataFrame) -> None:
    cur = d.currency
    s.items.append(Heading("Accounts that lose money"))
    if column_values(df, "cost_to_serve").fillna(0).abs().sum() == 0:
        s.notes.append(
            "No cost-to-serve data (no `costs` table and no freight): net contribution equals "
            "contribution margin."
        )
    losers = value_destroyers(d.portfolio, n=None)
    s.numbers["losers"] = len(losers)
    if losers.empty:
        s.items.append(Para("No account loses money once cost to serve is counted."))
        return
    a = aggregate(losers)
    s.items.append(
        Para(
            f"{num(len(losers))} accounts ({pct(len(losers) / len(df))}) lose money once cost to "
            f"serve is counted: {short_money(a['revenue'], cur)} revenue, "
            f"{short_money(a['contribution_margin'], cur)} contribution margin, "
            f"{short_money(a['cost_to_serve'], cur)} cost to serve, "
            f"{short_money(a['net_contribution'], cur)} net."
        )
    )
    by_act = _cts_by_activity(d, losers)
    if len(by_act):
        s.items.append(
            Chart(
                "chart-cts",
                charts.cts_chart(
                    [str(i).replace("_", " ") for i in by_act.index], by_act.to_list(), cur
                ),
                caption="Cost to serve of the accounts that lose money, by activity.",
            )
        )
        s.numbers["loser_cts_by_activity"] = by_act.to_dict()
    worst = losers.head(10)
    rows = [
        [
            str(r.account_id),
            text(r.name),
            text(getattr(r, "size_tier", None)),
            money(r.revenue),
            money(r.contribution_margin),
            money(r.cost_to_serve),
            money(r.net_contribution),
        ]
        for r in worst.itertuples()
    ]
    s.items.append(
        Table(
            [
                "account",
                "name",
                "tier",
                f"revenue ({cur})",
                f"contribution margin ({cur})",
                f"cost to serve ({cur})",
                f"net contribution ({cur})",
            ],
            rows,
            numeric={3, 4, 5, 6},
            caption=f"The {min(len(losers), 10)} largest value destroyers",
            note=f"showing 10 of {num(len(losers))}; all accounts are in the XLSX"
            if len(losers) > 10
            else "",
        )
    )


def profit_section(d: ReportData) -> Section:
    s = Section("profit", "Where the profit comes from")
    df = d.selectable
    if df.empty or "net_contribution" not in df.columns:
        s.notes.append("No accounts with figures in this run: nothing to chart.")
        return s
    _pareto(s, df)
    _whale_part(s, d)
    _losers_part(s, d, df)
    return s

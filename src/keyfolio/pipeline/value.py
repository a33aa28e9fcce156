"""The value stage: customer lifetime value, p_alive, ROCI, headroom and profit potential
per account (:func:`customer_value`), and return on customer since the previous run
(:func:`return_on_customer`).

The models see each account's own orders (a group member is a customer of its own); a
group's row then carries the sum of its family's value (``p_alive``: the highest) and its
ROCI is recomputed with the group's KAM hours. The models themselves are in
:mod:`keyfolio.value`; this module only connects them to the portfolio.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keyfolio.pipeline.facts import Facts, value_lines
from keyfolio.pipeline.sources import Tables
from keyfolio.policy import Policy
from keyfolio.ratios import per
from keyfolio.value.clv import account_value, annuity_factor, roci_of
from keyfolio.value.clv import return_on_customer as roc_of
from keyfolio.value.summary import exact_sums, rfm_summary

DAYS_PER_YEAR = 365.25
_SUM_VALUE = ["clv", "value_generated", "cost_to_serve_pv", "expected_orders",
              "expected_orders_discounted", "headroom", "profit_potential"]  # fmt: skip
_NO_ORDERS = ("clv", "p_alive", "roci", "profit_potential", "headroom")


@dataclass(frozen=True)
class ValueResult:
    """The value columns (aligned with the portfolio) and the fitted models' parameters
    (``value_models.json``)."""

    columns: pd.DataFrame
    models: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReturnOnCustomer:
    """``return_on_customer`` per account (aligned with the portfolio) and the period's
    summary (``return_on_customer.json``)."""

    column: pd.Series
    summary: dict[str, Any]


MIN_SPAN_YEARS = 1 / 12  # a month: a brand-new account's cost is not spread over days


def cost_per_year(
    cost: pd.Series, first_order: pd.Series, cts_since: pd.Series, as_of: dt.date | None
) -> pd.Series:
    """Cost to serve per year of each account over its own span: from its first order (or
    its first dated cost to serve, if earlier) to the data's last date, at least a month.
    An account that cost 600 in its first six months costs 1,200 a year, not 600 spread over
    the data's three years."""
    start = pd.to_datetime(first_order)
    since = pd.to_datetime(cts_since)
    start = start.where(~(since < start), since)
    if as_of is None:
        return cost.astype(float)
    years = (pd.Timestamp(as_of) - start).dt.days / DAYS_PER_YEAR
    return cost.astype(float) / years.fillna(1.0).clip(lower=MIN_SPAN_YEARS)


def rfm_pass(src: Tables, policy: Policy, facts: Facts) -> pd.DataFrame | None:
    """The stage's pass over the order lines: the RFM summary per account, by account_id
    (run while the engine is open after the facts stage). None when there are no orders."""
    if facts.as_of is None:
        return None
    lines = value_lines(src)
    expr = rfm_summary(lines, cutoff=facts.as_of, time_unit_days=policy.value.time_unit_days)
    # the facts stage refuses totals beyond the exact sums; this catches a line or a day
    # beyond them whose account total is not (large amounts that cancel out)
    with exact_sums():
        summary = src.con.to_pyarrow(expr.order_by("account_id")).to_pandas()
    summary["account_id"] = summary["account_id"].astype(str)
    return summary


def customer_value(
    portfolio: pd.DataFrame, rfm: pd.DataFrame | None, policy: Policy, facts: Facts
) -> ValueResult:
    """CLV (BG/NBD + Gamma-Gamma on margin), p_alive, ROCI, headroom and profit potential
    for every row of the portfolio (which has its size tiers); ``rfm`` from :func:`rfm_pass`."""
    if rfm is None:
        cols = pd.DataFrame({c: np.nan for c in _NO_ORDERS}, index=portfolio.index)
        cols["clv_method"] = "no orders"
        return ValueResult(cols, {})
    v = policy.value
    own = pd.DataFrame(
        {
            "account_id": portfolio["account_id"].astype(str),
            # members and group heads' own entities carry no KAM hours: the group does
            "size_tier": np.where(
                portfolio["is_group"] | portfolio["in_group"], "member", portfolio["size_tier"]
            ),
            "cost_to_serve_per_year": cost_per_year(
                portfolio["own_cost_to_serve"],
                portfolio["own_first_order"],
                portfolio["own_cts_since"],
                facts.as_of,
            ),  # fmt: skip
            "cm_pct": per(portfolio["own_contribution_margin"], portfolio["own_revenue"]),
            "revenue": portfolio["own_revenue_ttm"].astype(float),
            "wallet_total_spend": portfolio["own_wallet_total_spend"].astype(float),
        }
    )
    hours: dict[str, float] = {str(k): float(h) for k, h in policy.selection.hours.items()}
    hours["member"] = 0.0
    result = account_value(
        rfm, own, horizon_years=policy.horizon_years, discount_rate=policy.discount_rate,
        time_unit_days=v.time_unit_days, kam_hour_cost=v.kam_hour_cost, tier_hours=hours,
        min_repeat_customers=v.min_repeat_customers,
    )  # fmt: skip
    models = dict(result.models)
    warnings = []
    if own["wallet_total_spend"].isna().all():
        warnings.append(
            "no wallet data (table `wallet`): profit_potential is the CLV alone, without the "
            "margin on the customer's spend we do not have yet"
        )
    if models.get("reason"):
        warnings.append(f"CLV: {models['reason']}; accounts valued with the retention fallback")
    if models.get("bgnbd_note"):
        warnings.append(f"CLV: BG/NBD: {models['bgnbd_note']}")
    value = result.frame.drop(columns=["account_id"]).set_index(portfolio.index)
    return ValueResult(_roll_up(portfolio, value, policy, hours), models, warnings)


def _roll_up(
    portfolio: pd.DataFrame, value: pd.DataFrame, policy: Policy, hours: dict[str, float]
) -> pd.DataFrame:
    """A group's row: the sum of its family's value, the highest p_alive, and ROCI with the
    group's own KAM hours."""
    heads = portfolio["is_group"].astype(bool)
    if not heads.any():
        return value
    fam = portfolio["group_id"].fillna(portfolio["account_id"]).astype(str)
    sums = value[_SUM_VALUE].groupby(fam.to_numpy()).sum(min_count=1)
    alive = value["p_alive"].groupby(fam.to_numpy()).max()
    ids = portfolio.loc[heads, "account_id"].astype(str)
    for col in _SUM_VALUE:
        value.loc[heads, col] = ids.map(sums[col]).to_numpy()
    value.loc[heads, "p_alive"] = ids.map(alive).to_numpy()
    tier_hours = portfolio.loc[heads, "size_tier"].astype(str).map(hours).to_numpy(float)
    annuity = annuity_factor(policy.horizon_years, policy.discount_rate)
    kam = tier_hours * policy.value.kam_hour_cost * annuity
    invest = kam + value.loc[heads, "cost_to_serve_pv"].to_numpy(float)
    value.loc[heads, "kam_investment_pv"] = kam
    value.loc[heads, "investment"] = invest
    value.loc[heads, "roci"] = roci_of(value.loc[heads, "value_generated"].to_numpy(float), invest)
    value.loc[heads, "clv_method"] = "group sum"
    return value


def return_on_customer(
    portfolio: pd.DataFrame,
    previous: pd.DataFrame | None,
    previous_run_id: str | None,
    facts: Facts,
) -> ReturnOnCustomer | None:
    """Return on customer (Peppers & Rogers) against the previous run, when there is one.

    ROC = (cash flow in the period + change in customer equity) / equity at the start, with
    customer equity = CLV. The period runs from the previous run's last order date to this
    one's; its cash flow is the contribution margin made in it minus the cost-to-serve
    pro-rated to its length. With the same data in both runs the period is empty and ROC is
    the change in the estimate alone. ``previous``: the previous run's account_id, clv and
    selectable (None, or without clv: no ROC).
    """
    if previous is None or previous_run_id is None or "clv" not in previous.columns:
        return None
    sel = portfolio["selectable"].astype(bool)
    read = ["account_id", "clv", "cost_to_serve", "first_order", "cts_since", "margin_since"]
    cur = portfolio.loc[sel, [c for c in read if c in portfolio.columns]]  # not ~100 columns
    period_years = 0.0
    margin = pd.Series(0.0, index=cur.index)
    if facts.since is not None and facts.as_of is not None and "margin_since" in cur.columns:
        period_years = (facts.as_of - facts.since).days / DAYS_PER_YEAR
        margin = cur["margin_since"].astype(float).fillna(0.0)
    yearly = cost_per_year(cur["cost_to_serve"], cur["first_order"], cur["cts_since"], facts.as_of)
    cash = margin - yearly * period_years
    ids = cur["account_id"].astype(str)
    was = previous.get("selectable", pd.Series(True, index=previous.index)).astype(bool)
    prev_sel = previous[was]
    result = roc_of(
        pd.DataFrame({"account_id": prev_sel["account_id"].astype(str), "clv": prev_sel["clv"]}),
        pd.DataFrame({"account_id": ids, "clv": cur["clv"].astype(float)}),
        pd.DataFrame({"account_id": ids, "net_contribution": cash}),
    )
    roc = result.per_account.set_index("account_id")["roc"]
    column = portfolio["account_id"].astype(str).map(roc)
    summary = {
        "previous_run": previous_run_id,
        "period": [_iso(facts.since), _iso(facts.as_of)],
        "period_years": period_years,
        "portfolio_roc": result.portfolio,
    }
    return ReturnOnCustomer(column, summary)


def _iso(d: dt.date | None) -> str | None:
    return str(d) if d else None

"""The value stage inside the pipeline: CLV per account and group, return on customer."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from keyfolio.pipeline import RunOptions, run
from keyfolio.policy import load_policy
from keyfolio.sample import generate_workspace
from keyfolio.workspace import Workspace


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("value") / "ws"
    generate_workspace(root, accounts=300, lines=30_000)
    ws = Workspace.open(root)
    full = pq.read_table(ws.table_path("order_lines"))
    cutoff = dt.date(2026, 3, 31)
    early = full.filter(pc.less_equal(full["order_date"], cutoff))
    ws.write_tables({"order_lines": early})
    first = run(ws, RunOptions(robustness_draws=20))
    ws.write_tables({"order_lines": full})
    second = run(ws, RunOptions(robustness_draws=20))
    return ws, first, second, cutoff


def test_value_columns_are_filled(two_runs) -> None:  # type: ignore[no-untyped-def]
    ws, _, second, _ = two_runs
    p = second.portfolio
    buyers = p["has_orders"].astype(bool)
    for col in ("clv", "p_alive", "roci"):
        assert np.isfinite(p.loc[buyers, col].astype(float)).all(), col
    assert set(p["clv_method"].dropna()) <= {
        "bgnbd_gg", "bgnbd_observed_margin", "retention", "group sum",
    }  # fmt: skip
    # a group's value is its family's
    heads = p[p["is_group"].astype(bool)]
    assert len(heads)
    head = heads.iloc[0]
    family = p[(p["group_id"] == head["account_id"]) | (p["account_id"] == head["account_id"])]
    assert head["clv_method"] == "group sum"
    # the group's KAM investment: its tier's hours at the hourly cost, paid monthly over the
    # horizon and discounted yearly (written out here, not taken from the code)
    policy = load_policy(ws.policy_path)
    hours = policy.selection.hours[head["size_tier"]]
    months = np.arange(1, round(12 * policy.horizon_years) + 1)
    monthly = (1 + policy.discount_rate) ** (-months / 12) / 12
    expected = hours * policy.value.kam_hour_cost * monthly.sum()
    assert head["kam_investment_pv"] == pytest.approx(expected, rel=1e-12)
    # and the same for a stand-alone account of the same tier
    alone = p[~p["is_group"] & ~p["in_group"] & (p["size_tier"] == head["size_tier"])]
    assert alone["kam_investment_pv"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert head["p_alive"] == pytest.approx(family["p_alive"].max())


def test_return_on_customer_between_runs(two_runs) -> None:  # type: ignore[no-untyped-def]
    ws, first, second, cutoff = two_runs
    roc = json.loads((second.run_dir / "return_on_customer.json").read_text())
    assert roc["previous_run"] == first.run_id
    assert roc["period"] == [str(cutoff), "2026-09-30"]
    assert roc["period_years"] == pytest.approx(183 / 365.25)
    a = first.portfolio.set_index("account_id")
    b = second.portfolio.set_index("account_id")
    acc = b.index[(b["selectable"]) & (b["clv"] > 0) & (b["margin_since"].fillna(0) > 0)][0]
    # the account's cost to serve per year over its own span (first order or first dated
    # cost to serve, to the data's end)
    start = min(b.loc[acc, "first_order"], b.loc[acc, "cts_since"]).date()
    years = max(1 / 12, (dt.date(2026, 9, 30) - start).days / 365.25)
    cash = b.loc[acc, "margin_since"] - b.loc[acc, "cost_to_serve"] / years * roc["period_years"]
    expected = (cash + b.loc[acc, "clv"] - a.loc[acc, "clv"]) / a.loc[acc, "clv"]
    assert b.loc[acc, "return_on_customer"] == pytest.approx(expected)


def test_cost_to_serve_per_year_over_the_accounts_own_span() -> None:
    """600 of cost to serve in an account's first six months is 1,200 a year; over three
    years it is 200; a dated cost before the first order starts the span; a new account's
    span is at least a month."""
    import pandas as pd

    from keyfolio.pipeline.value import cost_per_year

    as_of = dt.date(2026, 6, 30)
    first = pd.Series(pd.to_datetime(["2025-12-30", "2023-06-30", "2025-06-30", "2026-06-25"]))
    since = pd.Series(pd.to_datetime([None, None, "2024-06-30", None]))
    cost = pd.Series([600.0, 600.0, 600.0, 10.0])
    got = cost_per_year(cost, first, since, as_of).to_numpy()
    assert got[0] == pytest.approx(600 / (182 / 365.25))
    assert got[1] == pytest.approx(600 / (1096 / 365.25))
    assert got[2] == pytest.approx(600 / (730 / 365.25))  # from the first dated cost
    assert got[3] == pytest.approx(10 * 12)  # a month at least

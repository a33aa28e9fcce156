"""RFM summary (Ibis/DuckDB), account value (CLV, ROCI, potential), return on customer."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from keyfolio.errors import ModelError
from keyfolio.value import (
    account_value,
    backtest,
    fit_value_models,
    return_on_customer,
    rfm_summary,
    simulate_customers,
)

ibis = pytest.importorskip("ibis")

WEEK = 7.0
YEAR = 365.25 / WEEK  # one year in weeks


def _lines(rows):
    ids, dates, rev, mar = zip(*rows, strict=True)
    table = pa.table(
        {
            "account_id": list(ids),
            "order_date": [dt.date.fromisoformat(d) for d in dates],
            "revenue": list(rev),
            "margin": list(mar),
        }
    )
    return ibis.duckdb.connect().create_table("lines", table)


LINES = [
    ("001", "2024-01-01", 10.0, 2.0),
    ("001", "2024-01-01", 5.0, 1.0),
    ("001", "2024-01-15", 20.0, 4.0),
    ("001", "2024-02-12", 30.0, -3.0),
    ("001", "2024-06-01", 100.0, 10.0),  # after the cutoff
    ("002", "2024-01-29", 7.0, 1.0),
    ("003", "2023-06-01", 50.0, 5.0),  # before start
    ("003", "2024-02-01", 40.0, 8.0),
]


def _summary(**kw):
    expr = rfm_summary(_lines(LINES), time_unit_days=WEEK, **kw)
    return expr.to_pyarrow().to_pandas().set_index("account_id").sort_index()


# ---------------------------------------------------------------- summary
def test_rfm_summary_with_start_and_cutoff():
    s = _summary(cutoff="2024-03-01", start=dt.date(2024, 1, 1))
    assert list(s.index) == ["001", "002", "003"]  # leading zeros kept
    a = s.loc["001"]
    assert (a.frequency, a.n_days) == (2, 3)
    assert a.recency == pytest.approx(42 / 7) and a["T"] == pytest.approx(60 / 7)
    assert a.monetary_revenue == pytest.approx(25.0)  # (20 + 30) / 2, first day excluded
    assert a.monetary_margin == pytest.approx(0.5)  # (4 - 3) / 2
    b = s.loc["002"]
    assert (b.frequency, b.recency, b.monetary_revenue, b.n_days) == (0, 0.0, 0.0, 1)
    assert b["T"] == pytest.approx(32 / 7)
    c = s.loc["003"]
    assert (c.frequency, c["T"]) == (0, pytest.approx(29 / 7))


def test_rfm_summary_without_start():
    c = _summary(cutoff=dt.date(2024, 3, 1)).loc["003"]
    assert c.frequency == 1 and c.recency == pytest.approx(245 / 7)
    assert c.monetary_revenue == pytest.approx(40.0) and c.monetary_margin == pytest.approx(8.0)


def test_rfm_summary_bad_input():
    t = ibis.memtable({"account_id": ["a"], "order_date": [dt.date(2024, 1, 1)]})
    with pytest.raises(ModelError, match="missing column 'revenue'"):
        rfm_summary(t, cutoff="2024-03-01")
    with pytest.raises(ModelError, match="cutoff: expected a date"):
        rfm_summary(_lines(LINES), cutoff="March")
    with pytest.raises(ModelError, match="start: expected a date <= cutoff"):
        rfm_summary(_lines(LINES), cutoff="2024-03-01", start="2024-04-01")


# ------------------------------------------------------- tiny portfolio by hand
def _tiny():
    def row(acc, t_years, since_years, n_days, mm):
        return {
            "account_id": acc,
            "frequency": n_days - 1,
            "recency": (t_years - since_years) * YEAR,
            "T": t_years * YEAR,
            "monetary_revenue": 0.0,
            "monetary_margin": mm,
            "n_days": n_days,
        }

    summary = pd.DataFrame(
        [row("A", 2.0, 0.5, 4, 40.0), row("B", 3.0, 2.0, 2, 10.0), row("C", 0.5, 0.5, 1, 0.0)]
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["A", "B", "C", "D"],
            "size_tier": ["large", "small", "small", "large"],
            "cost_to_serve_per_year": [50.0, 20.0, 10.0, 0.0],
            "cm_pct": [0.3, 0.5, 0.4, np.nan],
            "revenue": [1000.0, 0.0, 200.0, 0.0],
            "wallet_total_spend": [3000.0, np.nan, 100.0, 500.0],
        }
    )
    return summary, accounts


KW = dict(
    horizon_years=2.0,
    discount_rate=0.10,
    time_unit_days=WEEK,
    kam_hour_cost=100.0,
    tier_hours={"large": 10.0, "small": 2.0},
    min_repeat_customers=30,
    steps_per_year=1,
)


def test_tiny_portfolio_matches_hand_computation():
    summary, accounts = _tiny()
    result = account_value(summary, accounts, **KW)
    out = result.frame.set_index("account_id")
    # retention: A and B first seen >= 1 year ago; A ordered within the year, B not
    rho = (1 + 1) / (2 + 2)
    assert result.models["retention"] == pytest.approx(rho)
    assert result.models["reason"] == "fewer than 30 repeat customers (found 2)"
    d = np.array([1 / 1.1, 1 / 1.21])
    keep = np.array([rho, rho**2])
    kam_large = 10 * 100 * d.sum()

    a = out.loc["A"]
    pa_ = rho**0.5
    assert a.p_alive == pytest.approx(pa_)
    assert a.expected_orders == pytest.approx(2.0 * pa_ * keep.sum())  # 4 days / 2 years
    assert a.margin_per_order == pytest.approx(300.0 / 2.0)
    value = 300.0 * pa_ * (keep * d).sum()
    cts = 50.0 * pa_ * (keep * d).sum()
    assert a.value_generated == pytest.approx(value)
    assert a.cost_to_serve_pv == pytest.approx(cts)
    assert a.clv == pytest.approx(value - cts)
    assert a.kam_investment_pv == pytest.approx(kam_large)
    assert a.roci == pytest.approx((value - (kam_large + cts)) / (kam_large + cts))
    # profit potential: the CLV plus the margin on the wallet we do not have (2000 x 30%)
    assert (a.headroom, a.wallet_flag) == (2000.0, "")
    assert a.profit_potential == pytest.approx(value - cts + 600.0)
    assert a.clv_method == "retention"

    b = out.loc["B"]
    assert b.p_alive == pytest.approx(rho**2)
    assert b.value_generated == 0.0  # no revenue last year
    assert b.cost_to_serve_pv == pytest.approx(20.0 * rho**2 * (keep * d).sum())
    assert (b.cm_pct_used, b.cm_pct_source) == (0.4, "tier median")  # revenue <= 0
    assert np.isnan(b.headroom)  # no wallet: the potential is the CLV alone, never missing
    assert b.profit_potential == pytest.approx(b.clv)
    assert b.wallet_flag == "no wallet data"

    c = out.loc["C"]
    assert c.clv_reason == "frequency 0 (one order day)"
    assert c.value_generated == pytest.approx(80.0 * rho**0.5 * (keep * d).sum())
    assert c.headroom == 0.0 and c.profit_potential == pytest.approx(c.clv)  # wallet < revenue

    dd = out.loc["D"]
    assert (dd.clv_reason, dd.p_alive, dd.clv, dd.expected_orders) == ("no orders", 0, 0, 0)
    assert dd.roci == pytest.approx(-1.0)
    assert (dd.cm_pct_used, dd.cm_pct_source) == (0.3, "tier median")
    assert dd.profit_potential == pytest.approx(0 + 500 * 0.3)

    cols = ["clv", "p_alive", "expected_orders", "value_generated", "roci"]
    assert not out[cols].isna().any().any()


def test_fixed_retention_and_errors():
    summary, accounts = _tiny()
    out = account_value(summary, accounts, **{**KW, "discount_rate": 0.0}, fallback_retention=1.0)
    a = out.frame.set_index("account_id").loc["A"]
    assert a.p_alive == 1.0 and a.expected_orders == pytest.approx(4.0)  # 2/yr for 2 years
    assert a.value_generated == pytest.approx(600.0)
    with pytest.raises(ModelError, match="tier_hours: expected hours for every size_tier"):
        account_value(summary, accounts, **{**KW, "tier_hours": {"large": 1.0}})
    with pytest.raises(ModelError, match="missing wallet_total_spend"):
        account_value(summary, accounts.drop(columns="wallet_total_spend"), **KW)
    with pytest.raises(ModelError, match="one row per account_id"):
        account_value(pd.concat([summary, summary]), accounts, **KW)


# ------------------------------------------------------------------ model path
@pytest.fixture(scope="module")
def portfolio():
    n = 3000
    sim = simulate_customers(
        n,
        bgnbd={"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 3.0},
        gamma_gamma={"p": 5.0, "q": 4.0, "v": 200.0},
        T=np.random.default_rng(3).uniform(52, 260, n),
        seed=4,
    )
    ids = [f"K{i:05d}" for i in range(n)]
    summary = pd.DataFrame(
        {
            "account_id": ids,
            "frequency": sim.frequency,
            "recency": sim.recency,
            "T": sim.T,
            "monetary_revenue": sim.monetary_value * 4,
            "monetary_margin": sim.monetary_value,
            "n_days": sim.frequency + 1,
        }
    )
    rep = np.flatnonzero(sim.frequency > 0)
    summary.loc[rep[0], "monetary_margin"] = -25.0  # a loss-making repeat account
    rng = np.random.default_rng(9)
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "size_tier": rng.choice(["small", "medium", "large"], n),
            "cost_to_serve_per_year": rng.uniform(0, 500, n),
            "cm_pct": rng.uniform(-0.2, 0.6, n),
            "revenue": rng.uniform(-10, 5000, n),
            "wallet_total_spend": np.where(rng.random(n) < 0.3, np.nan, 8000.0),
        }
    )
    return summary, accounts


def test_model_path_is_consistent(portfolio):
    summary, accounts = portfolio
    tiers = {"small": 5.0, "medium": 20.0, "large": 60.0}
    kw = dict(time_unit_days=WEEK, kam_hour_cost=90.0, tier_hours=tiers, min_repeat_customers=30)
    result = account_value(summary, accounts, horizon_years=3, discount_rate=0.1, **kw)
    out = result.frame
    x = summary["frequency"].to_numpy()
    methods = out["clv_method"].to_numpy()
    assert set(methods[x > 0]) == {"bgnbd_gg", "bgnbd_observed_margin"}
    assert (methods[x == 0] == "retention").all()
    assert (methods == "bgnbd_observed_margin").sum() == 1
    for col in ("clv", "p_alive", "expected_orders", "value_generated", "investment"):
        assert np.isfinite(out[col]).all(), col
    np.testing.assert_allclose(out.clv, out.value_generated - out.cost_to_serve_pv)
    np.testing.assert_allclose(
        out.roci, (out.value_generated - out.investment) / out.investment, rtol=1e-12
    )
    # expected orders of model accounts = BG/NBD conditional expectation over 3 years
    models = fit_value_models(summary, min_repeat_customers=30)
    assert result.models["bgnbd"] == models.bgnbd.params_
    rep = x > 0
    s = summary[rep]
    ref = models.bgnbd.expected_purchases(3 * YEAR, s.frequency, s.recency, s["T"])
    np.testing.assert_allclose(out.expected_orders[rep], ref, rtol=1e-10)
    assert (out.expected_orders_discounted[rep] < out.expected_orders[rep]).all()
    # undiscounted, the step sum telescopes to the horizon expectation
    out0 = account_value(summary, accounts, horizon_years=3, discount_rate=0.0, **kw).frame
    np.testing.assert_allclose(out0.expected_orders_discounted[rep], ref, rtol=1e-10)
    # probabilities stay probabilities
    assert out.p_alive[rep].between(0, 1).all()
    np.testing.assert_allclose(
        out.p_alive[rep], models.bgnbd.p_alive(s.frequency, s.recency, s["T"]), rtol=1e-12
    )
    # cost to serve: yearly cost x Δy x Σ_k P(active at step end) δ_k (36 monthly steps)
    years = np.arange(1, 37) / 12
    surv = sum(
        models.bgnbd.survival(y * YEAR, s.frequency, s.recency, s["T"]) * 1.1**-y for y in years
    )
    cost = accounts["cost_to_serve_per_year"].to_numpy()[rep]
    np.testing.assert_allclose(out.cost_to_serve_pv[rep], cost * surv / 12, rtol=1e-10)
    assert (out.cost_to_serve_pv <= accounts["cost_to_serve_per_year"] * 3 + 1e-9).all()
    tier_hours = accounts["size_tier"].map(tiers).to_numpy()
    np.testing.assert_allclose(
        out.kam_investment_pv, tier_hours * 90.0 * (1.1**-years).sum() / 12, rtol=1e-12
    )


def test_too_few_repeat_customers_falls_back_never_nan(portfolio):
    summary, accounts = portfolio
    small = summary.head(40).copy()
    small.loc[:, "frequency"] = 0
    small.loc[:5, "frequency"] = 2
    small["n_days"] = small["frequency"] + 1
    kw = dict(time_unit_days=WEEK, kam_hour_cost=90.0, min_repeat_customers=30)
    tiers = {"small": 5.0, "medium": 20.0, "large": 60.0}
    out = account_value(
        small, accounts.head(40), horizon_years=3, discount_rate=0.1, tier_hours=tiers, **kw
    ).frame
    assert (out.clv_method == "retention").all()
    reasons = out.clv_reason.to_numpy()
    assert (reasons[:6] == "fewer than 30 repeat customers (found 6)").all()
    assert (reasons[6:] == "frequency 0 (one order day)").all()
    assert np.isfinite(out[["clv", "p_alive", "expected_orders"]].to_numpy()).all()


# ------------------------------------------------------------ return on customer
def test_return_on_customer_by_hand():
    prev = pd.DataFrame({"account_id": ["A", "B", "C"], "clv": [100.0, 50.0, 0.0]})
    curr = pd.DataFrame({"account_id": ["A", "B", "D"], "clv": [120.0, 30.0, 10.0]})
    cash = pd.DataFrame({"account_id": ["A", "B", "D"], "net_contribution": [15.0, 5.0, 2.0]})
    res = return_on_customer(prev, curr, cash)
    roc = res.per_account.set_index("account_id")["roc"]
    assert roc["A"] == pytest.approx((15 + 20) / 100)
    assert roc["B"] == pytest.approx((5 - 20) / 50)
    assert np.isnan(roc["C"]) and np.isnan(roc["D"])
    assert res.portfolio == pytest.approx((22 + (160 - 150)) / 150)


# ------------------------------------------------------------------- backtest
def test_backtest_needs_enough_repeat_customers():
    with pytest.raises(ModelError, match="cannot fit BG/NBD: fewer than 30"):
        backtest(_lines(LINES), holdout_months=2)
    with pytest.raises(ModelError, match="holdout_months"):
        backtest(_lines(LINES), holdout_months=0)


# ------------------------------------------------- regression: the bundled B2B demo
@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from keyfolio import pipeline
    from keyfolio.sample import generate_workspace
    from keyfolio.workspace import Workspace

    root = tmp_path_factory.mktemp("demo") / "ws"
    generate_workspace(root, accounts=2000, lines=200_000)
    return Workspace.open(root), pipeline.run(Workspace.open(root))


def test_demo_value_stage_is_finite(demo_run):
    # B2B accounts order often: the BG/NBD fit gives a, b ~ 1e8..1e11 (p ~ 0.002 per order)
    _, result = demo_run
    p = result.portfolio
    modelled = p["clv_method"] == "bgnbd_gg"
    assert modelled.sum() > 1500
    assert np.all(np.isfinite(p["clv"])) and np.all(np.isfinite(p["p_alive"]))
    assert p["p_alive"].between(0, 1).all()
    bg = result.value.models["bgnbd"]
    assert all(np.isfinite(v) for v in bg.values()) and bg["a"] > 1e3  # the hard regime


def test_demo_backtest_runs(demo_run):
    from keyfolio.analysis.clv_check import clv_check

    ws, _ = demo_run
    r = clv_check(ws, holdout_months=6)
    assert np.all(np.isfinite(r.accounts["predicted_orders"]))
    assert r.calibration["accounts"].sum() == r.n_accounts == len(r.accounts)
    assert abs(r.predicted_orders / r.actual_orders - 1) < 0.3

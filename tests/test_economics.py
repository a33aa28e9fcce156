"""Hand-computed economics on a tiny workspace (see the numbers in the comments)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from keyfolio.pipeline import run
from keyfolio.pipeline.economics import _cagr
from keyfolio.pipeline.segments import size_tiers
from keyfolio.policy import SizePolicy
from keyfolio.schema import TABLES
from keyfolio.workspace import init_workspace

D = dt.date


def _table(name: str, data: dict[str, list[object]]) -> pa.Table:
    schema = TABLES[name].arrow_schema(list(data))
    return pa.table({k: pa.array(v, schema.field(k).type) for k, v in data.items()})


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    ws = init_workspace(tmp_path / "ws")
    ws.write_tables(
        {
            "accounts": _table(
                "accounts",
                {
                    "account_id": ["A", "B", "C", "D"],
                    "name": ["Alpha HQ", "Alpha France", "Gamma", "Delta"],
                    "parent_id": [None, "A", None, None],
                    "country": ["DE", "FR", "DE", "IT"],
                },
            ),
            "products": _table("products", {"product_id": ["P1", "P2"], "unit_cost": [6.0, 2.0]}),
            "orders": _table(
                "orders",
                {
                    "order_id": ["O1", "O2", "O3", "O4", "O5"],
                    "account_id": ["A", "A", "B", "C", "C"],
                    "order_date": [
                        D(2023, 1, 10),
                        D(2024, 2, 1),
                        D(2024, 6, 1),
                        D(2023, 3, 1),
                        D(2024, 3, 1),
                    ],  # fmt: skip
                    "freight": [10.0, 5.0, 0.0, 2.0, None],
                },
            ),
            "order_lines": _table(
                "order_lines",
                {
                    "order_id": ["O1", "O2", "O2", "O3", "O4", "O5"],
                    "product_id": ["P1", "P1", "P2", "P2", "P1", "P2"],
                    "quantity": [10.0, 10.0, -1.0, 20.0, 5.0, 10.0],
                    "unit_price": [10.0, 10.0, 5.0, 5.0, 12.0, None],
                    "discount": [0.0, 0.1, 0.0, None, 0.0, None],
                    "net_revenue": [None, None, None, None, None, 200.0],
                    "unit_cost": [None, None, None, 3.0, None, None],
                },
            ),
            "costs": _table(
                "costs",
                {
                    "account_id": ["A", "C"],
                    "activity": ["custom_packaging", "quality_call"],
                    "amount": [None, 500.0],
                    "quantity": [2.0, None],
                },
            ),
            "wallet": _table("wallet", {"account_id": ["A", "C"], "total_spend": [1000.0, 400.0]}),
        }
    )
    return ws.root


def _row(df: pd.DataFrame, account: str) -> pd.Series:
    return df.set_index("account_id").loc[account]


def test_hand_computed_economics(tiny: Path) -> None:
    from keyfolio.workspace import Workspace

    result = run(Workspace.open(tiny))
    p = result.portfolio
    assert len(p) == 4  # D has no orders but stays in the portfolio
    # B on its own: 20 x 5 = 100 revenue, line unit cost 3 overrides the product's 2
    b = _row(p, "B")
    assert b.revenue == pytest.approx(100.0)
    assert b.cogs == pytest.approx(60.0)
    assert not bool(b.selectable) and b.group_id == "A"
    # C: 5 x 12 + net_revenue 200 = 260; cost 5 x 6 + 10 x 2 = 50; quality call 500 + freight 2
    c = _row(p, "C")
    assert (c.revenue, c.cogs, c.contribution_margin) == pytest.approx((260.0, 50.0, 210.0))
    assert c.cost_to_serve == pytest.approx(502.0)
    assert c.net_contribution == pytest.approx(-292.0)
    # the data begin 2023-01-10, inside the window before (2022-06-02 .. 2023-06-01): no
    # account's history covers it, so growth is unknown (C alone would show +233%)
    assert math.isnan(c.revenue_growth) and bool(c.is_new)
    assert c.share_of_wallet == pytest.approx(0.5)
    # group A = A (100 + 90 - 5 = 185, cost 60 + 60 - 2) + B; cts = freight 15 + 2 x 12.5
    a = _row(p, "A")
    assert bool(a.is_group) and a.group_members == 1 and a.countries == 2
    assert (a.revenue, a.cogs, a.contribution_margin) == pytest.approx((285.0, 178.0, 107.0))
    assert a.cost_to_serve == pytest.approx(40.0)
    assert a.cts_custom_packaging == pytest.approx(25.0)
    assert a.net_contribution == pytest.approx(67.0)
    assert a.cm_pct == pytest.approx(107.0 / 285.0)
    assert a.returns == pytest.approx(5.0)
    assert math.isnan(a.revenue_growth) and a.revenue_ttm == pytest.approx(185.0)
    assert a.share_of_wallet == pytest.approx(185.0 / 1000.0)
    d = _row(p, "D")
    assert d.revenue == 0 and not bool(d.has_orders) and math.isnan(d.revenue_growth)
    # Pareto on revenue over the selectable rows A (285), C (260), D (0)
    assert a.pareto_rank_revenue == 1 and c.pareto_rank_revenue == 2
    assert a.cum_share_revenue == pytest.approx(285 / 545)
    # whale curve: A 67, D 0, C -292
    assert [a.whale_cum_net, d.whale_cum_net, c.whale_cum_net] == pytest.approx([67, 67, -225])
    # size on contribution margin (C 210, A 107 of 317): both in the first 80%
    assert (a.size_tier, c.size_tier, d.size_tier, b.size_tier) == (
        "large",
        "large",
        "small",
        "large",
    )
    # run folder
    assert (result.run_dir / "portfolio.parquet").is_file()
    assert result.meta["inputs"]["order_lines"]["rows"] == 6


def test_pareto_and_threshold_tiers() -> None:
    basis = pd.Series([50.0, 30.0, 10.0, 6.0, 4.0, 0.0, -5.0])
    tiers = size_tiers(basis, SizePolicy(method="pareto", cuts=(0.8, 0.95)))
    # cumulative before each: 0, .5, .8, .9, .96 -> large, large, medium, medium, small
    assert tiers.tolist() == ["large", "large", "medium", "medium", "small", "small", "small"]
    tiers = size_tiers(basis, SizePolicy(method="thresholds", thresholds=(10, 40)))
    assert tiers.tolist() == ["large", "medium", "medium", "small", "small", "small", "small"]


def test_cagr_from_yearly_windows() -> None:
    df = pd.DataFrame(
        {
            "revenue_w0": [121.0, 50.0, 10.0],
            "revenue_w1": [110.0, 0.0, 0.0],
            "revenue_w2": [100.0, 0.0, 20.0],
        }  # fmt: skip
    )
    facts = SimpleNamespace(as_of=D(2024, 6, 1), first=D(2021, 1, 1))
    old = pd.Series(pd.to_datetime(["2021-01-01"] * 3))
    cagr = _cagr(df, old, facts)  # type: ignore[arg-type]
    assert cagr[0] == pytest.approx(0.10)
    assert np.isnan(cagr[1])  # no earlier window with revenue
    assert cagr[2] == pytest.approx((10 / 20) ** 0.5 - 1)
    # a history that starts inside the oldest window: that window does not count
    young = pd.Series(pd.to_datetime(["2022-01-01"] * 3))
    cagr = _cagr(df, young, facts)  # type: ignore[arg-type]
    assert cagr[0] == pytest.approx(121 / 110 - 1)
    assert np.isnan(cagr[2])


def _growth_ws(tmp_path: Path, window_months: int = 12) -> Path:
    """Five accounts over 2021-06 .. 2024-06 (as of 2024-06-01):

    OLD: 100 a year since 2021, then 150 in the last twelve months;
    NEW: first order a month before the last twelve months (60), then 200 in them;
    DEAD: bought in 2021 only; REVIVED: 2021, nothing in the window before, 80 now;
    SINCE: first order in the window before, but a customer since 2020 (customer_since).
    """
    ws = init_workspace(tmp_path / "g")
    pol = ws.policy_path.read_text()
    ws.policy_path.write_text(pol.replace("window_months = 12", f"window_months = {window_months}"))
    rows = [
        ("OLD", D(2021, 6, 1), 100.0), ("OLD", D(2022, 6, 1), 100.0),
        ("OLD", D(2023, 6, 1), 100.0), ("OLD", D(2024, 6, 1), 150.0),
        ("NEW", D(2023, 5, 1), 60.0), ("NEW", D(2024, 3, 1), 200.0),
        ("DEAD", D(2021, 7, 1), 90.0),
        ("REVIVED", D(2021, 7, 1), 50.0), ("REVIVED", D(2024, 1, 1), 80.0),
        ("SINCE", D(2023, 1, 1), 40.0), ("SINCE", D(2024, 1, 1), 60.0),
    ]  # fmt: skip
    ws.write_tables(
        {
            "accounts": _table(
                "accounts",
                {
                    "account_id": ["OLD", "NEW", "DEAD", "REVIVED", "SINCE"],
                    "customer_since": [None, None, None, None, D(2020, 1, 1)],
                },
            ),  # fmt: skip
            "order_lines": _table(
                "order_lines",
                {
                    "account_id": [r[0] for r in rows],
                    "order_date": [r[1] for r in rows],
                    "quantity": [1.0] * len(rows),
                    "net_revenue": [r[2] for r in rows],
                },
            ),  # fmt: skip
        }
    )
    return ws.root


def test_growth_is_defined_only_where_the_history_covers_the_base(tmp_path: Path) -> None:
    from keyfolio.workspace import Workspace

    p = run(Workspace.open(_growth_ws(tmp_path))).portfolio.set_index("account_id")
    assert p.at["OLD", "revenue_growth"] == pytest.approx(150.0 / 100.0 - 1)
    assert not p.at["OLD", "is_new"]
    # OLD's yearly windows: 150 now, 100, 100 (2021-06-02 .. 2022-06-01 holds 2022-06-01)
    assert p.at["OLD", "revenue_cagr"] == pytest.approx((150.0 / 100.0) ** 0.5 - 1)
    assert math.isnan(p.at["NEW", "revenue_growth"]) and p.at["NEW", "is_new"]  # not +233%
    assert math.isnan(p.at["NEW", "revenue_cagr"])
    assert p.at["DEAD", "revenue_growth"] == -1.0  # nothing in either window: -100%
    # its one year of orders (from 2021-07-01) is not a whole covered year: no CAGR base
    assert math.isnan(p.at["DEAD", "revenue_cagr"])
    assert math.isnan(p.at["REVIVED", "revenue_growth"]) and not p.at["REVIVED", "is_new"]
    # SINCE's first order is inside the window before, but it has been a customer since 2020
    assert p.at["SINCE", "revenue_growth"] == pytest.approx(60.0 / 40.0 - 1)


def test_trailing_twelve_months_whatever_the_growth_window(tmp_path: Path) -> None:
    from keyfolio.workspace import Workspace

    p = run(Workspace.open(_growth_ws(tmp_path, window_months=6))).portfolio
    p = p.set_index("account_id")
    assert p.at["OLD", "revenue_ttm"] == pytest.approx(150.0)  # twelve months, not six
    assert p.at["NEW", "revenue_ttm"] == pytest.approx(200.0)
    assert p.at["REVIVED", "revenue_ttm"] == pytest.approx(80.0)
    # growth over six-month windows: OLD 150 (2024-06-01) against 0 in 2023-06-02 .. 2023-12-01
    assert p.at["NEW", "revenue_window"] == pytest.approx(200.0)

"""Hand-computed economics on a tiny workspace (see the numbers in the comments)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

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
    assert c.revenue_growth == pytest.approx(200.0 / 60.0 - 1)
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
    # trailing 12 months to 2024-06-01: 85 + 100; the 12 before: 100
    assert a.revenue_growth == pytest.approx(185.0 / 100.0 - 1)
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
    cagr = _cagr(df)
    assert cagr[0] == pytest.approx(0.10)
    assert np.isnan(cagr[1])  # no earlier window with revenue
    assert cagr[2] == pytest.approx((10 / 20) ** 0.5 - 1)

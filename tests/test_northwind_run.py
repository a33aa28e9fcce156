"""Northwind end to end: import with the example mapping, run, check the published totals."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyfolio.ingest import import_mapping
from keyfolio.pipeline import run
from keyfolio.workspace import init_workspace

REPO = Path(__file__).resolve().parents[1]


def test_northwind_economics(shared_data: Path, tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "nw")
    import_mapping(ws, REPO / "examples" / "northwind" / "mapping.toml")
    result = run(ws)
    p = result.portfolio
    assert len(p) == 91
    assert int(p["has_orders"].sum()) == 89
    assert set(p.loc[~p["has_orders"].astype(bool), "account_id"]) == {"FISSA", "PARIS"}
    assert p["revenue"].sum() == pytest.approx(1_265_793.04, abs=0.01)
    assert p["cts_freight"].sum() == pytest.approx(64_942.69, abs=0.01)
    assert p["cost_to_serve"].sum() == pytest.approx(64_942.69, abs=0.01)
    assert p["net_contribution"].sum() == pytest.approx(1_265_793.04 - 64_942.69, abs=0.01)
    assert result.meta["inputs"]["order_lines"]["rows"] == 2155
    assert result.meta["as_of"] == "1998-05-06"
    assert any("no unit cost" in w for w in result.warnings)
    # Pareto: ranks are a permutation, cumulative revenue share ends at 1
    assert sorted(p["pareto_rank_revenue"].astype(int)) == list(range(1, 92))
    assert p["cum_share_revenue"].max() == pytest.approx(1.0)
    assert set(p["size_tier"]) == {"large", "medium", "small"}


def _raw_per_customer(data: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Revenue and freight per customer straight from Northwind's CSV files (csv module)."""
    import csv

    with (data / "northwind" / "orders.csv").open(encoding="utf-8", newline="") as fh:
        orders = list(csv.DictReader(fh))
    customer = {o["OrderID"]: o["CustomerID"] for o in orders}
    freight: dict[str, float] = {}
    for o in orders:
        freight[o["CustomerID"]] = freight.get(o["CustomerID"], 0.0) + float(o["Freight"])
    revenue: dict[str, float] = {}
    with (data / "northwind" / "order_details.csv").open(encoding="utf-8", newline="") as fh:
        for d in csv.DictReader(fh):
            amount = float(d["UnitPrice"]) * float(d["Quantity"]) * (1 - float(d["Discount"]))
            c = customer[d["OrderID"]]
            revenue[c] = revenue.get(c, 0.0) + amount
    return revenue, freight


def test_northwind_per_account_figures(shared_data: Path, tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "nw")
    import_mapping(ws, REPO / "examples" / "northwind" / "mapping.toml")
    p = run(ws).portfolio.set_index("account_id")
    revenue, freight = _raw_per_customer(shared_data)
    # the three largest customers, as published for Northwind's order details (to the cent;
    # QUICK's exact sum is 110,277.305)
    for acc, published in (("QUICK", 110_277.31), ("ERNSH", 104_874.98), ("SAVEA", 104_361.95)):
        assert revenue[acc] == pytest.approx(published, abs=0.0051)
        assert p.at[acc, "revenue"] == pytest.approx(published, abs=0.0051)
    assert p.sort_values("revenue", ascending=False).index[:3].tolist() == [
        "QUICK", "ERNSH", "SAVEA",
    ]  # fmt: skip
    for acc in revenue:  # every customer, to the cent
        assert p.at[acc, "revenue"] == pytest.approx(revenue[acc], abs=0.005), acc
        assert p.at[acc, "cts_freight"] == pytest.approx(freight[acc], abs=0.005), acc

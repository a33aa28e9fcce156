"""Northwind end to end: import with the example mapping, run, check the published totals."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyfolio.ingest import import_mapping
from keyfolio.pipeline import run
from keyfolio.workspace_ops import init_workspace

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

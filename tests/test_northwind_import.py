"""Northwind (shared/data/northwind, see its PROVENANCE.md) imported with a mapping.

The known facts are checked independently with DuckDB over the imported Parquet files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from keyfolio.errors import ImportValidationError
from keyfolio.ingest import import_mapping
from keyfolio.workspace import POLICY_FILE, Workspace

pytestmark = pytest.mark.shared

REPO = Path(__file__).resolve().parents[1]
NORTHWIND = Path(__file__).resolve().parents[2] / "shared" / "data" / "northwind"


@pytest.fixture(scope="module")
def northwind() -> Path:
    if not (NORTHWIND / "order_details.csv").is_file():
        pytest.skip(f"{NORTHWIND} is absent")
    return NORTHWIND


def _mapping(tmp_path: Path, data: Path) -> Path:
    """The example mapping with absolute paths (works wherever the data sits)."""
    text = (REPO / "examples" / "northwind" / "mapping.toml").read_text()
    text = text.replace("../../../shared/data/northwind", str(data))
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    return path


def _workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / POLICY_FILE).write_text('currency = "USD"\n')
    return Workspace(root)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row


def _connect(ws: Workspace) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the imported tables registered as views (no paths in SQL)."""
    con = duckdb.connect()
    for table in ("accounts", "orders", "order_lines"):
        con.register(table, pq.read_table(ws.table_path(table)))
    return con


def test_northwind_imports_with_known_facts(northwind: Path, tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    result = import_mapping(ws, _mapping(tmp_path, northwind))
    assert result.tables == {"accounts": 91, "products": 77, "orders": 830, "order_lines": 2155}
    assert result.derived == {}
    assert any("no unit_cost" in w for w in result.warnings)  # Northwind has list prices only

    con = _connect(ws)
    (revenue,) = _one(con, "SELECT sum(unit_price * quantity * (1 - discount)) FROM order_lines")
    assert revenue == pytest.approx(1_265_793.04, abs=0.005)
    (freight, n_orders, first, last) = _one(
        con, "SELECT sum(freight), count(*), min(order_date), max(order_date) FROM orders"
    )
    assert freight == pytest.approx(64_942.69, abs=0.005)
    assert n_orders == 830
    assert (str(first), str(last)) == ("1996-07-04", "1998-05-06")
    (n_accounts, with_orders, no_region) = _one(
        con,
        "SELECT count(*), count(*) FILTER (WHERE account_id IN (SELECT account_id FROM orders)),"
        " count(*) FILTER (WHERE region IS NULL) FROM accounts",
    )
    assert n_accounts == 91
    assert with_orders == 89  # FISSA and PARIS have no orders
    assert 0 < no_region < 91  # an empty Region is missing, not ""
    # every line joins its order; ids are text
    (unjoined,) = _one(con, "SELECT count(*) FROM order_lines ANTI JOIN orders USING (order_id)")
    assert unjoined == 0
    (kind,) = _one(con, "SELECT typeof(order_id) FROM order_lines LIMIT 1")
    assert kind == "VARCHAR"


def test_northwind_with_a_broken_line_changes_nothing(northwind: Path, tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    mapping = _mapping(tmp_path, northwind)
    import_mapping(ws, mapping)
    snapshot = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in ws.root.rglob("*") if p.is_file()
    }

    broken = tmp_path / "order_details.csv"
    text = (northwind / "order_details.csv").read_text()
    broken.write_text(
        text.replace("10248,42,9.8,10,0", "10248,42,9.8,ten,0").replace("\n11077,", "\n99999,", 1)
    )
    mapping.write_text(
        mapping.read_text().replace(str(northwind / "order_details.csv"), str(broken))
    )
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, mapping)
    found = sorted((p.row, p.column, p.found) for p in e.value.problems)
    assert found[0] == (3, "Quantity", "'ten'")
    assert found[1][1:] == ("OrderID", "'99999'")
    assert len(found) == 2
    after = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in ws.root.rglob("*") if p.is_file()
    }
    assert after == snapshot

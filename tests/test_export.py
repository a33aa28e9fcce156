"""Export for a CRM: every account, tier and key flag, and no formula injection."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
from openpyxl import load_workbook

from keyfolio.export import export_portfolio, neutralise
from keyfolio.pipeline import run
from keyfolio.schema import TABLES
from keyfolio.workspace import init_workspace

EVIL = '=HYPERLINK("http://x","y")'


def _ws(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path / "ws")
    acc = TABLES["accounts"].arrow_schema(["account_id", "name"])
    lines = TABLES["order_lines"].arrow_schema(
        ["account_id", "order_date", "quantity", "net_revenue"]
    )
    ws.write_tables(
        {
            "accounts": pa.table(
                {
                    "account_id": ["007", "008", "009"],
                    "name": [EVIL, "+cmd|' /C calc'!A0", "Plain"],
                },
                schema=acc,
            ),
            "order_lines": pa.table(
                {
                    "account_id": ["007", "008", "009"],
                    "order_date": [dt.date(2025, 1, 2)] * 3,
                    "quantity": [1.0, 2.0, 3.0],
                    "net_revenue": [100.0, -50.0, 10.0],
                },
                schema=lines,
            ),
        }
    )
    run(ws)
    return ws


def test_neutralise() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-2") == "'-2"
    assert neutralise("Acme") == "Acme"
    assert neutralise(-2.0) == -2.0  # numbers stay numbers


def test_csv_export(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    path = export_portfolio(ws, "csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [r["account_id"] for r in rows] == ["007", "008", "009"]  # leading zeros survive
    names = {r["account_id"]: r["name"] for r in rows}
    assert names["007"] == "'" + EVIL
    assert names["008"].startswith("'+")
    assert all(r["size_tier"] in {"small", "medium", "large"} for r in rows)
    assert float(rows[1]["revenue"]) == -50.0


def test_xlsx_export(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    path = export_portfolio(ws, "xlsx", tmp_path / "out.xlsx")
    sheet = load_workbook(path)["portfolio"]
    header = [c.value for c in sheet[1]]
    name_col = header.index("name") + 1
    cell = sheet.cell(row=2, column=name_col)
    assert cell.data_type == "s"  # a string cell: never run as a formula, and not altered
    assert cell.value == EVIL
    names = [sheet.cell(row=r, column=name_col).value for r in range(2, 5)]
    assert names == [EVIL, "+cmd|' /C calc'!A0", "Plain"]
    assert sheet.cell(row=2, column=1).value == "007"

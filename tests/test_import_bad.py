"""A corpus of bad inputs, each with the exact problem expected; the workspace never changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import openpyxl
import pytest

from keyfolio.errors import ImportValidationError, Problem
from keyfolio.ingest import ReadOptions, import_mapping, import_table
from keyfolio.workspace import POLICY_FILE, Workspace

DATA = Path(__file__).parent / "data" / "ingest"
BAD = DATA / "bad"
ORDERS = {"order_id": "OrderID", "account_id": "CustomerID", "order_date": "OrderDate"}
LINES = {
    "order_id": "OrderID",
    "product_id": "ProductID",
    "unit_price": "UnitPrice",
    "quantity": "Quantity",
    "discount": "Discount",
}
ACCOUNTS = {"account_id": "CustomerID", "name": "CompanyName"}
NUMBER = "a number with decimal point, no thousands separator (e.g. 1234.5)"
UTF8 = 'text in utf-8 (the file reads cleanly as "cp1252" or "latin-1": set encoding = "cp1252")'

# name: (table, file, columns, options, expected problems as (row, column, expected, found))
CASES: dict[str, tuple[str, str, dict[str, str], ReadOptions | None, list[tuple]]] = {
    "missing required column": (
        "orders", "missing_column.csv", ORDERS, None,
        [(None, "CustomerID", "a column 'CustomerID' (mapped to account_id)",
          "columns OrderID, Customer, OrderDate; did you mean 'Customer'?")],
    ),
    "required column not mapped": (
        "orders", "missing_column.csv", {"order_id": "OrderID", "order_date": "OrderDate"}, None,
        [(None, "account_id", 'a column for required orders.account_id '
                                '(map it: account_id = "SourceColumn")',
          "columns OrderID, Customer, OrderDate")],
    ),
    "unparseable number": (
        "order_lines", "bad_number.csv", LINES, None,
        [(3, "Quantity", f"{NUMBER} for quantity", "'12x'")],
    ),
    "bad date": (
        "orders", "bad_date.csv", ORDERS, None,
        [(3, "OrderDate", 'a date as yyyy-mm-dd (or set date_format, '
                             'e.g. "%d/%m/%Y") for order_date',
          "'2024-13-01'")],
    ),
    "bad date for the date_format": (
        "orders", "bad_date.csv", ORDERS, ReadOptions(date_format="%d/%m/%Y"),
        [(2, "OrderDate", "a date in date_format '%d/%m/%Y' for order_date", "'2024-01-15'"),
         (3, "OrderDate", "a date in date_format '%d/%m/%Y' for order_date", "'2024-13-01'")],
    ),
    "duplicate account_id": (
        "accounts", "duplicate_account.csv", ACCOUNTS, None,
        [(4, "CustomerID", 'a unique account_id (or set dedupe = "first" or "last" to keep one '
          'row per key)', "'007' again (first at row 2)")],
    ),
    "order line of an unknown order": (
        "order_lines", "unknown_order_lines.csv", LINES, None,
        [(4, "OrderID", "an order_id present in orders (the workspace's orders)", "'A-999'")],
    ),
    "order of an unknown account": (
        "orders", "unknown_account_orders.csv", ORDERS, None,
        [(3, "CustomerID", "an account_id present in accounts (the workspace's accounts)",
          "'555'")],
    ),
    "discount outside 0-1": (
        "order_lines", "discount_percent.csv", LINES, None,
        [(2, "Discount", "a discount between 0 and 1 (a fraction: 0.05 = 5%); the values look like "
          "percentages: divide them by 100 (5 → 0.05)", "5")],
    ),
    "empty file": (
        "orders", "empty.csv", ORDERS, None,
        [(None, None, "a header row at row 1 and data rows", "an empty file")],
    ),
    "header only": (
        "orders", "header_only.csv", ORDERS, None,
        [(1, None, "at least one data row after the header", "only a header")],
    ),
    "wrong delimiter": (
        "orders", "semicolon.csv", ORDERS, None,
        [(1, None, "columns separated by ','",
          "one column 'OrderID;CustomerID;OrderDate'; "
          "the delimiter is likely ';' (set delimiter = ';')")],
    ),
    "non-UTF-8 without encoding": (
        "accounts", "latin1.csv", ACCOUNTS, None,
        [(3, None, UTF8, "byte 0xE9 at byte offset 50, not valid utf-8")],
    ),
    "negative freight": (
        "orders", "negative_freight.csv", {**ORDERS, "freight": "Freight"}, None,
        [(2, "Freight", "freight >= 0", "-4.5")],
    ),
    "mixed currencies": (
        "orders", "mixed_currency.csv", {**ORDERS, "currency": "Currency"}, None,
        [(4, "Currency", "one currency in all rows (EUR); convert amounts before importing",
          "EUR (2 row(s)), USD (1 row(s))")],
    ),
}  # fmt: skip


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A workspace that already holds a good import (so 'unchanged' means something)."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / POLICY_FILE).write_text('currency = "EUR"\n')
    w = Workspace(root)
    import_mapping(w, DATA / "mapping.toml")
    return w


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_reports_exact_problem_and_changes_nothing(ws: Workspace, name: str) -> None:
    table, file, columns, options, expected = CASES[name]
    before = _snapshot(ws.root)
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, table, BAD / file, columns, options)
    assert e.value.problems == [Problem(str(BAD / file), *p) for p in expected]
    assert "nothing was changed" in str(e.value)
    assert _snapshot(ws.root) == before


def test_encoding_option_fixes_non_utf8(ws: Workspace) -> None:
    import_table(ws, "accounts", BAD / "latin1.csv", ACCOUNTS, ReadOptions(encoding="latin-1"))
    assert ws.read_table("accounts")["name"].to_pylist()[1] == "Société Générale"


def test_xlsx_header_on_another_row(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["Order export", None, None])
    sheet.append([None, None, None])
    sheet.append(["OrderID", "CustomerID", "OrderDate"])
    sheet.append(["A-001", "007", dt.datetime(2024, 1, 15)])
    wb.save(path)
    before = _snapshot(ws.root)
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, "orders", path, ORDERS)
    assert e.value.problems == [
        Problem(str(path), 1, None, "the header (OrderID, CustomerID, OrderDate) in row 1",
                "it in row 3: set header_row = 3")
    ]  # fmt: skip
    assert _snapshot(ws.root) == before
    assert import_table(ws, "orders", path, ORDERS, ReadOptions(header_row=3)).tables == {
        "orders": 1
    }


def test_one_bad_table_writes_no_table_of_the_mapping(ws: Workspace, tmp_path: Path) -> None:
    """Orders are fine, lines and accounts are not: nothing is written, every problem listed
    (including the order whose account is missing from the duplicated accounts file)."""
    for f in ("orders.csv", "accounts.csv", "products.csv"):
        shutil.copy(DATA / f, tmp_path / f)
    shutil.copy(BAD / "bad_number.csv", tmp_path / "lines.csv")
    shutil.copy(BAD / "duplicate_account.csv", tmp_path / "accounts.csv")
    mapping = (DATA / "mapping.toml").read_text().replace("order_lines.csv", "lines.csv")
    mapping = mapping.replace(
        ', country = "Country", market_leader = "Leader" }\nkeep = ["Segment", "Employees"]', " }"
    )
    (tmp_path / "m.toml").write_text(mapping)
    before = _snapshot(ws.root)
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, tmp_path / "m.toml")
    found = {(Path(p.file).name, p.row, p.column) for p in e.value.problems}
    assert found == {
        ("accounts.csv", 4, "CustomerID"),
        ("lines.csv", 3, "Quantity"),
        ("orders.csv", 4, "CustomerID"),
    }
    assert _snapshot(ws.root) == before


def test_lines_without_any_orders_table(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    (root / POLICY_FILE).write_text("")
    ws = Workspace(root)
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, "order_lines", DATA / "order_lines.csv", LINES)
    assert e.value.problems == [
        Problem(str(DATA / "order_lines.csv"), None, "OrderID",
                "an orders table to resolve order_id (import orders in the same mapping, "
                "or map account_id and order_date on the lines)",
                "no orders table in this import or the workspace")
    ]  # fmt: skip
    empty = hashlib.sha256(b"").hexdigest()  # no tables; the (released, empty) lock file
    assert _snapshot(root) == {"keyfolio.toml": empty, ".keyfolio.lock": empty}


def test_flat_lines_need_account_and_date_on_every_row(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "flat.csv"
    src.write_text("Cust,Day,Qty,Rev\n007,2024-01-01,1,10\n,2024-01-02,1,5\n0042,,2,\n")
    cols = {"account_id": "Cust", "order_date": "Day", "quantity": "Qty", "net_revenue": "Rev"}
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, "order_lines", src, cols)
    assert [(p.row, p.column, p.expected) for p in e.value.problems] == [
        (4, "Rev", "a unit_price or net_revenue on every line: it gives the revenue"),
        # each problem names the column that is empty (row 4 used to blame 'Cust')
        (3, "Cust", "an account_id on every line whose order is not in an orders table"),
        (4, "Day", "an order_date on every line whose order is not in an orders table"),
    ]


def test_rows_are_editor_lines_despite_blank_lines_and_quoted_breaks(
    ws: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "orders.csv"
    src.write_bytes(
        b"\xef\xbb\xbfOrderID,CustomerID,OrderDate,Note\r\n"  # Excel's BOM and CRLF
        b"B-1,007,2024-01-01,\r\n"
        b"\r\n"
        b'B-2,007,2024-01-0x,"two\nlines"\r\n'
        b"B-1,007,2024-01-01,\r\n"
    )
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, "orders", src, ORDERS)
    assert [(p.row, p.column, p.found) for p in e.value.problems] == [
        (4, "OrderDate", "'2024-01-0x'"),
        (6, "OrderID", "'B-1' again (first at row 2)"),
    ]

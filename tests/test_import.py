"""Import: mapping files, one-table form, readers, conversion, derived accounts, atomic replace."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keyfolio.errors import ImportValidationError, KeyfolioError, Problem
from keyfolio.ingest import ReadOptions, import_mapping, import_table, parse_mapping
from keyfolio.workspace import POLICY_FILE, Workspace

DATA = Path(__file__).parent / "data" / "ingest"
LINES = {
    "order_id": "OrderID",
    "product_id": "ProductID",
    "unit_price": "UnitPrice",
    "quantity": "Quantity",
    "discount": "Discount",
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / POLICY_FILE).write_text('currency = "EUR"\n')
    return Workspace(root)


def test_mapping_imports_header_and_lines(ws: Workspace) -> None:
    result = import_mapping(ws, DATA / "mapping.toml")
    assert result.tables == {"accounts": 3, "products": 2, "orders": 4, "order_lines": 5}
    assert result.derived == {}
    assert set(result.sources) == {
        str((DATA / f).resolve())
        for f in ("accounts.csv", "products.csv", "orders.csv", "order_lines.csv")
    }
    assert all(len(h) == 64 for h in result.sources.values())

    acc = ws.read_table("accounts")
    assert acc["account_id"].to_pylist() == ["007", "0042", "100"]  # leading zeros survive
    assert acc["name"].to_pylist() == ["Bond Supplies", "NA", "Acme Corp"]  # NA is a value
    assert acc["market_leader"].to_pylist() == [True, False, True]
    assert acc.schema.field("Segment").type == pa.string()
    assert acc.schema.field("Employees").type == pa.float64()  # every present value a number
    assert acc["Employees"].to_pylist() == [120.0, 80.0, None]

    orders = ws.read_table("orders")
    assert orders.schema.field("order_date").type == pa.date32()
    assert orders["order_date"].to_pylist()[1] == dt.date(2024, 2, 1)  # "yyyy-mm-dd hh:mm:ss"
    assert orders["freight"].to_pylist() == [12.5, 0.0, 7.25, 3.0]
    lines = ws.read_table("order_lines")
    assert lines.column_names == list(LINES)
    assert lines["quantity"].to_pylist() == [5.0, 10.0, 2.0, 1.0, -1.0]  # return kept
    assert ws.read_table("products")["unit_cost"].to_pylist() == [6.0, 2.25]


def test_flat_sales_report_alone_derives_accounts(ws: Workspace) -> None:
    opts = ReadOptions(delimiter=";", decimal=",", date_format="%d.%m.%Y")
    cols = {
        "account_id": "Kunde",
        "order_date": "Datum",
        "product_id": "Artikel",
        "quantity": "Menge",
        "net_revenue": "Umsatz",  # the line's amount, after any discount
    }
    result = import_table(ws, "order_lines", DATA / "flat_sales.csv", cols, opts)
    assert result.tables == {"order_lines": 4}
    assert result.derived == {"accounts": 3}
    assert any("derived 3 accounts" in w for w in result.warnings)
    lines = ws.read_table("order_lines")
    assert lines["net_revenue"].to_pylist() == [1234.5, 99.9, 3000.0, 10.0]
    assert lines["order_date"].to_pylist()[1] == dt.date(2024, 2, 15)
    assert ws.read_table("accounts")["account_id"].to_pylist() == ["0815", "0999", "NA"]

    # re-importing lines re-derives the derived accounts (they are not a reference list)
    opts.where = "Kunde <> '0999'"
    again = import_table(ws, "order_lines", DATA / "flat_sales.csv", cols, opts)
    assert again.filtered == {"order_lines": 1}
    assert ws.read_table("accounts")["account_id"].to_pylist() == ["0815", "NA"]


def test_missing_declared_in_mapping_makes_na_null(ws: Workspace, tmp_path: Path) -> None:
    opts = ReadOptions(missing=["", "NA"])
    import_table(
        ws,
        "accounts",
        DATA / "accounts.csv",
        {"account_id": "CustomerID", "name": "CompanyName"},
        opts,
    )
    assert ws.read_table("accounts")["name"].to_pylist() == ["Bond Supplies", None, "Acme Corp"]


def test_one_table_form_takes_same_named_columns(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "team.csv"
    src.write_text("manager_id,name,capacity_hours,Other\nM01,Ann,1600,x\nM02,Bo,800,y\n")
    result = import_table(ws, "team", src, {})
    assert result.tables == {"team": 2}
    team = ws.read_table("team")
    assert team.column_names == ["manager_id", "name", "capacity_hours"]
    assert team["capacity_hours"].to_pylist() == [1600.0, 800.0]


def test_lines_resolve_against_orders_already_in_workspace(ws: Workspace) -> None:
    import_mapping(ws, DATA / "mapping.toml")
    before = ws.table_path("orders").read_bytes()
    result = import_table(ws, "order_lines", DATA / "order_lines.csv", LINES)
    assert result.tables == {"order_lines": 5}
    assert ws.table_path("orders").read_bytes() == before  # other tables untouched


def test_reimport_replaces_table(ws: Workspace, tmp_path: Path) -> None:
    import_mapping(ws, DATA / "mapping.toml")
    fewer = tmp_path / "products.csv"
    fewer.write_text("ProductID,ProductName\nP01,Widget v2\nP02,Gadget\nP03,Gizmo\n")
    import_table(ws, "products", fewer, {"product_id": "ProductID", "name": "ProductName"})
    products = ws.read_table("products")
    assert products["name"].to_pylist() == ["Widget v2", "Gadget", "Gizmo"]
    assert "unit_cost" not in products.column_names
    leftovers = [p.name for p in ws.data_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_where_filter_on_source_columns(ws: Workspace, tmp_path: Path) -> None:
    mapping = (
        (DATA / "mapping.toml")
        .read_text()
        .replace('status = "Status" }', 'status = "Status" }\nwhere = "status <> \'Cancelled\'"')
    )
    # lines of the cancelled order A-003 are then unknown: filter them too
    mapping = mapping.replace(
        'discount = "Discount" }', 'discount = "Discount" }\nwhere = "OrderID NOT IN (\'A-003\')"'
    )
    path = tmp_path / "m.toml"
    path.write_text(mapping)
    for f in ("accounts.csv", "products.csv", "orders.csv", "order_lines.csv"):
        shutil.copy(DATA / f, tmp_path / f)
    result = import_mapping(ws, path)
    assert result.tables["orders"] == 3
    assert result.filtered == {"orders": 1, "order_lines": 1}
    assert "A-003" not in ws.read_table("orders")["order_id"].to_pylist()


@pytest.mark.parametrize(
    "where, message",
    [
        ("read_csv('/etc/passwd') IS NOT NULL", "not allowed"),
        ("Status = 'x'; DROP TABLE src", "one condition, found 2 statements"),
        ("(SELECT 1) = 1", "not allowed"),
        ("Nope = 1", "unknown column 'Nope'"),
        ("OrderID", "expected a condition"),
    ],
)
def test_unsafe_or_wrong_where_is_rejected(ws: Workspace, where: str, message: str) -> None:
    opts = ReadOptions(where=where)
    cols = {"order_id": "OrderID", "account_id": "CustomerID", "order_date": "OrderDate"}
    with pytest.raises(KeyfolioError, match="where") as e:
        import_table(ws, "orders", DATA / "orders.csv", cols, opts)
    assert message in str(e.value)
    assert not ws.data_dir.exists()


@pytest.mark.parametrize(
    "text, key",
    [
        ('[acounts]\nfile = "a.csv"\n', "[acounts]: unknown table"),
        (
            '[accounts]\nfile = "a.csv"\ncolumns = { acount_id = "X" }\n',
            "accounts.columns.acount_id",
        ),
        ('[accounts]\nfile = "a.csv"\ndelimeter = ";"\n', "accounts.delimeter: unknown option"),
        ('[accounts]\ncolumns = { account_id = "X" }\n', "accounts.file: missing"),
        ('[orders]\nfile = "o.csv"\nheader_row = "2"\n', "orders.header_row: expected an integer"),
        ('[orders]\nfile = "o.csv"\nkeep = ["X"]\n', "orders.keep"),
        ('[orders]\nfile = "o.csv"\ndecimal = ";"\n', "orders.decimal"),
    ],
)
def test_mapping_errors_name_file_and_key(text: str, key: str) -> None:
    with pytest.raises(KeyfolioError) as e:
        parse_mapping(text, Path("."), origin="m.toml")
    assert str(e.value).startswith("m.toml: ")
    assert key in str(e.value)


def test_xlsx_with_header_row_and_date_cells(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.title = "Export"
    sheet.append(["Orders export, Q1"])
    sheet.append([])
    sheet.append(["OrderID", "CustomerID", "OrderDate", "Freight"])
    sheet.append(["A-001", "007", dt.datetime(2024, 1, 15), 12.5])
    sheet.append([1002, "007", dt.datetime(2024, 1, 16, 9, 30), 3])
    sheet.append([None, None, None, None])  # blank row inside the data is skipped
    sheet.append(["A-003", "0042", "not a date", 1])
    wb.save(path)
    cols = {
        "order_id": "OrderID",
        "account_id": "CustomerID",
        "order_date": "OrderDate",
        "freight": "Freight",
    }
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, "orders", path, cols, ReadOptions(header_row=3, sheet="Export"))
    # the row is the real spreadsheet row
    assert [(p.row, p.column, p.found) for p in e.value.problems] == [
        (7, "OrderDate", "'not a date'")
    ]

    sheet.delete_rows(7)
    wb.save(path)
    result = import_table(ws, "orders", path, cols, ReadOptions(header_row=3))
    assert result.tables == {"orders": 2}
    orders = ws.read_table("orders")
    assert orders["order_id"].to_pylist() == ["A-001", "1002"]
    assert orders["order_date"].to_pylist() == [dt.date(2024, 1, 15), dt.date(2024, 1, 16)]


def test_parquet_native_types(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(
        pa.table(
            {
                "OrderID": pa.array([10248, 10249], pa.int64()),
                "CustomerID": ["007", "0042"],
                "OrderDate": pa.array([dt.date(2024, 1, 2), dt.date(2024, 1, 3)], pa.date32()),
                "Freight": pa.array([1.5, 2.0]),
            }
        ),
        path,
    )
    cols = {
        "order_id": "OrderID",
        "account_id": "CustomerID",
        "order_date": "OrderDate",
        "freight": "Freight",
    }
    import_table(ws, "orders", path, cols)
    orders = ws.read_table("orders")
    assert orders["order_id"].to_pylist() == ["10248", "10249"]
    assert orders["account_id"].to_pylist() == ["007", "0042"]
    assert orders.schema.field("order_date").type == pa.date32()


def test_all_problems_reported_at_once_with_a_cap(ws: Workspace, tmp_path: Path) -> None:
    rows = "\n".join(f"A-{i:03d},P01,ten,{i},0" for i in range(30))
    src = tmp_path / "lines.csv"
    src.write_text("OrderID,ProductID,UnitPrice,Quantity,Discount\n" + rows + "\nA-100,P01,1,x,2\n")
    cols = {**LINES, "account_id": "OrderID", "order_date": "Discount"}
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, "order_lines", src, cols)
    problems = e.value.problems
    price = [p for p in problems if p.column == "UnitPrice"]
    assert len(price) == 21  # 20 listed + one line counting the rest
    assert price[0] == Problem(
        str(src), 2, "UnitPrice",
        "a number with decimal point, no thousands separator (e.g. 1234.5) for unit_price", "'ten'",
    )  # fmt: skip
    assert price[-1].row is None and price[-1].found == "10 more row(s) like these (30 in all)"
    assert any(p.column == "Quantity" and p.row == 32 for p in problems)
    assert any(p.column == "Discount" and "date" in p.expected for p in problems)
    assert not ws.data_dir.exists()


def test_pipe_delimited_and_unknown_file_type(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "wallet.txt"
    src.write_text("Customer|Spend\n007|1000,5\n")
    import_table(
        ws, "wallet", src, {"account_id": "Customer", "total_spend": "Spend"},
        ReadOptions(delimiter="|", decimal=","),
    )  # fmt: skip
    assert ws.read_table("wallet")["total_spend"].to_pylist() == [1000.5]
    with pytest.raises(KeyfolioError, match="unsupported file type"):
        import_table(ws, "wallet", tmp_path / "w.json", {})


def test_extra_attributes_named_in_columns(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "acc.csv"
    src.write_text("Id,Seg,Staff\n001,A,10\n002,B,x\n")
    cols = {"account_id": "Id", "segment": "Seg", "staff": "Staff"}
    import_table(ws, "accounts", src, cols)
    acc = ws.read_table("accounts")
    assert acc.column_names == ["account_id", "segment", "staff"]
    assert acc["staff"].to_pylist() == ["10", "x"]  # not all numbers: kept as text
    with pytest.raises(KeyfolioError, match="did you mean 'country'"):
        import_table(ws, "accounts", src, {"account_id": "Id", "contry": "Seg"})
    with pytest.raises(KeyfolioError, match="orders.columns.segment: unknown column"):
        import_table(ws, "orders", src, {"segment": "Seg"})


def test_sample_sources_round_trip(ws: Workspace, tmp_path: Path) -> None:
    """The sample generator's ERP exports + mapping.toml import back to its own tables."""
    sample = pytest.importorskip("keyfolio.sample")
    root = tmp_path / "sample"
    sample.generate_workspace(root, accounts=60, lines=1500, years=2, seed=5, sources=True)
    result = import_mapping(ws, root / "sources" / "mapping.toml")
    assert result.derived == {}
    for table, rows in result.tables.items():
        mine, theirs = ws.read_table(table), pq.read_table(root / "data" / f"{table}.parquet")
        assert rows == theirs.num_rows, table
        cols = [c for c in theirs.column_names if c in mine.column_names]
        assert cols == theirs.column_names, table
        assert mine.select(cols).equals(theirs.select(cols).cast(mine.select(cols).schema)), table


def test_reimporting_orders_alone_warns_about_orphaned_lines(ws: Workspace, tmp_path: Path) -> None:
    import_mapping(ws, DATA / "mapping.toml")
    src = tmp_path / "orders.csv"
    src.write_text("OrderID,CustomerID,OrderDate\nA-001,007,2024-01-15\n")
    cols = {"order_id": "OrderID", "account_id": "CustomerID", "order_date": "OrderDate"}
    result = import_table(ws, "orders", src, cols)
    assert result.warnings == [
        "3 row(s) of the workspace's order_lines refer to a order_id not in the new orders "
        "(e.g. 'A-002'); re-import order_lines too"
    ]

"""Hostile inputs (the hardening issue, import side).

Each refused input goes through the command line as a user would run it: exit code 1,
one line on stderr and no traceback, the line naming the file (and row and column where
there is one), what was expected and what was found, and the workspace's ``data/``
folder byte for byte as it was (it already holds a good import). The odd but valid files
at the end import, with the right values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl.styles import Font

from keyfolio.ingest import import_mapping
from keyfolio.workspace import POLICY_FILE, Workspace

DATA = Path(__file__).parent / "data" / "ingest"
NEXT_YEAR = dt.date.today().year + 1
RANGE = f"expected a date from 1950 to {NEXT_YEAR}"
BOUND = "expected a number between -1e15 and 1e15"
ORDER_COLS = ["order_id=OrderID", "account_id=CustomerID", "order_date=OrderDate"]
LINE_COLS = ["account_id=Cust", "order_date=Day", "quantity=Qty", "unit_price=Price"]
LINES_HEAD = "Cust,Day,Qty,Price"

# a case writes its input into the folder and returns the command line's arguments after
# the workspace, and the parts the error line must hold
Built = tuple[list[str], list[str]]
CASES: dict[str, Callable[[Path], Built]] = {}


def case(name: str) -> Callable[[Callable[[Path], Built]], Callable[[Path], Built]]:
    def register(fn: Callable[[Path], Built]) -> Callable[[Path], Built]:
        CASES[name] = fn
        return fn

    return register


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding a good import (accounts 007, 0042, 100; orders A-001..A-004)."""
    root = tmp_path_factory.mktemp("good") / "ws"
    root.mkdir()
    (root / POLICY_FILE).write_text('currency = "EUR"\n')
    import_mapping(Workspace(root), DATA / "mapping.toml")
    return root


@pytest.fixture
def ws(good: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(good, root)
    return root


def _orders(path: Path, rows: list[str], head: str = "OrderID,CustomerID,OrderDate") -> Built:
    path.write_text(head + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return ["orders", str(path), *_cols(ORDER_COLS)], [str(path)]


def _lines(path: Path, rows: list[str], head: str = LINES_HEAD, cols: list[str] = LINE_COLS
           ) -> Built:  # fmt: skip
    path.write_text(head + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return ["order_lines", str(path), *_cols(cols)], [str(path)]


def _cols(pairs: list[str]) -> list[str]:
    return [a for p in pairs for a in ("--col", p)]


def _parquet(path: Path, table: pa.Table, kind: str, cols: list[str]) -> Built:
    pq.write_table(table, path)
    return [kind, str(path), *_cols(cols)], [str(path)]


def _parquet_orders(path: Path, customer: pa.Array, n: int | None = None) -> Built:
    n = len(customer) if n is None else n
    table = pa.table({
        "OrderID": pa.array([f"P-{i}" for i in range(n)]),
        "CustomerID": customer,
        "OrderDate": pa.array([dt.date(2024, 1, 1 + i) for i in range(n)]),
    })  # fmt: skip
    return _parquet(path, table, "orders", ORDER_COLS)


def _parquet_lines(path: Path, qty: pa.Array, price: pa.Array | None = None) -> Built:
    n = len(qty)
    table = pa.table({
        "Cust": pa.array(["007"] * n),
        "Day": pa.array([dt.date(2024, 1, 1)] * n),
        "Qty": qty,
        "Price": price if price is not None else pa.array([1.5] * n),
    })  # fmt: skip
    return _parquet(path, table, "order_lines", LINE_COLS)


# -- A: what raised a traceback --------------------------------------------------------------


@case("parquet: a struct column mapped as an id")
def _(tmp: Path) -> Built:
    customer = pa.array([{"id": "007"}, {"id": "0042"}], pa.struct([("id", pa.string())]))
    args, want = _parquet_orders(tmp / "orders.parquet", customer)
    return args, [*want, "column 'CustomerID'", "expected a column of text, numbers, dates",
                  "found a column of type struct<id: string>"]  # fmt: skip


@case("parquet: a list column mapped as the quantity")
def _(tmp: Path) -> Built:
    args, want = _parquet_lines(
        tmp / "lines.parquet", pa.array([[1, 2], [3]], pa.list_(pa.int64()))
    )
    return args, [*want, "column 'Qty'", "mapped to quantity", "found a column of type list<"]


@case("parquet: a map column kept as an account attribute")
def _(tmp: Path) -> Built:
    path = tmp / "accounts.parquet"
    attrs = pa.array([[("a", "1")], [("b", "2")]], pa.map_(pa.string(), pa.string()))
    pq.write_table(pa.table({"Id": ["007", "0042"], "Attrs": attrs}), path)
    args = ["accounts", str(path), "--col", "account_id=Id", "--col", "segment=Attrs"]
    return args, [str(path), "column 'Attrs'", "found a column of type map<string, string"]


@case("parquet: a struct column used in a computed column")
def _(tmp: Path) -> Built:
    path = tmp / "lines.parquet"
    table = pa.table({
        "Cust": ["007"], "Day": [dt.date(2024, 1, 1)], "Qty": [2.0],
        "Money": pa.array([{"amount": 5.0}], pa.struct([("amount", pa.float64())])),
    })  # fmt: skip
    pq.write_table(table, path)
    cols = ["account_id=Cust", "order_date=Day", "quantity=Qty", "net_revenue=Money * 2"]
    return ["order_lines", str(path), *_cols(cols)], [
        str(path),
        "column 'Money'",
        "found a column of type struct<",
    ]


@case("parquet: NaN in a float column mapped as an id")
def _(tmp: Path) -> Built:
    args, want = _parquet_orders(tmp / "orders.parquet", pa.array([100.0, float("nan")]))
    return args, [*want, "row 2", "column 'CustomerID'", "expected an id", "found 'nan'"]


@case("parquet: infinity in a float column mapped as an id")
def _(tmp: Path) -> Built:
    args, want = _parquet_orders(tmp / "orders.parquet", pa.array([100.0, float("-inf")]))
    return args, [*want, "row 2", "column 'CustomerID'", "expected an id", "found '-inf'"]


@case("parquet: 1e17 in a float column mapped as an id")
def _(tmp: Path) -> Built:
    args, want = _parquet_orders(tmp / "orders.parquet", pa.array([100.0, 1e17]))
    return args, [*want, "row 2", "column 'CustomerID'", "expected an id",
                  "found '1e+17'"]  # fmt: skip


@case("parquet: a fraction in a float column mapped as an id")
def _(tmp: Path) -> Built:
    args, want = _parquet_orders(tmp / "orders.parquet", pa.array([100.0, 7.5]))
    return args, [*want, "row 2", "column 'CustomerID'", "expected an id", "found '7.5'"]


@case("parquet: 1e17 as a quantity")
def _(tmp: Path) -> Built:
    args, want = _parquet_lines(tmp / "lines.parquet", pa.array([1.0, 1e17]))
    return args, [*want, "row 2", "column 'Qty'", f"{BOUND} for quantity",
                  "found '1e+17'"]  # fmt: skip


@case("parquet: NaN as a price")
def _(tmp: Path) -> Built:
    args, want = _parquet_lines(tmp / "lines.parquet", pa.array([1.0, 2.0]),
                                pa.array([float("nan"), 3.0]))  # fmt: skip
    return args, [*want, "row 1", "column 'Price'", f"{BOUND} for unit_price", "found 'nan'"]


@case("parquet: an int64 beyond the bound as a quantity")
def _(tmp: Path) -> Built:
    args, want = _parquet_lines(tmp / "lines.parquet", pa.array([1, 2**62], pa.int64()))
    return args, [*want, "row 2", "column 'Qty'", f"{BOUND} for quantity"]


@case("parquet: bytes that are not UTF-8 in a binary column mapped as an id")
def _(tmp: Path) -> Built:
    args, want = _parquet_orders(tmp / "orders.parquet", pa.array([b"007", b"0\xff7"], pa.binary()))
    return args, [*want, "row 2", "column 'CustomerID'", "expected text in UTF-8 for account_id"]


def _bad_utf8(tmp: Path, bad: bytes, row: int = 3) -> Built:
    path = tmp / "orders.csv"
    rows = [b"A-1,007,2024-01-15", b"A-2,007,2024-01-16", b"A-3,007,2024-01-17"]
    rows[row - 2] = rows[row - 2].replace(b"007", b"0" + bad + b"7")
    path.write_bytes(b"OrderID,CustomerID,OrderDate\n" + b"\n".join(rows) + b"\n")
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), f"row {row}", "expected text in utf-8", "byte offset", "encoding"]


@case("csv: an invalid UTF-8 byte (0xFF)")
def _(tmp: Path) -> Built:
    return _bad_utf8(tmp, b"\xff")


@case("csv: a lone UTF-8 continuation byte")
def _(tmp: Path) -> Built:
    return _bad_utf8(tmp, b"\x80", row=2)


@case("csv: an overlong UTF-8 encoding")
def _(tmp: Path) -> Built:
    return _bad_utf8(tmp, b"\xc0\xaf")


@case("csv: a UTF-8-encoded surrogate")
def _(tmp: Path) -> Built:
    return _bad_utf8(tmp, b"\xed\xa0\x80", row=4)


@case("csv: a UTF-8 sequence cut short at the end of the file")
def _(tmp: Path) -> Built:
    path = tmp / "orders.csv"
    path.write_bytes(b"OrderID,CustomerID,OrderDate,Note\nA-1,007,2024-01-15,caf\xc3")
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 2", "byte offset", "encoding"]


@case("csv: an invalid UTF-8 byte far into a large file")
def _(tmp: Path) -> Built:
    path = tmp / "orders.csv"
    row = b"A-%d,007,2024-01-15,some words to make the line longer than it needs to be\n"
    with path.open("wb") as fh:
        fh.write(b"OrderID,CustomerID,OrderDate,Note\n")
        for i in range(90_000):
            fh.write(row % i)
        fh.write(b"A-x,007,2024-01-15,bad \xff byte\n")
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 90002", "byte offset", "encoding"]


@case("csv: a mapped column name twice in the header")
def _(tmp: Path) -> Built:
    args, want = _orders(tmp / "orders.csv", ["A-1,007,2024-01-15,008"],
                         head="OrderID,CustomerID,OrderDate,CustomerID")  # fmt: skip
    return args, [*want, "row 1", "column 'CustomerID'", "expected a column name found once",
                  "found 'CustomerID' in columns 2 and 4"]  # fmt: skip


@case("parquet: a mapped column name twice")
def _(tmp: Path) -> Built:
    path = tmp / "orders.parquet"
    arrays = [pa.array(["P-1"]), pa.array(["007"]), pa.array([dt.date(2024, 1, 1)]),
              pa.array(["008"])]  # fmt: skip
    names = ["OrderID", "CustomerID", "OrderDate", "CustomerID"]
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "column 'CustomerID'", "expected a column name found once",
                  "found 'CustomerID' in columns 2 and 4"]  # fmt: skip


@case("xlsx: a mapped column name twice in the header")
def _(tmp: Path) -> Built:
    path = tmp / "orders.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["OrderID", "CustomerID", "OrderDate", "OrderID"])
    sheet.append(["A-1", "007", dt.datetime(2024, 1, 15), "A-9"])
    wb.save(path)
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 1", "column 'OrderID'", "found 'OrderID' in columns A and D"]


def _damage(path: Path, at: float, patch: bytes) -> None:
    data = bytearray(path.read_bytes())
    k = int(len(data) * at)
    data[k : k + len(patch)] = patch
    path.write_bytes(bytes(data))


def _big_parquet(path: Path, **kwargs: object) -> None:
    n = 200_000
    table = pa.table({
        "OrderID": pa.array([f"P-{i}" for i in range(n)]),
        "CustomerID": pa.array(["007"] * n),
        "OrderDate": pa.array([dt.date(2024, 1, 1)] * n),
        "Freight": pa.array([float(i % 977) / 7 for i in range(n)]),
    })  # fmt: skip
    pq.write_table(table, path, row_group_size=50_000, **kwargs)  # type: ignore[arg-type]


@case("parquet: a damaged data page")
def _(tmp: Path) -> Built:
    path = tmp / "orders.parquet"
    _big_parquet(path)
    _damage(path, 0.5, b"\xde\xad\xbe\xef" * 4)
    args = ["orders", str(path), *_cols([*ORDER_COLS, "freight=Freight"])]
    return args, [str(path), "expected a readable Parquet file", "found damaged data"]


@case("parquet: a damaged page of a file with page checksums")
def _(tmp: Path) -> Built:
    path = tmp / "orders.parquet"
    _big_parquet(path, compression="none", write_page_checksum=True)
    _damage(path, 0.8, b"\x01")
    args = ["orders", str(path), *_cols([*ORDER_COLS, "freight=Freight"])]
    return args, [str(path), "expected a readable Parquet file", "found damaged data"]


def _sheet_damaged(tmp: Path, change: Callable[[bytes], bytes]) -> Built:
    good, path = tmp / "good.xlsx", tmp / "orders.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["OrderID", "CustomerID", "OrderDate"])
    for i in range(50):
        sheet.append([f"A-{i}", "007", dt.datetime(2024, 1, 15)])
    wb.save(good)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = change(data)
            dst.writestr(item, data)
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "expected an Excel .xlsx workbook", "found"]


@case("xlsx: the sheet's XML truncated")
def _(tmp: Path) -> Built:
    return _sheet_damaged(tmp, lambda b: b[: len(b) // 2])


@case("xlsx: garbage in the middle of the sheet's XML")
def _(tmp: Path) -> Built:
    return _sheet_damaged(tmp, lambda b: b[: len(b) // 2] + b"<<\x00\xff>>" + b[len(b) // 2 :])


@case("xlsx: the sheet's compressed bytes damaged in the zip")
def _(tmp: Path) -> Built:
    args, want = _sheet_damaged(tmp, lambda b: b)
    path = Path(args[1])
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    mid = start + info.compress_size // 2
    data[mid : mid + 8] = b"\x00\xff" * 4
    path.write_bytes(bytes(data))
    return args, want


# -- B: what was silently accepted ----------------------------------------------------------


def _control_id(tmp: Path, raw: bytes, shown: str) -> Built:
    path = tmp / "orders.csv"
    path.write_bytes(b"OrderID,CustomerID,OrderDate\nA-1,007,2024-01-15\n" + raw
                     + b",007,2024-01-16\n")  # fmt: skip
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 3", "column 'OrderID'", "control character",
                  f"found {shown}"]  # fmt: skip


@case("id: a NUL byte inside")
def _(tmp: Path) -> Built:
    return _control_id(tmp, b"A-\x002", r"'A-\x002'")


@case("id: an escape character inside")
def _(tmp: Path) -> Built:
    return _control_id(tmp, b"A-\x1b[2", r"'A-\x1b[2'")


@case("id: a DEL character inside")
def _(tmp: Path) -> Built:
    return _control_id(tmp, b"A\x7f-2", r"'A\x7f-2'")


@case("id: a line break inside a quoted id")
def _(tmp: Path) -> Built:
    return _control_id(tmp, b'"A-\n2"', r"'A-\n2'")


@case("id: a C1 control character inside")
def _(tmp: Path) -> Built:
    return _control_id(tmp, "A\u0085-2".encode(), r"'A\x85-2'")


@case("number: 1e309 (infinity)")
def _(tmp: Path) -> Built:
    args, want = _lines(tmp / "lines.csv", ["007,2024-01-15,1e309,5"])
    return args, [*want, "row 2", "column 'Qty'", f"{BOUND} for quantity", "found '1e309'"]


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity", "NaN"])
def test_non_finite_words_are_refused(ws: Path, tmp_path: Path, text: str) -> None:
    args, want = _lines(tmp_path / "lines.csv", ["007,2024-01-15,1,5", f"007,2024-01-15,2,{text}"])
    _refused(ws, args, [*want, "row 3", "column 'Price'", "for unit_price", f"found '{text}'"])


@case("number: 1e308 quantity (its product with a price overflows)")
def _(tmp: Path) -> Built:
    args, want = _lines(tmp / "lines.csv", ["007,2024-01-15,1e308,5"])
    return args, [*want, "row 2", "column 'Qty'", f"{BOUND} for quantity", "found '1e308'"]


@case("number: exactly the bound")
def _(tmp: Path) -> Built:
    args, want = _lines(tmp / "lines.csv", ["007,2024-01-15,1,1000000000000000"])
    return args, [*want, "row 2", "column 'Price'", f"{BOUND} for unit_price"]


@case("number: a decimal-comma number beyond the bound")
def _(tmp: Path) -> Built:
    path = tmp / "lines.csv"
    path.write_text("Cust;Day;Qty;Price\n007;2024-01-15;2;3,5e20\n")
    args = ["order_lines", str(path), *_cols(LINE_COLS), "--delimiter", ";", "--decimal", ","]
    return args, [str(path), "row 2", "column 'Price'", f"{BOUND} for unit_price"]


@case("number: a line amount beyond the bound (9e14 x 9e14)")
def _(tmp: Path) -> Built:
    args, want = _lines(tmp / "lines.csv", ["007,2024-01-15,900000000000000,900000000000000"])
    return args, [*want, "row 2", "a line amount", "between -1e15 and 1e15"]


@case("number: a computed column beyond the bound")
def _(tmp: Path) -> Built:
    path = tmp / "lines.csv"
    path.write_text("Cust,Day,Qty,Sales\n007,2024-01-15,1e-300,5\n")
    cols = ["account_id=Cust", "order_date=Day", "quantity=Qty", "unit_price=Sales / Qty"]
    return ["order_lines", str(path), *_cols(cols)], [str(path), "row 2", BOUND]


@case("sign: a negative unit price")
def _(tmp: Path) -> Built:
    args, want = _lines(tmp / "lines.csv", ["007,2024-01-15,1,5", "007,2024-01-16,2,-5"])
    return args, [*want, "row 3", "column 'Price'", "expected unit_price >= 0",
                  "a return is a negative quantity", "found -5"]  # fmt: skip


@case("sign: a negative unit cost on a line")
def _(tmp: Path) -> Built:
    args, want = _lines(tmp / "lines.csv", ["007,2024-01-15,1,5,-2.5"],
                        head=f"{LINES_HEAD},Cost", cols=[*LINE_COLS, "unit_cost=Cost"])  # fmt: skip
    return args, [*want, "row 2", "column 'Cost'", "expected unit_cost >= 0", "found -2.5"]


@case("sign: a negative standard cost of a product")
def _(tmp: Path) -> Built:
    path = tmp / "products.csv"
    path.write_text("ProductID,StdCost\nP01,6\nP02,-1\n")
    args = ["products", str(path), "--col", "product_id=ProductID", "--col", "unit_cost=StdCost"]
    return args, [str(path), "row 3", "column 'StdCost'", "expected unit_cost >= 0", "found -1"]


@case("sign: a negative total spend in the wallet")
def _(tmp: Path) -> Built:
    path = tmp / "wallet.csv"
    path.write_text("Id,Spend\n007,100\n0042,-3\n")
    args = ["wallet", str(path), "--col", "account_id=Id", "--col", "total_spend=Spend"]
    return args, [str(path), "row 3", "column 'Spend'", "expected total_spend >= 0", "found -3"]


def _date(tmp: Path, text: str, shown: str | None = None) -> Built:
    args, want = _orders(tmp / "orders.csv", ["A-1,007,2024-01-15", f"A-2,007,{text}"])
    return args, [*want, "row 3", "column 'OrderDate'", RANGE, f"found '{shown or text}'"]


@case("date: 2099 (an ERP's 'no date')")
def _(tmp: Path) -> Built:
    return _date(tmp, "2099-12-31")


@case("date: 1850")
def _(tmp: Path) -> Built:
    return _date(tmp, "1850-06-01")


@case("date: 0001-01-01")
def _(tmp: Path) -> Built:
    return _date(tmp, "0001-01-01")


@case("date: 9999-12-31")
def _(tmp: Path) -> Built:
    return _date(tmp, "9999-12-31")


@case("date: 1900-01-01 (Excel's day zero)")
def _(tmp: Path) -> Built:
    return _date(tmp, "1900-01-01")


@case("date: the year after next")
def _(tmp: Path) -> Built:
    return _date(tmp, f"{NEXT_YEAR + 1}-01-01")


@case("date: 2099 with a time of day")
def _(tmp: Path) -> Built:
    return _date(tmp, "2099-01-01 00:00:00")


@case("date: 31/12/9999 read with a date_format")
def _(tmp: Path) -> Built:
    args, want = _orders(tmp / "orders.csv", ["A-1,007,15/01/2024", "A-2,007,31/12/9999"])
    return [*args, "--date-format", "%d/%m/%Y"], [*want, "row 3", RANGE, "found '31/12/9999'"]


@case("date: a typed Parquet date 0001-01-01")
def _(tmp: Path) -> Built:
    path = tmp / "orders.parquet"
    table = pa.table({"OrderID": ["P-1", "P-2"], "CustomerID": ["007", "007"],
                      "OrderDate": pa.array([dt.date(2024, 1, 1), dt.date(1, 1, 1)])})  # fmt: skip
    args, want = _parquet(path, table, "orders", ORDER_COLS)
    return args, [*want, "row 2", "column 'OrderDate'", RANGE, "found '0001-01-01'"]


@case("date: a typed Parquet timestamp in 2099")
def _(tmp: Path) -> Built:
    path = tmp / "orders.parquet"
    stamps = pa.array([dt.datetime(2024, 1, 1, 10), dt.datetime(2099, 12, 31, 23, 59)],
                      pa.timestamp("us"))  # fmt: skip
    table = pa.table({"OrderID": ["P-1", "P-2"], "CustomerID": ["007", "007"], "OrderDate": stamps})
    args, want = _parquet(path, table, "orders", ORDER_COLS)
    return args, [*want, "row 2", "column 'OrderDate'", RANGE, "found '2099-12-31"]


@case("date: an INT96 timestamp 0001-01-01 (as old Spark and Hive write them)")
def _(tmp: Path) -> Built:
    path = tmp / "orders.parquet"
    stamps = pa.array([dt.datetime(2024, 1, 1), dt.datetime(1, 1, 1)], pa.timestamp("us"))
    table = pa.table({"OrderID": ["P-1", "P-2"], "CustomerID": ["007", "007"], "OrderDate": stamps})
    pq.write_table(table, path, use_deprecated_int96_timestamps=True)
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 2", "column 'OrderDate'", RANGE, "found '0001-01-01"]


@case("date: a typed Parquet date 2099 in a costs table")
def _(tmp: Path) -> Built:
    path = tmp / "costs.parquet"
    table = pa.table({"Id": ["007"], "What": ["visit"], "When": pa.array([dt.date(2099, 1, 1)]),
                      "Amount": [10.0]})  # fmt: skip
    cols = ["account_id=Id", "activity=What", "date=When", "amount=Amount"]
    args, want = _parquet(path, table, "costs", cols)
    return args, [*want, "row 1", "column 'When'", RANGE]


def _time(tmp: Path, text: str) -> Built:
    args, want = _orders(tmp / "orders.csv", ["A-1,007,2024-01-15", f"A-2,007,{text}"])
    return args, [*want, "row 3", "column 'OrderDate'", "expected a date as yyyy-mm-dd",
                  f"found '{text}'"]  # fmt: skip


@case("time: 99:99")
def _(tmp: Path) -> Built:
    return _time(tmp, "2024-01-15 99:99")


@case("time: 25:00")
def _(tmp: Path) -> Built:
    return _time(tmp, "2024-01-15T25:00")


@case("time: 10:60:00")
def _(tmp: Path) -> Built:
    return _time(tmp, "2024-01-15 10:60:00")


@case("time: 10:30:75")
def _(tmp: Path) -> Built:
    return _time(tmp, "2024-01-15 10:30:75")


def _formula(tmp: Path, column: str, cell: str) -> Built:
    """A workbook as openpyxl writes it: formulas without a cached value."""
    path = tmp / "lines.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["Cust", "Day", "Qty", "Price", "Discount", "Note"])
    sheet.append(["007", dt.datetime(2024, 1, 15), 2, 10.0, 0.1, "=1+1"])  # unmapped: fine
    sheet.append(["007", dt.datetime(2024, 1, 16), 3, 10.0, 0.05, None])
    sheet[cell] = "=0.05*2"
    wb.save(path)
    cols = [*LINE_COLS, "discount=Discount"]
    return ["order_lines", str(path), *_cols(cols)], [
        str(path), f"row {cell[1:]}", f"column '{column}'", f"cell {cell}", "formula",
        "found '=0.05*2'",
    ]  # fmt: skip


@case("xlsx: a formula without a saved value in an optional column")
def _(tmp: Path) -> Built:
    return _formula(tmp, "Discount", "E3")


@case("xlsx: a formula without a saved value in a required column")
def _(tmp: Path) -> Built:
    return _formula(tmp, "Qty", "C2")


@case("xlsx: a formula without a saved value in an id column")
def _(tmp: Path) -> Built:
    return _formula(tmp, "Cust", "A3")


# -- C: malformed text, named in the user's terms ----------------------------------------------


@case("csv: a truncated last line")
def _(tmp: Path) -> Built:
    path = tmp / "orders.csv"
    path.write_text("OrderID,CustomerID,OrderDate\nA-1,007,2024-01-15\nA-2,00")
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 3", "expected 3 fields", "found 2"]


@case("csv: an unterminated quote")
def _(tmp: Path) -> Built:
    path = tmp / "orders.csv"
    path.write_text('OrderID,CustomerID,OrderDate\nA-1,007,2024-01-15\nA-2,"007,2024-01-16\n'
                    "A-3,007,2024-01-17\n")  # fmt: skip
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 3", "closing quote", "found the end of the file"]


@case("csv: an unterminated quote after many rows")
def _(tmp: Path) -> Built:
    path = tmp / "orders.csv"
    rows = "".join(f"A-{i},007,2024-01-15\n" for i in range(70_000))
    path.write_text(f'OrderID,CustomerID,OrderDate\n{rows}A-x,"007,2024-01-16\n')
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 70002", "closing quote"]


@case("csv: a truncated line in the middle of a large file")
def _(tmp: Path) -> Built:
    path = tmp / "orders.csv"
    rows = [f"A-{i},007,2024-01-15\n" for i in range(70_000)]
    rows[50_000] = "A-x,007\n"
    path.write_text("OrderID,CustomerID,OrderDate\n" + "".join(rows))
    args = ["orders", str(path), *_cols(ORDER_COLS)]
    return args, [str(path), "row 50002", "expected 3 fields", "found 2"]


def _refused(ws: Path, args: list[str], want: list[str]) -> None:
    data = ws / "data"
    before = _hashes(data)
    assert before, "the workspace holds a good import"
    res = _cli("import", str(ws), *args)
    err = res.stderr.strip()
    assert res.returncode == 1, (res.returncode, res.stdout, err)
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    for part in want:
        assert part in err, (part, err)
    assert _hashes(data) == before


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_line_and_changes_nothing(ws: Path, tmp_path: Path, name: str
                                                       ) -> None:  # fmt: skip
    src = tmp_path / "src"
    src.mkdir()
    args, want = CASES[name](src)
    _refused(ws, args, want)


# -- odd but valid files import --------------------------------------------------------------


def _imported(ws: Path, args: list[str]) -> Workspace:
    res = _cli("import", str(ws), *args)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return Workspace(ws)


def test_a_nested_column_that_is_not_mapped_is_ignored(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({
        "OrderID": ["P-1", "P-2"], "CustomerID": ["007", "0042"],
        "OrderDate": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2)]),
        "Meta": pa.array([{"a": [1, 2]}, {"a": []}], pa.struct([("a", pa.list_(pa.int64()))])),
        "Tags": pa.array([["x"], None], pa.list_(pa.string())),
    }), path)  # fmt: skip
    w = _imported(ws, ["orders", str(path), *_cols(ORDER_COLS)])
    assert w.read_table("orders")["account_id"].to_pylist() == ["007", "0042"]


def test_whole_floats_are_ids_and_negative_quantities_are_returns(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "lines.parquet"
    pq.write_table(pa.table({
        "Cust": pa.array([7.0, 42.0]), "Day": pa.array([dt.date(2024, 1, 1)] * 2),
        "Qty": pa.array([1.0, -1.0]), "Price": pa.array([999_999_999_999_999.0, 0.0]),
    }), path)  # fmt: skip
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("Id\n7\n42\n")
    _imported(ws, ["accounts", str(accounts), "--col", "account_id=Id"])
    lines = _imported(ws, ["order_lines", str(path), *_cols(LINE_COLS)]).read_table("order_lines")
    assert lines["account_id"].to_pylist() == ["7", "42"]
    assert lines["quantity"].to_pylist() == [1.0, -1.0]


def test_a_one_megabyte_cell_in_an_unmapped_column(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    big = "x" * (1 << 20)
    huge = '"' + ("y" * 1000 + "\n") * 6000 + '"'  # 6 MB with line breaks, past a block
    path.write_text(f"OrderID,CustomerID,OrderDate,Note\nA-1,007,2024-01-15,{big}\n"
                    f"A-2,0042,2024-01-16,{huge}\nA-3,100,2024-01-17,\n")  # fmt: skip
    orders = _imported(ws, ["orders", str(path), *_cols(ORDER_COLS)]).read_table("orders")
    assert orders["order_id"].to_pylist() == ["A-1", "A-2", "A-3"]


def test_unmapped_duplicate_and_empty_header_names_are_ignored(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("OrderID,Note,CustomerID,Note,,OrderDate,\nA-1,a,007,b,c,2024-01-15,d\n")
    orders = _imported(ws, ["orders", str(path), *_cols(ORDER_COLS)]).read_table("orders")
    assert orders["account_id"].to_pylist() == ["007"]
    pqt = tmp_path / "orders.parquet"
    arrays = [pa.array(["P-1"]), pa.array(["x"]), pa.array(["007"]), pa.array(["y"]),
              pa.array([dt.date(2024, 1, 1)])]  # fmt: skip
    names = ["OrderID", "Note", "CustomerID", "Note", "OrderDate"]
    pq.write_table(pa.Table.from_arrays(arrays, names=names), pqt)
    orders = _imported(ws, ["orders", str(pqt), *_cols(ORDER_COLS)]).read_table("orders")
    assert orders["order_id"].to_pylist() == ["P-1"]


def test_merged_header_cells_and_a_stray_cell_at_the_sheets_end(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["OrderID", "CustomerID", "OrderDate", "Notes", None, None, "Notes"])
    sheet.append(["A-1", "007", dt.datetime(2024, 1, 15), "a", "b", "c", "d"])
    sheet.append(["A-2", "0042", dt.datetime(2024, 1, 16), "e", "f", "g", "h"])
    sheet.merge_cells("D1:F1")
    sheet.cell(row=1_048_576, column=16_384).font = Font(bold=True)
    wb.save(path)
    orders = _imported(ws, ["orders", str(path), *_cols(ORDER_COLS)]).read_table("orders")
    assert orders["order_id"].to_pylist() == ["A-1", "A-2"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_read_by_their_bom(ws: Path, tmp_path: Path, encoding: str
                                                     ) -> None:  # fmt: skip
    path = tmp_path / "accounts.csv"
    text = "CustomerID,CompanyName\r\n007,Société Générale\r\n0042,Zürich Ämter 東京\r\n"
    bom = {"utf-16": b"", "utf-16-be": b"\xfe\xff", "utf-32": b""}[encoding]
    path.write_bytes(bom + text.encode(encoding))
    cols = ["--col", "account_id=CustomerID", "--col", "name=CompanyName"]
    accounts = _imported(ws, ["accounts", str(path), *cols]).read_table("accounts")
    assert accounts["account_id"].to_pylist() == ["007", "0042"]
    assert accounts["name"].to_pylist() == ["Société Générale", "Zürich Ämter 東京"]


def test_a_wider_date_range_and_two_digit_years(ws: Path, tmp_path: Path) -> None:
    """date_range widens the plausible years; a two-digit year takes the century that puts
    it in the range (60 is 1960, 11 is 2011)."""
    path = tmp_path / "orders.csv"
    path.write_text("OrderID,CustomerID,OrderDate\nA-1,007,1/14/60\nA-2,007,1/14/11\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[orders]\nfile = "orders.csv"\ndate_format = "%m/%d/%y"\n'
                       'columns = { order_id = "OrderID", account_id = "CustomerID", '
                       'order_date = "OrderDate" }\n')  # fmt: skip
    orders = _imported(ws, ["--mapping", str(mapping)]).read_table("orders")
    assert orders["order_date"].to_pylist() == [dt.date(1960, 1, 14), dt.date(2011, 1, 14)]
    path.write_text("OrderID,CustomerID,OrderDate\nA-1,007,2099-12-31\nA-2,007,1850-01-01\n")
    mapping.write_text(mapping.read_text().replace('"%m/%d/%y"', '"%Y-%m-%d"')
                       + "date_range = [1800, 2100]\n")  # fmt: skip
    orders = _imported(ws, ["--mapping", str(mapping)]).read_table("orders")
    assert orders["order_date"].to_pylist() == [dt.date(2099, 12, 31), dt.date(1850, 1, 1)]


def test_a_formula_with_a_saved_value_is_read(ws: Path, tmp_path: Path) -> None:
    path = tmp_path / "lines.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["Cust", "Day", "Qty", "Price", "Discount"])
    sheet.append(["007", dt.datetime(2024, 1, 15), 2, 10.0, 0.1])
    wb.save(path)
    # a cached value, as Excel saves it: <c><f>0.05*2</f><v>0.1</v></c>
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    xml = parts["xl/worksheets/sheet1.xml"]
    old = b'<c r="E2" t="n"><v>0.1</v></c>'
    assert old in xml, xml
    parts["xl/worksheets/sheet1.xml"] = xml.replace(old, b'<c r="E2"><f>0.05*2</f><v>0.1</v></c>')
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    cols = [*LINE_COLS, "discount=Discount"]
    lines = _imported(ws, ["order_lines", str(path), *_cols(cols)]).read_table("order_lines")
    assert lines["discount"].to_pylist() == [0.1]


def test_quotes_that_close_and_inch_marks_are_not_an_open_quote(ws: Path, tmp_path: Path) -> None:
    """The check for a quote that never closes sees the file's last record: a quoted
    field over two lines there, and a quote inside an unquoted field (12" pipe), are fine."""
    path = tmp_path / "accounts.csv"
    path.write_text(
        'CustomerID,CompanyName,Note\n007,12" Pipes Ltd,x\n0042,Acme,"two\nlines"\n',
        encoding="utf-8",
    )
    cols = ["--col", "account_id=CustomerID", "--col", "name=CompanyName"]
    accounts = _imported(ws, ["accounts", str(path), *cols]).read_table("accounts")
    assert accounts["name"].to_pylist() == ['12" Pipes Ltd', "Acme"]

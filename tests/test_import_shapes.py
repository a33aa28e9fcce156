"""Files of other shapes (issue 10, items 7-9, the reader side): headerless and odd-delimited
text, .xls and .ods, sheets by number, files that are not what their name says, and
problems that point at the right row and name the right fix."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest
from typer.testing import CliRunner

from keyfolio.cli import build_app
from keyfolio.errors import ImportValidationError, KeyfolioError, Problem
from keyfolio.ingest import ReadOptions, import_files, import_mapping, import_table
from keyfolio.ingest.readers import open_source
from keyfolio.workspace import POLICY_FILE, Workspace

ORDERS = {"order_id": "OrderID", "account_id": "CustomerID", "order_date": "OrderDate"}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / POLICY_FILE).write_text('currency = "EUR"\n')
    return Workspace(root)


def _problems(call: object, *args: object, **kwargs: object) -> list[Problem]:
    with pytest.raises(ImportValidationError) as e:
        call(*args, **kwargs)  # type: ignore[operator]
    return e.value.problems


# -- item 7: headerless and odd-delimited text ---------------------------------------------


def test_headerless_multichar_delimiter_latin1_with_names(ws: Workspace, tmp_path: Path) -> None:
    """Microsoft's ERP sample files: no header, fields between |+|, latin-1."""
    src = tmp_path / "CUSTTABLE.txt"
    src.write_bytes(
        "007|+|Société Générale|+|Paris\n"
        '0042|+|"Pipes |+| Tubes"|+|Zürich\n'  # a quoted field may hold the delimiter
        "100|+|Acme Corp|+|\n".encode("latin-1")
    )
    opts = ReadOptions(delimiter="|+|", encoding="latin-1", header=False,
                       names=["AccountNum", "Name", "City"])  # fmt: skip
    result = import_table(ws, "accounts", src, {"account_id": "AccountNum", "name": "Name"}, opts)
    assert result.tables == {"accounts": 3}
    acc = ws.read_table("accounts")
    assert acc["account_id"].to_pylist() == ["007", "0042", "100"]
    assert acc["name"].to_pylist() == ["Société Générale", "Pipes |+| Tubes", "Acme Corp"]


def test_headerless_rows_are_numbered_from_one(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "orders.txt"
    src.write_text("A-1|+|007|+|2024-01-15\nA-2|+|007|+|2024-02-30\n")
    opts = ReadOptions(delimiter="|+|", header=False, names=["OrderID", "CustomerID", "OrderDate"])
    problems = _problems(import_table, ws, "orders", src, ORDERS, opts)
    assert [(p.row, p.column, p.found) for p in problems] == [(2, "OrderDate", "'2024-02-30'")]


def test_positional_columns_in_a_mapping(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "acc.csv").write_text("x;007;Bond Supplies\ny;0042;NA\n")
    (tmp_path / "m.toml").write_text(
        '[accounts]\nfile = "acc.csv"\ndelimiter = ";"\nheader = false\n'
        "columns = { account_id = 2, name = 3 }\n"
    )
    assert import_mapping(ws, tmp_path / "m.toml").tables == {"accounts": 2}
    acc = ws.read_table("accounts")
    assert acc["account_id"].to_pylist() == ["007", "0042"]
    assert acc["name"].to_pylist() == ["Bond Supplies", "NA"]


def test_positional_columns_with_names(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "acc.csv").write_text("x,007,Bond\n")
    (tmp_path / "m.toml").write_text(
        '[accounts]\nfile = "acc.csv"\nheader = false\nnames = ["Kind", "Id", "Name"]\n'
        'columns = { account_id = 2, name = "Name" }\n'
    )
    import_mapping(ws, tmp_path / "m.toml")
    assert ws.read_table("accounts")["account_id"].to_pylist() == ["007"]


def test_whitespace_aligned_text(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "report.txt"
    src.write_text(
        "OrderID    CustomerID   OrderDate     Freight\r\n"
        "  A-001    007          2024-01-15    12.5   \r\n"
        "\r\n"
        'A-002      "0042 B"     2024-02-01\t3\r\n'
        "A-003      100          2024-02-1x    1\r\n"
    )
    cols = {**ORDERS, "freight": "Freight"}
    opts = ReadOptions(delimiter="whitespace")
    problems = _problems(import_table, ws, "orders", src, cols, opts)
    assert [(p.row, p.column, p.found) for p in problems] == [(5, "OrderDate", "'2024-02-1x'")]
    src.write_text(src.read_text().replace("2024-02-1x", "2024-02-10"))
    import_table(
        ws,
        "orders",
        src,
        cols,
        opts,
    )
    orders = ws.read_table("orders")
    assert orders["account_id"].to_pylist() == ["007", "0042 B", "100"]
    assert orders["freight"].to_pylist() == [12.5, 3.0, 1.0]


def test_translated_stream_across_chunk_boundaries(tmp_path: Path) -> None:
    """More than one 1 MiB chunk: every |+| and every aligned field survives the seams."""
    rows = [f"{i:07d}|+|name {i}|+|{'x' * (i % 37)}" for i in range(60_000)]
    src = tmp_path / "big.txt"
    src.write_text("\n".join(rows) + "\n")
    opts = ReadOptions(delimiter="|+|", header=False)
    got = [r for b in open_source(src, opts).batches for r in b.to_pylist()]
    assert len(got) == 60_000
    assert got[59_999] == {"1": "0059999", "2": "name 59999", "3": "x" * (59_999 % 37),
                           "__row": 60_000}  # fmt: skip
    assert all(r["2"] == f"name {int(r['1'])}" for r in got)
    aligned = tmp_path / "aligned.txt"
    aligned.write_text("".join(f'{i:<9d}"name {i}"   {i % 7}\n' for i in range(60_000)))
    got = [r for b in open_source(aligned, ReadOptions(delimiter="whitespace", header=False))
           .batches for r in b.to_pylist()]  # fmt: skip
    assert len(got) == 60_000
    assert all(r["2"] == f"name {r['1']}" and r["3"] == str(int(r["1"]) % 7) for r in got)


def test_reading_with_duckdb_and_pyarrow_agree_on_the_erp_layout(tmp_path: Path) -> None:
    """An independent reader (DuckDB's, which takes |+| natively) reads the same values."""
    duckdb = pytest.importorskip("duckdb")
    src = tmp_path / "erp.txt"
    src.write_bytes("".join(f"{i:05d}|+|Café {i}|+|{i / 4}\n" for i in range(5000))
                    .encode("latin-1"))  # fmt: skip
    opts = ReadOptions(delimiter="|+|", encoding="latin-1", header=False, names=["a", "b", "c"])
    mine = [tuple(r.values())[:3] for b in open_source(src, opts).batches for r in b.to_pylist()]
    theirs = (
        duckdb.connect()
        .execute(
            "SELECT * FROM read_csv($p, delim = '|+|', encoding = 'latin-1', header = false, "
            "all_varchar = true)",
            {"p": str(src)},
        )
        .fetchall()
    )
    assert mine == theirs


# -- item 8: other spreadsheet formats -------------------------------------------------------


def _write_xls(path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    wb = xlwt.Workbook()
    notes = wb.add_sheet("Notes")
    notes.write(0, 0, "exported 2024-03-01")
    sheet = wb.add_sheet("Orders")
    date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    sheet.write(1, 0, "OrderID")
    sheet.write(1, 1, "CustomerID")
    sheet.write(1, 2, "OrderDate")
    sheet.write(1, 3, "Freight")
    sheet.write(2, 0, 10248)
    sheet.write(2, 1, "007")
    sheet.write(2, 2, dt.datetime(2024, 1, 15), date)
    sheet.write(2, 3, 12.5)
    # row 4 (index 3) left blank
    sheet.write(4, 0, "A-2")
    sheet.write(4, 1, "0042")
    sheet.write(4, 2, "soon")
    sheet.write(4, 3, 3)
    wb.save(str(path))


def test_xls_by_sheet_number(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "orders.xls"
    _write_xls(path)
    cols = {**ORDERS, "freight": "Freight"}
    opts = ReadOptions(sheet=2, header_row=2)
    problems = _problems(import_table, ws, "orders", path, cols, opts)
    assert [(p.row, p.column, p.found) for p in problems] == [(5, "OrderDate", "'soon'")]
    opts.where = "OrderID <> 'A-2'"
    import_table(ws, "orders", path, cols, opts)
    orders = ws.read_table("orders")
    assert orders["order_id"].to_pylist() == ["10248"]
    assert orders["account_id"].to_pylist() == ["007"]
    assert orders["order_date"].to_pylist() == [dt.date(2024, 1, 15)]
    assert orders["freight"].to_pylist() == [12.5]


def _write_ods(path: Path, rows: list[list[object]], sheet: str = "Accounts") -> None:
    """A minimal OpenDocument spreadsheet, written by hand (it is zipped XML)."""

    def cell(v: object) -> str:
        if v is None:
            return "<table:table-cell/>"
        if isinstance(v, dt.date):
            return (f'<table:table-cell office:value-type="date" office:date-value="{v}">'
                    f"<text:p>{v}</text:p></table:table-cell>")  # fmt: skip
        if isinstance(v, int | float):
            return (f'<table:table-cell office:value-type="float" office:value="{v}">'
                    f"<text:p>{v}</text:p></table:table-cell>")  # fmt: skip
        return (f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}'
                "</text:p></table:table-cell>")  # fmt: skip

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows
    )
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')  # fmt: skip
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} '
               f'office:version="1.2"><office:body><office:spreadsheet>'
               f'<table:table table:name="{sheet}">{body}</table:table>'
               "</office:spreadsheet></office:body></office:document-content>")  # fmt: skip
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type='
                '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>")  # fmt: skip
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)  # fmt: skip
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)


def test_ods(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "accounts.ods"
    _write_ods(path, [["CustomerID", "CompanyName", "Employees"], ["007", "Bond Supplies", 120],
                      [None, None, None], ["0042", "Société Générale", 80.5]])  # fmt: skip
    cols = {"account_id": "CustomerID", "name": "CompanyName"}
    import_table(ws, "accounts", path, cols, ReadOptions(sheet="Accounts"))
    acc = ws.read_table("accounts")
    assert acc["account_id"].to_pylist() == ["007", "0042"]
    assert acc["name"].to_pylist() == ["Bond Supplies", "Société Générale"]
    src = open_source(path, ReadOptions())
    assert [r["__row"] for b in src.batches for r in b.to_pylist()] == [2, 4]  # blank row 3


def _workbook(path: Path) -> None:
    wb = openpyxl.Workbook()
    first = wb.active
    assert first is not None
    first.title = "Summary"
    first.append(["nothing here"])
    wb.create_sheet("Orders 2023").append(["OrderID", "CustomerID", "OrderDate"])
    orders = wb.create_sheet("Orders 2024")
    orders.append([None, None, "OrderID", "CustomerID", "OrderDate"])  # starts in column C
    orders.append([None, None, "A-1", "007", dt.datetime(2024, 1, 15)])
    wb.save(path)


def test_sheet_by_number_and_data_not_in_column_a(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    _workbook(path)
    assert import_table(ws, "orders", path, ORDERS, ReadOptions(sheet=3)).tables == {"orders": 1}
    assert ws.read_table("orders")["order_date"].to_pylist() == [dt.date(2024, 1, 15)]
    # the command line's --sheet is text: a number when no sheet has that name
    import_files(ws, table="orders", file=path, columns=[f"{k}={v}" for k, v in ORDERS.items()],
                 options={"sheet": "3"})  # fmt: skip
    assert ws.read_table("orders")["order_id"].to_pylist() == ["A-1"]


@pytest.mark.parametrize(
    "sheet, expected, found",
    [
        ("Orders", "a sheet named 'Orders'",
         "sheets 1 'Summary', 2 'Orders 2023', 3 'Orders 2024'; did you mean 'Orders 2024'?"),
        (8, "a sheet number from 1 to 3 (sheet)",
         "sheet 8; the sheets 1 'Summary', 2 'Orders 2023', 3 'Orders 2024'"),
    ],
)  # fmt: skip
def test_missing_sheet_lists_the_sheets(
    ws: Workspace, tmp_path: Path, sheet: str | int, expected: str, found: str
) -> None:
    path = tmp_path / "orders.xlsx"
    _workbook(path)
    problems = _problems(import_table, ws, "orders", path, ORDERS, ReadOptions(sheet=sheet))
    assert problems == [Problem(str(path), None, None, expected, found)]


def test_headerless_sheet(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "accounts.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append([None, None])
    sheet.append(["007", "Bond Supplies"])
    sheet.append(["0042", "Acme", "x"])
    wb.save(path)
    opts = ReadOptions(header=False, names=["Id", "Name"])
    problems = _problems(import_table, ws, "accounts", path, {"account_id": "Id"}, opts)
    assert [(p.row, p.found) for p in problems] == [(3, "3 fields")]
    cols = {"account_id": "1", "name": "2"}  # numbered columns: A is "1"
    import_table(ws, "accounts", path, cols, ReadOptions(header=False))
    assert ws.read_table("accounts")["name"].to_pylist() == ["Bond Supplies", "Acme"]


def test_xls_that_is_really_html(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "export.xls"
    path.write_text(
        '\ufeff<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body><table>'
        "<tr><td>OrderID</td><td>CustomerID</td></tr></table></body></html>\n"
    )
    with pytest.raises(ImportValidationError) as e:
        import_table(ws, "orders", path, ORDERS)
    assert e.value.problems == [
        Problem(str(path), None, None, "an Excel 97-2003 .xls workbook",
                "an HTML page, not a workbook (many web apps' \"Excel export\" is one): open "
                "it in Excel or LibreOffice and save it as .xlsx, or export CSV instead")
    ]  # fmt: skip
    assert "\n" not in str(e.value)  # one problem: one line, with the heading
    path.write_text("OrderID\tCustomerID\nA-1\t007\n")
    problems = _problems(import_table, ws, "orders", path, ORDERS)
    assert problems[0].found.startswith("tab-separated text, not a workbook")


# -- item 9: problems point at the right place -----------------------------------------------


def test_cr_only_file_bad_byte_row(ws: Workspace, tmp_path: Path) -> None:
    """An old Mac file ends lines with CR alone: the bad byte's row is its line, 13."""
    src = tmp_path / "accounts.csv"
    lines = ["CustomerID,CompanyName"] + [f"{i:03d},Firm {i}" for i in range(11)]
    src.write_bytes(("\r".join(lines) + "\r").encode() + b"011,Soci\xe9t\xe9\r")
    problems = _problems(import_table, ws, "accounts", src, {"account_id": "CustomerID"})
    assert [(p.row, p.found) for p in problems] == [
        (13, "byte 0xE9 at byte offset 153, not valid utf-8")
    ]


def test_mac_roman_file_hint_names_mac_roman(ws: Workspace, tmp_path: Path) -> None:
    """cp1252 decodes these bytes too, as "SociŽtŽ GŽnŽrale": the hint must not offer it."""
    src = tmp_path / "accounts.csv"
    text = "CustomerID,CompanyName\n007,Société Générale\n0042,Müller GmbH\n"
    src.write_bytes(text.encode("mac_roman"))
    assert src.read_bytes().decode("cp1252") != text  # cp1252 "works", garbled
    cols = {"account_id": "CustomerID", "name": "CompanyName"}
    problems = _problems(import_table, ws, "accounts", src, cols)
    assert [(p.row, p.expected) for p in problems] == [
        (2, 'text in utf-8 (the file reads cleanly as "mac_roman": set encoding = "mac_roman")')
    ]
    import_table(ws, "accounts", src, cols, ReadOptions(encoding="mac_roman"))
    assert ws.read_table("accounts")["name"].to_pylist() == ["Société Générale", "Müller GmbH"]


def test_one_table_form_hints_name_the_command_line_options(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    src.write_text("Orders export\n\nOrderID,CustomerID,OrderDate\nA-1,007,15.01.2024\n")
    cols = [f"{k}={v}" for k, v in ORDERS.items()]
    problems = _problems(import_files, ws, table="orders", file=src, columns=cols)
    assert problems[0].found == "it in row 3: use --header-row 3"
    problems = _problems(import_files, ws, table="orders", file=src, columns=cols,
                         options={"header_row": 3})  # fmt: skip
    assert problems[0].expected.startswith("a date as yyyy-mm-dd (or use --date-format, e.g.")
    semi = tmp_path / "semi.csv"
    semi.write_text("OrderID;CustomerID;OrderDate\nA-1;007;2024-01-15\n")
    problems = _problems(import_files, ws, table="orders", file=semi, columns=cols)
    assert problems[0].found.endswith("the delimiter is likely ';' (use --delimiter ';')")
    with pytest.raises(KeyfolioError, match="^--header-row: expected an integer >= 1"):
        import_files(ws, table="orders", file=semi, columns=cols, options={"header_row": 0})
    # the mapping form keeps the mapping's keys
    problems = _problems(import_table, ws, "orders", semi, ORDERS)
    assert problems[0].found.endswith("(set delimiter = ';')")


def test_a_later_row_with_too_many_fields_is_located(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    src.write_text("OrderID,CustomerID,OrderDate\n" + "A-1,007,2024-01-15\n" * 4
                   + '\n"A\n1",007,2024-01-15\n"A,2",007,2024-01-15,extra\n')  # fmt: skip
    problems = _problems(import_table, ws, "orders", src, ORDERS)
    assert problems == [  # line 9: after a blank line and a quoted line break
        Problem(str(src), 9, None, "3 fields per row, like the header", "4 fields")
    ]


# -- bad input for the new options -----------------------------------------------------------


def test_names_count_not_matching_the_columns(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "acc.txt"
    src.write_text("007|+|Bond|+|Paris\n")
    opts = ReadOptions(delimiter="|+|", header=False, names=["Id", "Name"])
    problems = _problems(import_table, ws, "accounts", src, {"account_id": "Id"}, opts)
    assert problems == [
        Problem(str(src), 1, None, "2 fields per row, as names lists (Id, Name)", "3 fields")
    ]


def test_positional_column_beyond_the_last(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "acc.csv").write_text("x,007,Bond\n")
    (tmp_path / "m.toml").write_text(
        '[accounts]\nfile = "acc.csv"\nheader = false\ncolumns = { account_id = 2, name = 5 }\n'
    )
    problems = _problems(import_mapping, ws, tmp_path / "m.toml")
    assert problems == [
        Problem(str(tmp_path / "acc.csv"), None, "5",
                "a column number from 1 to 3 (mapped to name)", "column 5; the rows have 3 fields")
    ]  # fmt: skip
    (tmp_path / "m.toml").write_text(
        '[accounts]\nfile = "acc.csv"\nheader = false\nnames = ["a", "b", "c"]\n'
        "columns = { account_id = 4 }\n"
    )
    with pytest.raises(KeyfolioError, match=r"accounts.columns.account_id: column 4 is beyond"):
        import_mapping(ws, tmp_path / "m.toml")
    (tmp_path / "m.toml").write_text('[accounts]\nfile = "acc.csv"\ncolumns = { account_id = 2 }\n')
    with pytest.raises(KeyfolioError, match="a column number .2. needs header = false"):
        import_mapping(ws, tmp_path / "m.toml")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"delimiter": "whitespaces"}, "delimiter: unknown delimiter name 'whitespaces'; "
         "expected one of 'whitespace', 'tab', one character such as ';' or a separator such as "
         "'|+|'; did you mean 'whitespace'?"),
        ({"delimiter": 'a"b'}, "delimiter: expected a separator of 1 to 8 characters"),
        ({"names": ["a"]}, "names: names the columns of a file without a header; "
         "set header = false too"),
        ({"header": False, "names": ["a", "a"]}, "names: 'a' twice"),
        ({"header": False, "header_row": 2}, "header_row: a file without a header has no"),
        ({"sheet": 0}, "sheet: expected a sheet name or a sheet number >= 1, found 0"),
    ],
)  # fmt: skip
def test_bad_new_options(options: dict[str, object], message: str) -> None:
    with pytest.raises(KeyfolioError) as e:
        ReadOptions(**options)  # type: ignore[arg-type]
    assert str(e.value).startswith(message)


def test_bad_new_options_in_a_mapping(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text('[accounts]\nfile = "a.csv"\nheader = "no"\n')
    with pytest.raises(KeyfolioError, match=r"accounts.header: expected true or false"):
        import_mapping(ws, tmp_path / "m.toml")
    (tmp_path / "m.toml").write_text('[accounts]\nfile = "a.csv"\ndelimiter = "space"\n')
    with pytest.raises(KeyfolioError, match=r"m.toml: accounts.delimiter: unknown delimiter name"):
        import_mapping(ws, tmp_path / "m.toml")


def test_delimiter_substitute_in_the_data_is_reported(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "acc.txt"
    src.write_text("Id|+|Name\n007|+|Bond\n0042|+|A\x1fB\n")
    problems = _problems(import_table, ws, "accounts", src, {"account_id": "Id"},
                         ReadOptions(delimiter="|+|"))  # fmt: skip
    assert [(p.row, p.found) for p in problems] == [(3, "the character U+001F")]


def test_cli_reading_options(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "acc.txt"
    src.write_bytes("007|+|Société|+|x\n0042|+|Bond|+|y\n".encode("latin-1"))
    args = ["import", str(ws.root), "accounts", str(src), "--no-header", "--names", "Id,Name,X",
            "--delimiter", "|+|", "--encoding", "latin-1", "--col", "account_id=1",
            "--col", "name=Name"]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert ws.read_table("accounts")["name"].to_pylist() == ["Société", "Bond"]
    book = tmp_path / "orders.xlsx"
    _workbook(book)
    args = ["import", str(ws.root), "orders", str(book), "--sheet", "Orders",
            *(x for k, v in ORDERS.items() for x in ("--col", f"{k}={v}"))]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 1
    assert "sheets 1 'Summary', 2 'Orders 2023', 3 'Orders 2024'" in result.output

"""Real exports, never a silently wrong figure (issue 10): two-digit years, several date
formats in one column, a discount next to a line amount, a line amount against quantity x
price, missing markers in id columns, computed columns, attributes from the flat file, and
failures as JSON. Every file here is written by the test."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from keyfolio.errors import ImportValidationError, KeyfolioError
from keyfolio.ingest import import_mapping
from keyfolio.workspace import POLICY_FILE, Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / POLICY_FILE).write_text('currency = "EUR"\n')
    return Workspace(root)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _mapping(tmp_path: Path, body: str) -> Path:
    return _write(tmp_path / "mapping.toml", body)


FLAT = """[order_lines]
file = "sales.csv"
columns = {{ account_id = "CustomerID", order_date = "InvoiceDate", quantity = "Quantity", {more} }}
{options}
"""


def _flat(tmp_path: Path, csv: str, more: str, options: str = "") -> Path:
    _write(tmp_path / "sales.csv", csv)
    return _mapping(tmp_path, FLAT.format(more=more, options=options))


# -- 1. dates ----------------------------------------------------------------------------------
def test_two_digit_years_read_with_percent_y_big_are_an_error(
    ws: Workspace, tmp_path: Path
) -> None:
    csv = "CustomerID,InvoiceDate,Quantity,Price\nC1,1/13/11 8:26,1,10\nC2,2/1/11 9:00,2,5\n"
    m = _flat(tmp_path, csv, 'unit_price = "Price"', 'date_format = "%m/%d/%Y %H:%M"')
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, m)
    problems = e.value.problems
    first = next(p for p in problems if p.row == 2)
    assert first.column == "InvoiceDate" and "'1/13/11 8:26'" in first.found
    assert "from 1900 to 2100" in first.expected and "%y" in first.expected
    assert not ws.has_table("order_lines")  # nothing written


def test_several_date_formats_are_tried_in_order(ws: Workspace, tmp_path: Path) -> None:
    csv = (
        "CustomerID,InvoiceDate,Quantity,Price\n"
        "C1,1/13/2011 8:26,1,10\nC2,1/14/11 9:00,2,5\nC3,12/31/2010 23:59,1,1\n"
    )
    m = _flat(tmp_path, csv, 'unit_price = "Price"',
              'date_format = ["%m/%d/%Y %H:%M", "%m/%d/%y %H:%M"]')  # fmt: skip
    import_mapping(ws, m)
    dates = ws.read_table("order_lines")["order_date"].to_pylist()
    assert dates == [dt.date(2011, 1, 13), dt.date(2011, 1, 14), dt.date(2010, 12, 31)]


def test_a_wide_date_range_must_be_asked_for(ws: Workspace, tmp_path: Path) -> None:
    csv = "CustomerID,InvoiceDate,Quantity,Price\nC1,1887-05-01,1,10\n"
    with pytest.raises(ImportValidationError, match="from 1900 to 2100"):
        import_mapping(ws, _flat(tmp_path, csv, 'unit_price = "Price"'))
    import_mapping(ws, _flat(tmp_path, csv, 'unit_price = "Price"', "date_range = [1850, 2100]"))
    assert ws.read_table("order_lines")["order_date"].to_pylist() == [dt.date(1887, 5, 1)]


def test_a_date_error_shows_the_kinds_of_bad_values_and_the_count(
    ws: Workspace, tmp_path: Path
) -> None:
    rows = "".join(f"C{i},31.12.2020,1,1\n" for i in range(30)) + "C99,yesterday,1,1\n"
    csv = "CustomerID,InvoiceDate,Quantity,Price\n" + rows
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, _flat(tmp_path, csv, 'unit_price = "Price"'))
    dated = [p for p in e.value.problems if p.column == "InvoiceDate"]
    assert len(dated) == 3  # two kinds of values, and the count
    assert dated[0].row == 2 and "'31.12.2020' (30 rows with this value)" == dated[0].found
    assert dated[1].row == 32 and dated[1].found == "'yesterday'"
    assert dated[2].row is None and dated[2].found == "31 row(s) in all, 2 distinct value(s)"


def test_bad_date_options_are_one_line_errors(ws: Workspace, tmp_path: Path) -> None:
    csv = "CustomerID,InvoiceDate,Quantity,Price\nC1,2020-01-01,1,1\n"
    for options, message in (
        ("date_range = [2100, 1900]", "expected two years [first, last]"),
        ("date_range = [1900]", "expected two years [first, last]"),
        ("date_format = []", "date_format"),
        ("date_format = [1]", "expected a list of strings"),
    ):
        with pytest.raises(KeyfolioError, match=message.replace("[", r"\[").replace("]", r"\]")):
            import_mapping(ws, _flat(tmp_path, csv, 'unit_price = "Price"', options))


def test_cli_json_is_unchanged_for_a_good_import(ws: Workspace, tmp_path: Path) -> None:
    csv = "CustomerID,InvoiceDate,Quantity,Price\nC1,2020-01-01,1,1\n"
    m = _flat(tmp_path, csv, 'unit_price = "Price"')
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "import", str(ws.root),
         "--mapping", str(m), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["tables"] == {"order_lines": 1, "accounts": 1} or json.loads(
        res.stdout
    )["tables"] == {"order_lines": 1}

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
    # the default range: 1950 to the end of next year
    assert f"from 1950 to {dt.date.today().year + 1}" in first.expected and "%y" in first.expected
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
    with pytest.raises(ImportValidationError, match=f"from 1950 to {dt.date.today().year + 1}"):
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


# -- 2. a discount next to a line amount --------------------------------------------------------
def test_a_discount_next_to_a_line_amount_is_an_error_unless_said(
    ws: Workspace, tmp_path: Path
) -> None:
    """TPC-H style: l_extendedprice is before l_discount. Mapping both silently ignored the
    discount (revenue = net_revenue): 5% too much revenue."""
    csv = (
        "CustomerID,InvoiceDate,Quantity,Amount,Disc\n"
        "C1,2020-01-01,2,200,0.05\nC2,2020-01-02,1,100,0\n"
    )
    m = _flat(tmp_path, csv, 'net_revenue = "Amount", discount = "Disc"')
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, m)
    (p,) = e.value.problems
    assert p.column == "Disc" and "not both" in p.expected
    assert "net_revenue_before_discount = true" in p.expected
    m = _flat(tmp_path, csv, 'net_revenue = "Amount", discount = "Disc"',
              "net_revenue_before_discount = true")  # fmt: skip
    import_mapping(ws, m)
    assert ws.read_table("order_lines")["net_revenue"].to_pylist() == [190.0, 100.0]


# -- 3. a line amount against quantity x price ------------------------------------------------
def test_a_line_amount_that_disagrees_with_quantity_times_price_is_said(
    ws: Workspace, tmp_path: Path
) -> None:
    """A sales file whose PRICEEACH is capped at 100 while SALES is the truth: mapping
    unit_price gives 17% less revenue; the import summary says how far the two are apart."""
    csv = "CustomerID,InvoiceDate,Quantity,PRICEEACH,SALES\n" + "".join(
        f"C{i},2020-01-0{i},10,100,{s}\n" for i, s in ((1, 1000), (2, 1500), (3, 1000))
    )
    result = import_mapping(ws, _flat(tmp_path, csv, 'unit_price = "PRICEEACH"'))
    (w,) = [w for w in result.warnings if "line amount" in w]
    assert "'SALES' totals 3,500" in w and "totals 3,000" in w and "-14.3%" in w
    assert "1 of 3 lines differ" in w and 'map net_revenue = "SALES"' in w
    assert not ws.read_table("order_lines").column_names.count("__amount")
    # mapped both ways: said too, with which one revenue uses
    m = _flat(tmp_path, csv, 'unit_price = "PRICEEACH", net_revenue = "SALES"')
    (w,) = [w for w in import_mapping(ws, m).warnings if "line amount" in w]
    assert "revenue uses 'SALES' where it is given" in w


# -- 4. missing markers ----------------------------------------------------------------------
def test_an_empty_id_names_the_empty_column_even_with_missing_markers(
    ws: Workspace, tmp_path: Path
) -> None:
    csv = (
        "InvoiceNo,CustomerID,InvoiceDate,Quantity,Price\n"
        "536365,17850,2010-12-01,6,2.55\n536366,NA,2010-12-01,6,1.85\n536367,,2010-12-01,2,3\n"
    )
    m = _flat(tmp_path, csv.replace("CustomerID,InvoiceDate", "CustomerID,InvoiceDate"),
              'order_id = "InvoiceNo", unit_price = "Price"', 'missing = ["NA"]')  # fmt: skip
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, m)
    assert [(p.row, p.column) for p in e.value.problems] == [(3, "CustomerID"), (4, "CustomerID")]


def test_a_missing_marker_in_an_id_column_is_warned(ws: Workspace, tmp_path: Path) -> None:
    """Without `missing`, 'NA' is a value (ids may be 'NA'), but it is said: here it would be
    one account carrying every line without a customer."""
    ids = ["17850", "NA", "NA", "N/A", "13047"]
    rows = "".join(f"{i},{c},2010-12-01,1,10\n" for i, c in enumerate(ids))
    csv = "InvoiceNo,CustomerID,InvoiceDate,Quantity,Price\n" + rows
    m = _flat(tmp_path, csv, 'order_id = "InvoiceNo", unit_price = "Price"')
    result = import_mapping(ws, m)
    warning = next(w for w in result.warnings if "missing marker" in w)
    assert (
        "CustomerID" in warning
        and "2 rows hold 'NA'" in warning
        and "1 row holds 'N/A'" in (warning)
    )
    assert 'missing = ["NA", "N/A"]' in warning


def test_cli_json_is_unchanged_for_a_good_import(ws: Workspace, tmp_path: Path) -> None:
    csv = "CustomerID,InvoiceDate,Quantity,Price\nC1,2020-01-01,1,1\n"
    m = _flat(tmp_path, csv, 'unit_price = "Price"')
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "import", str(ws.root),
         "--mapping", str(m), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] is True and out["tables"] == {"order_lines": 1}


def test_every_canonical_column_is_documented_in_the_readme_and_by_schema() -> None:
    from keyfolio.schema import TABLES, describe

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Canonical tables and columns") :]
    for row in describe():
        assert row["meaning"], row
        name = f"**{row['column']}**" if row["required"] else f"`{row['column']}`"
        assert f"| {name} | {row['meaning']} |" in section, row
    assert {r["table"] for r in describe()} == set(TABLES)
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "schema", "order_lines",
         "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    cols = {r["column"]: r["meaning"] for r in json.loads(res.stdout)}
    assert cols["net_revenue"].startswith("the line's amount after discount")


# -- 5. computed columns ------------------------------------------------------------------------
SUPERSTORE = (
    "Order ID,Customer ID,Order Date,Quantity,Sales,Profit\n"
    "CA-1,AB-100,2016-11-08,2,261.96,41.9136\n"
    "CA-1,AB-100,2016-11-08,3,731.94,219.582\n"
    "CA-2,DV-130,2016-06-12,2,14.62,6.8714\n"
    "CA-3,DV-130,2015-10-11,5,957.5775,-383.031\n"
)


def test_a_computed_cost_gives_the_margin_a_file_states(ws: Workspace, tmp_path: Path) -> None:
    """A Superstore-style file has Sales and Profit but no cost: unit_cost computed as
    (Sales - Profit) / Quantity makes each account's contribution margin its Profit."""
    from keyfolio.pipeline import RunOptions, run

    _write(tmp_path / "sales.csv", SUPERSTORE)
    m = _mapping(
        tmp_path,
        """[order_lines]
file = "sales.csv"
[order_lines.columns]
order_id = "Order ID"
account_id = "Customer ID"
order_date = "Order Date"
quantity = "Quantity"
net_revenue = "Sales"
unit_cost = "(Sales - Profit) / Quantity"
""",
    )  # noqa: E501  (one line of TOML)
    import_mapping(ws, m)
    cost = ws.read_table("order_lines")["unit_cost"].to_pylist()
    assert cost == pytest.approx([(261.96 - 41.9136) / 2, (731.94 - 219.582) / 3,
                                  (14.62 - 6.8714) / 2, (957.5775 + 383.031) / 5])  # fmt: skip
    ws.policy_path.write_text('currency = "USD"\n')
    pf = run(ws, RunOptions(robustness_draws=0)).portfolio.set_index("account_id")
    assert pf.at["AB-100", "contribution_margin"] == pytest.approx(41.9136 + 219.582)
    assert pf.at["DV-130", "contribution_margin"] == pytest.approx(6.8714 - 383.031)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("read_csv('/etc/passwd')", "is not allowed"),
        ("(Sales - Cost) / Quantity", "unknown column 'Cost'; the file has Order ID"),
        ("Sales / Quantity; DROP TABLE x", "expected one expression, found 2 statements"),
    ],
)
def test_a_bad_computed_column_is_refused(
    ws: Workspace, tmp_path: Path, expression: str, message: str
) -> None:
    _write(tmp_path / "sales.csv", SUPERSTORE)
    m = _mapping(
        tmp_path,
        f"""[order_lines]
file = "sales.csv"
[order_lines.columns]
order_id = "Order ID"
account_id = "Customer ID"
order_date = "Order Date"
quantity = "Quantity"
net_revenue = "Sales"
unit_cost = "{expression}"
""",
    )  # noqa: E501
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, m)
    assert any(message in p.found for p in e.value.problems), e.value.problems


def test_a_computed_value_that_is_not_a_number_is_reported_on_its_row(
    ws: Workspace, tmp_path: Path
) -> None:
    _write(
        tmp_path / "sales.csv", SUPERSTORE.replace("DV-130,2016-06-12,2,", "DV-130,2016-06-12,0,")
    )
    m = _mapping(
        tmp_path,
        """[order_lines]
file = "sales.csv"
[order_lines.columns]
order_id = "Order ID"
account_id = "Customer ID"
order_date = "Order Date"
quantity = "Quantity"
net_revenue = "Sales"
unit_cost = "(Sales - Profit) / Quantity"
""",
    )  # noqa: E501
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, m)
    (p,) = e.value.problems
    assert p.row == 4 and "a finite number from '(Sales - Profit) / Quantity'" in p.expected


# -- 6. attributes from the flat file -----------------------------------------------------------
FLAT_SALES = (
    "ORDERNUMBER,CUSTOMERNAME,COUNTRY,TERRITORY,ORDERDATE,QUANTITYORDERED,SALES\n"
    "10107,Land of Toys Inc.,USA,NA,2003-02-24,30,2871.00\n"
    "10107,Land of Toys Inc.,USA,NA,2003-02-24,50,4000.00\n"
    "10121,Reims Collectables,France,EMEA,2003-05-07,34,2765.90\n"
    "10134,Land of Toys Inc.,USA,NA,2003-07-01,41,3884.34\n"
    "10145,Reims Collectables,FR,EMEA,2003-08-25,45,4229.55\n"
)
FLAT_MAPPING = """[order_lines]
file = "sales.csv"
[order_lines.columns]
order_id = "ORDERNUMBER"
account_id = "CUSTOMERNAME"
order_date = "ORDERDATE"
quantity = "QUANTITYORDERED"
net_revenue = "SALES"

[accounts]
file = "sales.csv"
{dedupe}
[accounts.columns]
account_id = "CUSTOMERNAME"
country = "COUNTRY"
territory = "TERRITORY"
"""


def test_accounts_and_their_attributes_from_the_flat_sales_file(
    ws: Workspace, tmp_path: Path
) -> None:
    _write(tmp_path / "sales.csv", FLAT_SALES)
    # Reims' country is written two ways: a choice is needed, and the error says which
    m = _mapping(tmp_path, FLAT_MAPPING.format(dedupe=""))
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, m)
    assert all('dedupe = "first"' in p.expected for p in e.value.problems)
    result = import_mapping(ws, _mapping(tmp_path, FLAT_MAPPING.format(dedupe='dedupe = "first"')))
    acc = ws.read_table("accounts").to_pandas().set_index("account_id")
    assert acc.loc["Reims Collectables", "country"] == "France"
    assert acc.loc["Land of Toys Inc.", "territory"] == "NA"  # a value here (declared text)
    (w,) = [w for w in result.warnings if "rows for 2 account_id values" in w]
    assert "kept the first row of each" in w and "'COUNTRY' (1 account_id value)" in w
    import_mapping(ws, _mapping(tmp_path, FLAT_MAPPING.format(dedupe='dedupe = "last"')))
    acc = ws.read_table("accounts").to_pandas().set_index("account_id")
    assert acc.loc["Reims Collectables", "country"] == "FR"
    # identical repeats (every other column the same) need no choice
    agree = FLAT_SALES.replace(",FR,", ",France,")
    _write(tmp_path / "sales.csv", agree)
    result = import_mapping(ws, _mapping(tmp_path, FLAT_MAPPING.format(dedupe="")))
    assert ws.read_table("accounts").num_rows == 2
    assert result.tables["accounts"] == 2


def test_a_bad_dedupe_is_refused(ws: Workspace, tmp_path: Path) -> None:
    _write(tmp_path / "sales.csv", FLAT_SALES)
    with pytest.raises(KeyfolioError, match="expected one of first, last, error"):
        import_mapping(ws, _mapping(tmp_path, FLAT_MAPPING.format(dedupe='dedupe = "any"')))


# -- 10. --json covers failures ---------------------------------------------------------------
def test_a_failed_import_with_json_prints_the_problems(ws: Workspace, tmp_path: Path) -> None:
    csv = "CustomerID,InvoiceDate,Quantity,Price\nC1,1/13/11,1,10\nC2,2011-01-02,x,5\n"
    m = _flat(tmp_path, csv, 'unit_price = "Price"', 'date_format = "%m/%d/%Y"')
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "import", str(ws.root),
         "--mapping", str(m), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False and out["error"].startswith("import failed with")
    cells = {(p["row"], p["column"]) for p in out["problems"]}
    assert {(2, "InvoiceDate"), (3, "Quantity")} <= cells
    assert set(out["problems"][0]) == {"file", "row", "column", "expected", "found"}
    assert "Traceback" not in res.stderr
    # a mistake in the mapping itself: one error, as JSON too
    bad = _write(tmp_path / "bad.toml", "[nope]\nfile = 'x.csv'\n")
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "import", str(ws.root),
         "--mapping", str(bad), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 1 and "unknown table" in json.loads(res.stdout)["error"]

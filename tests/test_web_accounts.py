"""The accounts page, its export and the account page, through the test client on a sample
workspace whose names carry HTML (and one a spreadsheet formula)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from keyfolio import runs
from keyfolio.analysis import accounts as A
from keyfolio.db import close_db
from keyfolio.db.engine import ENV_VAR
from keyfolio.web import Settings, create_app
from keyfolio.workspace import Workspace
from webclient import EVIL, signed_in, web_workspace

FORMULA = '=HYPERLINK("http://x","y")'
JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws = web_workspace(tmp_path_factory.mktemp("web-accounts") / "ws")
    run = runs.latest(ws)
    assert run is not None
    path = run.path(runs.PORTFOLIO)  # one name a spreadsheet would run as a formula
    table = pq.read_table(path)
    names = table.column("name").to_pylist()
    names[0] = FORMULA
    i = table.schema.get_field_index("name")
    pq.write_table(
        table.set_column(i, table.schema.field(i), pa.array(names, table.schema.field(i).type)),
        path,
    )
    A.forget_snapshots()
    yield ws
    close_db(ws)
    mp.undo()


@pytest.fixture(scope="module")
def portfolio(workspace: Workspace) -> pd.DataFrame:
    run = runs.latest(workspace)
    assert run is not None
    return run.portfolio(list(A.VIEW_COLUMNS))


@pytest.fixture(scope="module")
def client(workspace: Workspace) -> Iterator[TestClient]:
    app = create_app(Settings(workspace=workspace.root))
    with TestClient(app, base_url="https://testserver") as c:
        signed_in(c, "viewer")
        yield c


def view(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get("/accounts", params={**params, "format": "json"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def every_page(client: TestClient, **params: Any) -> list[str]:
    first = view(client, **params, page_size=37)
    out = [r["account_id"] for r in first["rows"]]
    for p in range(2, first["pages"] + 1):
        out += [r["account_id"] for r in view(client, **params, page_size=37, page=p)["rows"]]
    assert len(out) == first["total"]
    return out


def test_json_twin_rows_total_page_facets(client: TestClient, portfolio: pd.DataFrame) -> None:
    body = view(client)
    assert body["total"] == len(portfolio) == 200 and body["page"] == 1 and body["pages"] == 4
    assert len(body["rows"]) == 50 and list(body["rows"][0]) == list(A.VIEW_COLUMNS)
    revenue = [r["revenue"] for r in body["rows"]]
    assert revenue == sorted(revenue, reverse=True)  # default: revenue, largest first
    assert body["query"]["sort"] == "revenue" and body["query"]["direction"] == "desc"
    facets = body["facets"]
    assert facets["tiers"] == sorted(portfolio["size_tier"].dropna().unique())
    assert facets["owners"] == sorted(portfolio["owner"].dropna().unique())
    assert "entered" in facets["decisions"]
    assert any(r["name"].startswith(EVIL) for r in body["rows"])  # JSON carries the raw text
    assert "revenue" in body["sortable"] and "reasons" not in body["sortable"]


def test_filters_sort_and_pages_match_pandas(client: TestClient, portfolio: pd.DataFrame) -> None:
    tier, owner = "small", str(portfolio["owner"].dropna().iloc[0])
    got = every_page(client, tier=tier, owner=owner, sort="name", direction="asc")
    want = portfolio[(portfolio["size_tier"] == tier) & (portfolio["owner"] == owner)]
    want = want.sort_values(["name", "account_id"])
    assert got == list(want["account_id"]) and got
    keys = every_page(client, decision="key", sort="attractiveness")
    want = portfolio[portfolio["is_key"]].sort_values(
        ["attractiveness", "account_id"], ascending=[False, True]
    )
    assert keys == list(want["account_id"])
    found = view(client, q="sons 1", page_size=500)
    mask = portfolio["name"].str.lower().str.contains("sons 1", regex=False)
    assert found["total"] == int(mask.sum()) > 0


def test_table_html_escapes_names_and_has_working_links(client: TestClient) -> None:
    page = client.get("/accounts", params={"sort": "name", "direction": "asc", "page_size": 25})
    assert page.status_code == 200
    html = page.text
    assert EVIL not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Sons" in html
    assert (
        '<form id="accounts-filters" class="filters" method="get" action="/accounts" '
        'data-target="#accounts-table"' in html
    )
    assert '<div id="accounts-table">' in html
    assert 'href="/accounts?' in html and "sort=revenue&amp;direction=desc" in html  # a header
    assert "sort=name&amp;direction=desc" in html  # the sorted column flips
    assert 'data-target="#accounts-table" rel="next"' in html and "page=2" in html
    assert "/accounts/export.csv?" in html and "/accounts/export.xlsx?" in html
    # the filter form keeps the table's sort (inputs in the table, owned by the form)
    assert '<input type="hidden" form="accounts-filters" name="sort" value="name">' in html
    partial = client.get("/accounts", params={"page": 2}, headers={"x-partial": "1"})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert "<table" in partial.text and "page 2 of 4" in partial.text


def test_bad_input_is_refused_with_the_field(client: TestClient) -> None:
    r = client.get("/accounts", params={"sort": "bogus"}, headers=JSON)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("sort: unknown column 'bogus'; allowed: account_id")
    r = client.get("/accounts", params={"page": 99}, headers=JSON)
    assert r.status_code == 422 and "past the last page (4)" in r.json()["detail"]
    r = client.get("/accounts", params={"page_size": 501}, headers=JSON)
    assert r.status_code == 422 and "page_size" in r.text
    r = client.get("/accounts", params={"decision": "maybe"}, headers=JSON)
    assert r.status_code == 422 and "decision: unknown decision 'maybe'" in r.json()["detail"]
    html = client.get("/accounts", params={"sort": "<b>x</b>"})
    assert (
        html.status_code == 422 and "&lt;b&gt;x&lt;/b&gt;" in html.text and "<b>x" not in html.text
    )
    assert client.get("/accounts/export.csv", params={"sort": "bogus"}).status_code == 422


def test_csv_export_is_the_whole_view_and_neutralises_formulas(
    client: TestClient, portfolio: pd.DataFrame
) -> None:
    params = {"tier": "large", "sort": "net_contribution", "direction": "asc"}
    r = client.get("/accounts/export.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == list(A.VIEW_COLUMNS)
    assert [row[0] for row in rows[1:]] == every_page(client, **params)
    everything = list(csv.reader(io.StringIO(client.get("/accounts/export.csv").text)))
    assert len(everything) == len(portfolio) + 1
    names = [row[1] for row in everything[1:]]
    assert "'" + FORMULA in names and FORMULA not in names
    assert any(n.startswith(EVIL) for n in names)


def test_xlsx_export_writes_text_as_text(client: TestClient, tmp_path: Path) -> None:
    r = client.get("/accounts/export.xlsx", params={"sort": "account_id", "direction": "asc"})
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    (tmp_path / "v.xlsx").write_bytes(r.content)
    sheet = load_workbook(tmp_path / "v.xlsx").active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(A.VIEW_COLUMNS)
    assert [row[0] for row in rows[1:]] == every_page(client, sort="account_id", direction="asc")
    cell = sheet.cell(row=2, column=2)  # the first account, named like a formula
    assert cell.value == FORMULA and cell.data_type == "s"


def test_account_page_html_and_json(client: TestClient, portfolio: pd.DataFrame) -> None:
    account = str(portfolio["account_id"].iloc[1])
    body = client.get(f"/accounts/{account}", headers=JSON).json()
    assert body["account_id"] == account and body["name"].startswith(EVIL)
    row = portfolio[portfolio["account_id"] == account].iloc[0]
    assert body["economics"]["revenue"] == pytest.approx(row["revenue"])
    assert body["economics"]["net_contribution"] == pytest.approx(row["net_contribution"])
    assert body["value"]["clv"] == pytest.approx(row["clv"])
    assert body["trend"] and all({"year", "revenue", "margin"} <= set(t) for t in body["trend"])
    years = [t["year"] for t in body["trend"]]
    assert years == sorted(years)
    e = body["explanation"]
    assert e["is_key"] == bool(row["is_key"]) and e["reasons"] == row["reasons"]
    assert {c["group"] for c in e["contributions"]} == {"attractiveness", "strength"}
    assert "bar" in e["selection"]
    assert [h["in_run"] for h in body["history"]] == [True]
    assert "assessments" not in body and "overrides" not in body  # the fragments' own routes
    html = client.get(f"/accounts/{account}").text
    assert EVIL not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert f'<section id="assessments" data-load="/accounts/{account}/assessments">' in html
    assert f'<section id="overrides" data-load="/accounts/{account}/overrides">' in html
    assert '<script src="/vendor/plotly.min.js"></script>' in html
    assert 'id="chart-trend"' in html and 'id="account-charts"' in html
    assert "What would flip it" in html or not e["flip"]


def test_unknown_account_is_404_with_a_clear_message(client: TestClient) -> None:
    r = client.get("/accounts/NOPE-1", headers=JSON)
    assert r.status_code == 404 and r.json()["detail"].startswith("account 'NOPE-1' is not in run")
    page = client.get("/accounts/%3Cscript%3E")
    assert page.status_code == 404 and "<script>" not in page.text.split("<main>")[1]


def test_signed_out_is_refused(workspace: Workspace) -> None:
    with TestClient(create_app(Settings(workspace=workspace.root)), base_url="https://t") as c:
        for url in ("/accounts", "/accounts/export.csv", "/accounts/000001"):
            assert c.get(url, headers=JSON).status_code == 401
            assert c.get(url, follow_redirects=False).headers["location"] == "/login"

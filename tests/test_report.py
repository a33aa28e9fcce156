"""The report (HTML, PDF, XLSX) of a sample workspace: every section with the expected numbers,
one-line notes for missing inputs, no network, and hostile account names staying text.

One sample workspace is built and run once for the module. Two account names are then
replaced in the run's portfolio by hostile text (a spreadsheet formula and a script tag), and a
previous run is planted (a copy of the run with two decisions flipped) so "changes since the
previous run" has an expected answer.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keyfolio import runs
from keyfolio.errors import KeyfolioError
from keyfolio.pipeline import RunOptions, run
from keyfolio.report import build_model, build_report, load_run
from keyfolio.report.model import anchor
from keyfolio.sample import generate_workspace
from keyfolio.selection.reconcile import reconcile
from keyfolio.workspace import Workspace

ACCOUNTS, LINES = 300, 20_000
FORMULA = '=HYPERLINK("http://x","y")'
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SECTIONS = ["definition", "glance", "profit", "matrix", "key-list", "changes", "contested",
            "workload", "data"]  # fmt: skip
PLANTED: dict[str, str] = {}
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs Debian's chromium at /usr/bin/chromium (PDF, browser)"
)


def _plant(ws: Workspace) -> dict[str, str]:
    """Hostile names on two key accounts and one other; a previous run with two flips."""
    run_dir = runs.get(ws).dir
    path = run_dir / "portfolio.parquet"
    pf = pd.read_parquet(path)
    key = pf.index[pf["is_key"]].tolist()
    other = pf.index[~pf["is_key"] & pf["selectable"]].tolist()
    pf.loc[key[0], "name"] = FORMULA
    pf.loc[key[1], "name"] = SCRIPT
    pf.loc[other[0], "name"] = IMG
    pf.to_parquet(path, index=False)
    prev = ws.runs_dir / "00000000T000000Z"
    shutil.copytree(run_dir, prev)
    old = pf.copy()
    entered, left = pf.loc[key[-1], "account_id"], pf.loc[other[1], "account_id"]
    old.loc[key[-1], "is_key"] = False
    old.loc[other[1], "is_key"] = True
    old.to_parquet(prev / "portfolio.parquet", index=False)
    return {"entered": str(entered), "left": str(left)}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("report") / "ws"
    generate_workspace(root, accounts=ACCOUNTS, lines=LINES)
    w = Workspace(root)
    run(w, RunOptions(robustness_draws=50))
    PLANTED.update(_plant(w))
    return w


@pytest.fixture(scope="module")
def data(ws: Workspace):  # type: ignore[no-untyped-def]
    return load_run(runs.get(ws))


@pytest.fixture(scope="module")
def model(data):  # type: ignore[no-untyped-def]
    return build_model(data)


@pytest.fixture(scope="module")
def html(ws: Workspace) -> str:
    return build_report(ws, fmt="html").read_text(encoding="utf-8")


def _selectable(ws: Workspace) -> pd.DataFrame:
    pf = pd.read_parquet(runs.get(ws).dir / "portfolio.parquet")
    return pf[pf["selectable"]]


def _visible(html: str) -> str:
    """The HTML without its inline scripts (Plotly and the chart JSON)."""
    return re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)


# -- sections and numbers ----------------------------------------------------------------------
def test_every_section_in_order(model, html: str) -> None:  # type: ignore[no-untyped-def]
    assert [s.id for s in model.sections] == SECTIONS
    positions = [html.index(f'<section class="part" id="{sid}">') for sid in SECTIONS]
    assert positions == sorted(positions)
    for sid in SECTIONS:  # the table of contents links every section
        assert f'<a href="#{sid}">' in html
    ids = {c.id for c in model.charts()}
    for chart in ("chart-weights", "chart-margins", "chart-pareto", "chart-whale", "chart-matrix",
                  "chart-overlap", "chart-workload-tier", "chart-workload-manager"):  # fmt: skip
        assert chart in ids
        assert f'id="{chart}"' in html


def test_whale_peak_is_the_sum_of_positive_net_contributions(ws: Workspace, model, html) -> None:  # type: ignore[no-untyped-def]
    net = _selectable(ws)["net_contribution"]
    n = model.section("profit").numbers
    assert n["whale_peak"] == pytest.approx(net[net > 0].sum(), rel=1e-9)
    assert n["whale_total"] == pytest.approx(net.sum(), rel=1e-9)
    assert n["whale_peak_accounts"] == int((net > 0).sum())
    assert n["whale_give_back"] == pytest.approx(-net[net < 0].sum(), rel=1e-9)
    # the annotation says it in words
    pct = n["whale_peak_share"]
    assert f"The top {pct:.0%} of accounts make" in _visible(html)


def test_key_list_is_the_portfolios_key_rows(ws: Workspace, model, html: str) -> None:  # type: ignore[no-untyped-def]
    pf = pd.read_parquet(runs.get(ws).dir / "portfolio.parquet")
    expected = set(pf.loc[pf["is_key"], "account_id"].astype(str))
    assert len(expected) > 3
    assert set(model.section("key-list").numbers["key_ids"]) == expected
    for aid in expected:  # a detail block per key account, and a contribution chart
        assert f'id="{anchor(aid)}"' in html
        assert f'id="chart-{anchor(aid)}"' in html
    blocks = re.findall(r'<div class="block" id="acct-', html)
    assert len(blocks) == len(expected)


def _raw_sums(ws: Workspace, key_heads: set[str]) -> dict[str, tuple[float, float]]:
    """Revenue and variable cost straight from the imported tables with plain SQL (no
    Keyfolio code): for all lines, and for the lines of accounts whose group head (or the
    account itself) is key."""
    import duckdb

    con = duckdb.connect()
    acc = pd.read_parquet(ws.table_path("accounts"), columns=["account_id", "parent_id"])
    parent = dict(zip(acc["account_id"], acc["parent_id"], strict=True))

    def head(a: str) -> str:
        while isinstance(parent.get(a), str) and parent[a]:
            a = parent[a]
        return a

    key_accounts = [a for a in acc["account_id"] if head(a) in key_heads]
    con.register("key_accounts", pd.DataFrame({"account_id": key_accounts}))
    con.read_parquet(str(ws.table_path("order_lines"))).create_view("lines")
    con.read_parquet(str(ws.table_path("products"))).create_view("products")
    sums = """
        SELECT sum(l.quantity * l.unit_price * (1 - coalesce(l.discount, 0))),
               sum(l.quantity * p.unit_cost)
        FROM lines l JOIN products p USING (product_id)
        WHERE ? OR l.account_id IN (SELECT account_id FROM key_accounts)
    """
    total = con.execute(sums, [True]).fetchone()
    key = con.execute(sums, [False])
    return {"total": total, "key": key.fetchone()}  # type: ignore[dict-item]


def test_glance_numbers_match_the_raw_tables(ws: Workspace, model) -> None:  # type: ignore[no-untyped-def]
    s = _selectable(ws)
    n = model.section("glance").numbers
    raw = _raw_sums(ws, set(s.loc[s["is_key"], "account_id"].astype(str)))
    revenue, cost = raw["total"]
    key_revenue, key_cost = raw["key"]
    assert n["total"]["revenue"] == pytest.approx(revenue, rel=1e-9)
    assert n["total"]["contribution_margin"] == pytest.approx(revenue - cost, rel=1e-9)
    assert n["key"]["revenue"] == pytest.approx(key_revenue, rel=1e-9)
    assert n["key_cm_pct"] == pytest.approx((key_revenue - key_cost) / key_revenue, rel=1e-9)
    rest = revenue - key_revenue
    assert n["rest_cm_pct"] == pytest.approx((rest - (cost - key_cost)) / rest, rel=1e-9)
    # every selectable account is in exactly one tier; the tiers add up to the total
    assert sum(n["tiers"][t]["accounts"] for t in ("large", "medium", "small")) == len(s)
    assert sum(n["tiers"][t]["revenue"] for t in ("large", "medium", "small")) == pytest.approx(
        revenue, rel=1e-9
    )
    assert n["key"]["accounts"] == int(s["is_key"].sum()) > 0


def test_changes_name_who_entered_and_left(ws: Workspace, model, html: str) -> None:  # type: ignore[no-untyped-def]
    n = model.section("changes").numbers
    assert (n["entered"], n["left"], n["previous"]) == (1, 1, "00000000T000000Z")
    planted = PLANTED
    sec = html[html.index('id="changes"') : html.index('id="contested"')]
    assert planted["entered"] in sec and planted["left"] in sec
    assert "the policy is unchanged" in sec


def test_reconciliation_and_contested(ws: Workspace, model) -> None:  # type: ignore[no-untyped-def]
    pf = pd.read_parquet(runs.get(ws).dir / "portfolio.parquet")
    declared = ws.read_table("declared").to_pandas()
    rec = reconcile(pf, declared)
    n = model.section("contested").numbers
    assert n["failing_ids"] == rec.failing["account_id"].astype(str).tolist()
    m = np.array(n["overlap"]["matrix"])
    assert np.allclose(m, m.T) and np.allclose(np.diag(m), 1.0)
    assert n["overlap"]["names"][-1] == "definition"
    assert set(n["contested_ids"]) == set(pf.loc[pf["contested"], "account_id"].astype(str))


def test_workload_matches_the_selection(ws: Workspace, model) -> None:  # type: ignore[no-untyped-def]
    import json

    pf = pd.read_parquet(runs.get(ws).dir / "portfolio.parquet")
    sel = json.loads((runs.get(ws).dir / "selection.json").read_text())
    n = model.section("workload").numbers
    assert n["hours_needed"] == pytest.approx(pf.loc[pf["is_key"], "hours_needed"].sum())
    assert n["hours_needed"] == pytest.approx(sel["capacity"]["capacity_hours"]["used"])
    assert n["managers"] >= 1


def test_data_notes_list_inputs_and_warnings(ws: Workspace, model, html: str) -> None:  # type: ignore[no-untyped-def]
    s = model.section("data")
    assert s.numbers["absent_tables"] == []  # the sample has every table
    sec = html[html.index('id="data"') :]
    for table in ("accounts", "order_lines", "declared", "team"):
        assert f"<td>{table}</td>" in sec
    assert "as used by this run" in sec


# -- missing inputs ----------------------------------------------------------------------------
def test_missing_inputs_give_one_line_notes(ws: Workspace, tmp_path: Path) -> None:
    """A workspace with only orders and accounts (like Northwind): no wallet, declared lists,
    assessments, feedback, team, costs or owners; a first run."""
    root = tmp_path / "bare"
    (root / "data").mkdir(parents=True)
    shutil.copy(ws.policy_path, root / "keyfolio.toml")
    for table in ("accounts", "products", "orders", "order_lines"):
        shutil.copy(ws.table_path(table), root / "data" / f"{table}.parquet")
    acc = pd.read_parquet(root / "data" / "accounts.parquet").assign(owner=None)
    acc.to_parquet(root / "data" / "accounts.parquet", index=False)
    bare = Workspace(root)
    run(bare, RunOptions(robustness_draws=0))
    model = build_model(load_run(runs.get(bare)))
    notes = {s.id: s.notes for s in model.sections}
    assert any("No `assessments` table" in n for n in notes["definition"])
    assert any("No wallet data" in n for n in notes["glance"])
    assert any("first run" in n for n in notes["changes"])
    assert any("No declared key-account lists" in n for n in notes["contested"])
    assert any("Robustness was not computed" in n for n in notes["contested"])
    assert any("owners are not known" in n for n in notes["workload"])
    for table in ("wallet", "declared", "team", "costs", "feedback", "assessments"):
        assert any(f"No `{table}` table" in n for n in notes["data"])
    for sec_notes in notes.values():
        assert all("\n" not in n and len(n) < 300 for n in sec_notes)  # one line each
    html = build_report(bare, fmt="html").read_text(encoding="utf-8")
    assert "No declared key-account lists were imported" in html
    assert 'id="chart-overlap"' not in html and 'id="chart-workload-manager"' not in html


def test_missing_run_files_give_notes(ws: Workspace, tmp_path: Path) -> None:
    """Only portfolio.parquet and run.json: the report still renders, saying what is missing."""
    runs_dir = tmp_path / "ws" / "runs"
    src = runs.get(ws).dir
    dst = runs_dir / src.name
    dst.mkdir(parents=True)
    shutil.copy(ws.policy_path, tmp_path / "ws" / "keyfolio.toml")
    for f in ("portfolio.parquet", "run.json"):
        shutil.copy(src / f, dst / f)
    pf = pd.read_parquet(dst / "portfolio.parquet").assign(clv=np.nan, roci=np.nan)
    pf.to_parquet(dst / "portfolio.parquet", index=False)
    model = build_model(load_run(runs.open_folder(dst)))
    notes = {s.id: " ".join(s.notes) for s in model.sections}
    assert "contributions.parquet" in notes["data"] and "selection.json" in notes["data"]
    assert "No criterion contributions" in notes["key-list"]
    assert "CLV not computed" in notes["key-list"]
    assert "No declared key-account lists" in notes["contested"]
    assert "Robustness was not computed" in notes["contested"]
    # whale.parquet absent: the curve is computed from the portfolio, same peak
    net = pf.loc[pf["selectable"], "net_contribution"]
    assert model.section("profit").numbers["whale_peak"] == pytest.approx(net[net > 0].sum())
    out = build_report(dst, fmt="html")
    assert out == dst / "report.html" and out.stat().st_size > 100_000


# -- safety: no network, hostile names stay text -----------------------------------------------
EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|srcset|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import)|(?:<link\b)|(?:<iframe\b)""",
    re.I,
)


def test_html_references_nothing_external(html: str) -> None:
    from keyfolio.report.render.html import plotly_js

    js, _ = plotly_js()
    assert js in html  # Plotly is embedded, not fetched
    rest = html.replace(js, "")
    assert not EXTERNAL.findall(rest)
    assert "cdn.plot.ly" not in rest and "<script src" not in html


def test_hostile_names_are_text_in_html(html: str) -> None:
    visible = _visible(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in visible
    assert SCRIPT not in visible
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;)" in visible
    assert IMG not in html
    # inside the chart JSON, < and > are escaped, so nothing can close the script element
    payload = re.search(
        r'<script type="application/json" id="kf-charts">(.*?)</script>', html, re.S
    )
    assert payload is not None and "<" not in payload.group(1)


@needs_chromium
def test_browser_draws_every_chart_without_network(ws: Workspace, model) -> None:  # type: ignore[no-untyped-def]
    from keyfolio.report.render.pdf import PRINT_WIDTH_PX, browser_page, wait_for_charts

    path = runs.get(ws).dir / "report.html"
    dialogs: list[str] = []
    errors: list[str] = []
    with browser_page(width=1280) as (page, blocked):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        wait_for_charts(page)
        drawn = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
        text = page.inner_text("#key-list")
        xss = page.evaluate("window.__xss === 1")
        # clicking a key account's bubble opens its detail block
        target = anchor(PLANTED["entered"])
        page.evaluate(
            "t => document.getElementById('chart-matrix')"
            ".emit('plotly_click', {points: [{customdata: [t]}]})",
            target,
        )
        page.wait_for_function("t => location.hash === '#' + t", arg=target)
        # as the PDF export lays it out: print CSS at the printed width
        page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
        page.emulate_media(media="print")
        page.add_init_script("window.__keyfolioPrint = true;")
        page.reload()
        wait_for_charts(page)
        width = page.evaluate("document.documentElement.scrollWidth")
    assert blocked == [] and dialogs == [] and errors == [] and not xss
    assert drawn == len(model.charts())
    assert SCRIPT in text and FORMULA in text
    assert width <= PRINT_WIDTH_PX  # nothing wider than the printed page


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
    from pypdf import PdfReader

    return "\n".join(p.extract_text() or "" for p in PdfReader(str(path)).pages)


@needs_chromium
def test_pdf_has_every_section_vector_charts_and_names_as_text(
    ws: Workspace, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    out = build_report(ws, fmt="pdf", out=tmp_path / "r.pdf")
    text = _pdf_text(out)
    for title in ("The definition of a key account", "Where the profit comes from",
                  "The KAM matrix", "Changes since the previous run", "Data notes"):  # fmt: skip
        assert title in text
    flat = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", SCRIPT) in flat and re.sub(r"\s+", "", FORMULA) in flat
    reader = PdfReader(str(out))
    assert len(reader.pages) >= 8
    images = sum(len(p.images) for p in reader.pages)
    assert images == 0  # charts are drawn as vector paths, not pasted as pictures


# -- XLSX --------------------------------------------------------------------------------------
def test_xlsx_sheets_formats_and_neutralised_names(ws: Workspace, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = build_report(ws, fmt="xlsx", out=tmp_path / "r.xlsx")
    wb = load_workbook(out)
    assert wb.sheetnames == ["portfolio", "key accounts", "changes", "reconciliation", "workload",
                             "definition"]  # fmt: skip
    pf = pd.read_parquet(runs.get(ws).dir / "portfolio.parquet")
    sheet = wb["portfolio"]
    assert sheet.max_row == len(pf) + 1
    assert sheet.freeze_panes == "B2" and sheet.auto_filter.ref.startswith("A1:")
    header = [c.value for c in sheet[1]]
    rev = header.index("revenue") + 1
    assert sheet.cell(2, rev).number_format == "#,##0"
    assert sheet.cell(2, header.index("cm_pct") + 1).number_format == "0.0%"
    names = [sheet.cell(r, 2).value for r in range(2, sheet.max_row + 1)]
    assert FORMULA in names and SCRIPT in names  # exactly as they are: strings, not formulas
    for row in sheet.iter_rows(min_row=2):
        for c in row:
            assert c.data_type != "f"  # no formula anywhere
    key = wb["key accounts"]
    assert key.max_row == int(pf["is_key"].sum()) + 1
    changes = [[c.value for c in r] for r in wb["changes"].iter_rows(min_row=2)]
    assert {r[2] for r in changes} == {"entered", "left"}
    definition = [c.value for c in wb["definition"]["A"]]
    assert "criterion" in definition and "policy text" in definition


# -- entry points ------------------------------------------------------------------------------
def test_cli_report_writes_the_file_and_fails_in_one_line(ws: Workspace, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from keyfolio.cli import build_app

    app = build_app()

    out = tmp_path / "x.html"
    res = CliRunner().invoke(app, ["report", str(ws.root), "--format", "html", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and str(out) in res.output.replace("\n", "")
    res = CliRunner().invoke(app, ["report", str(ws.root), "--format", "docx"])
    assert res.exit_code == 1 and "unknown report format 'docx'" in res.output
    res = CliRunner().invoke(app, ["report", str(ws.root), "--run", "nope"])
    assert res.exit_code == 1 and "no run 'nope'" in res.output


def test_build_report_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyfolioError, match="not a workspace"):
        build_report(tmp_path)

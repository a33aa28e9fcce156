"""The dashboard (GET /): its numbers against the run's files, the matrix's account links,
the whale curve and the changes since the previous run (a second run with less capacity
and another strength cut)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from keyfolio import pipeline, runs
from keyfolio.analysis.glance import glance
from keyfolio.db import close_db
from keyfolio.db.engine import ENV_VAR
from keyfolio.web import Settings, create_app
from keyfolio.web.cache import RunCache
from keyfolio.web.routes import dashboard
from keyfolio.workspace import Workspace
from webclient import EVIL, signed_in, web_workspace

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Two runs: the sample's policy, then half the capacity and a higher strength cut."""
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws = web_workspace(tmp_path_factory.mktemp("dash") / "ws")
    text = ws.policy_path.read_text(encoding="utf-8")
    changed = text.replace("capacity_hours = 12000", "capacity_hours = 6000")
    changed = changed.replace("strength_cut = 50", "strength_cut = 60")
    assert changed.count("6000") > text.count("6000") and "strength_cut = 60" in changed
    ws.policy_path.write_text(changed, encoding="utf-8")
    pipeline.run(ws)
    yield ws
    close_db(ws)
    mp.undo()


@pytest.fixture(scope="module")
def app(workspace: Workspace) -> FastAPI:
    return create_app(Settings(workspace=workspace.root))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as c:
        signed_in(c, "viewer")
        yield c


@pytest.fixture(scope="module")
def model(client: TestClient) -> dict:
    r = client.get("/", headers=JSON)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    return r.json()


def _portfolio(ws: Workspace, run_id: str | None = None) -> pd.DataFrame:
    run = runs.get(ws, run_id)
    df = pd.read_parquet(run.path(runs.PORTFOLIO))
    return df[df["selectable"]]


def test_cards_are_the_run_files_numbers(workspace: Workspace, model: dict) -> None:
    latest = runs.latest(workspace)
    assert latest is not None and model["run"]["run_id"] == latest.id
    pf = _portfolio(workspace)
    g = model["glance"]
    key = pf["is_key"].astype(bool)
    assert g["key_accounts"] == int(key.sum()) > 0
    assert g["accounts"] == len(pf)
    assert (
        g["tiers"]
        == pf["size_tier"]
        .astype(str)
        .value_counts()
        .reindex(["large", "medium", "small"], fill_value=0)
        .to_dict()
    )
    active = pf[pf["has_orders"].astype(bool)]
    losing = (active["net_contribution"] < 0).sum()
    assert g["losing_count"] == losing > 0
    assert g["losing_share"] == pytest.approx(losing / len(active))
    net = pf["net_contribution"]
    assert g["key_profit_share"] == pytest.approx(net[key].sum() / net.sum())
    assert g["net_total"] == pytest.approx(net.sum())
    selection = json.loads(latest.path(runs.SELECTION).read_text())
    hours = selection["capacity"]["capacity_hours"]
    assert g["capacity"] == [
        {"name": "capacity_hours", "used": hours["used"], "available": 6000.0,
         "share": pytest.approx(hours["used"] / 6000.0)}
    ]  # fmt: skip
    assert pf.loc[key, "hours_needed"].sum() == pytest.approx(hours["used"])


def test_the_page_shows_the_cards_and_names_as_text(client: TestClient, model: dict) -> None:
    page = client.get("/").text
    g = model["glance"]
    assert f'data-card="key_accounts">{g["key_accounts"]}<' in page
    assert "<script>alert" not in page and html.escape(EVIL, quote=False)[:20] in page
    assert '<script src="/vendor/plotly.min.js"' in page
    assert client.get("/static/dashboard.js").status_code == 200


def _figure(page: str, name: str) -> dict:
    found = re.search(
        rf'<script type="application/json" id="figure-{name}">(.*?)</script>', page, re.S
    )
    assert found, f"no {name} figure"
    return json.loads(found.group(1))


def test_matrix_bubbles_open_the_plotted_accounts(
    client: TestClient, workspace: Workspace, model: dict
) -> None:
    page = client.get("/").text
    assert 'data-open="/accounts/"' in page
    figure = _figure(page, "matrix")
    plotted = {}
    for trace in figure["data"]:
        for cd, x, y in zip(trace["customdata"], trace["x"], trace["y"], strict=True):
            plotted[cd[0]] = (x, y)
    points = {p["account_id"]: p for p in model["matrix"]["points"]}
    assert set(plotted) == set(points) and len(plotted) == model["matrix"]["accounts"]
    pf = _portfolio(workspace).set_index("account_id")
    for account, (x, y) in plotted.items():
        assert x == pytest.approx(pf.loc[account, "strength"], abs=0.01)
        assert y == pytest.approx(pf.loc[account, "attractiveness"], abs=0.01)
    assert set(pf.index[pf["is_key"].astype(bool)]) <= set(plotted)
    script = client.get("/static/dashboard.js").text
    assert "plotly_click" in script and "customdata[0]" in script


def test_a_large_portfolio_plots_the_key_accounts_and_a_sample(
    client: TestClient, workspace: Workspace, model: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "MATRIX_MAX_POINTS", model["glance"]["key_accounts"] + 10)
    client.app.state.run_cache = RunCache()  # type: ignore[attr-defined]  # a fresh cache
    m = client.get("/", headers=JSON).json()["matrix"]
    assert len(m["points"]) == model["glance"]["key_accounts"] + 10
    assert m["left_out"] == m["accounts"] - len(m["points"]) > 0
    pf = _portfolio(workspace)
    assert set(pf.loc[pf["is_key"], "account_id"]) <= {p["account_id"] for p in m["points"]}


def test_whale_curve_is_the_runs(client: TestClient, workspace: Workspace, model: dict) -> None:
    latest = runs.latest(workspace)
    assert latest is not None
    whale = pd.read_parquet(latest.path(runs.WHALE))
    w = model["whale"]
    assert w["total"] == pytest.approx(whale["cum_net_contribution"].iloc[-1])
    assert w["peak_net"] == pytest.approx(whale["cum_net_contribution"].max())
    assert len(w["share_of_accounts"]) == len(w["cum_net_contribution"]) <= len(whale)
    figure = _figure(client.get("/").text, "whale")
    assert max(figure["data"][0]["y"]) == pytest.approx(w["peak_net"], abs=0.01)


def test_changes_since_the_previous_run(workspace: Workspace, model: dict) -> None:
    old, new = runs.last_two(workspace)
    c = model["changes"]
    assert c["previous_run"] == old.id
    a, b = _portfolio(workspace, old.id), _portfolio(workspace, new.id)
    key_a = set(a.loc[a["is_key"], "account_id"])
    key_b = set(b.loc[b["is_key"], "account_id"])
    assert c["counts"]["entered"] == len(key_b - key_a)
    assert c["counts"]["left"] == len(key_a - key_b) > 0  # half the capacity
    listed = {(x["account_id"], x["change"]) for x in c["key_list"]["changes"]}
    assert listed == {(i, "entered") for i in key_b - key_a} | {(i, "left") for i in key_a - key_b}
    m = a.merge(b, on="account_id", suffixes=("_a", "_b"))
    quadrant = m[m["quadrant_a"] != m["quadrant_b"]]
    assert c["counts"]["quadrant_moves"] == len(quadrant) > 0  # the higher strength cut
    moved = {x["account_id"]: x for x in c["moves"] if x["kind"] == "quadrant"}
    assert set(moved) == set(quadrant["account_id"])
    one = quadrant.iloc[0]
    row = moved[one["account_id"]]
    assert (row["before"], row["after"]) == (one["quadrant_a"], one["quadrant_b"])
    assert row["reason"] == one["reasons_b"] and "strength" in row["why"]
    assert c["counts"]["tier_moves"] == int((m["size_tier_a"] != m["size_tier_b"]).sum())


def test_changes_show_on_the_page(client: TestClient, model: dict) -> None:
    page = client.get("/").text
    c = model["changes"]
    assert f"{c['counts']['left']} left it" in page
    first = c["moves"][0]
    assert f'<a href="/accounts/{first["account_id"]}">' in page
    assert html.escape(first["why"], quote=False) in page


def test_first_run_has_no_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    ws = web_workspace(tmp_path / "ws", accounts=60, lines=1500, evil=False)
    try:
        with TestClient(
            create_app(Settings(workspace=ws.root)), base_url="https://testserver"
        ) as c:
            signed_in(c, "manager")
            body = c.get("/", headers=JSON).json()
            assert body["changes"] is None and body["glance"]["accounts"] > 0
            assert "This is the first run" in c.get("/").text
    finally:
        close_db(ws)


def test_glance_of_a_loss_making_portfolio_has_no_profit_share(tmp_path: Path) -> None:
    """A share of a negative total says nothing: None, not a negative or >100% share."""
    ws = Workspace(tmp_path)
    pf = pd.DataFrame(
        {
            "account_id": ["A", "B", "C", "M"],
            "selectable": [True, True, True, False],  # M: a group's member
            "has_orders": [True, True, False, True],
            "size_tier": ["large", "small", "small", "small"],
            "is_key": [True, False, False, False],
            "net_contribution": [50.0, -80.0, 0.0, -999.0],
        }
    )
    with runs.write_run(ws, "20260101T000000Z") as w:
        w.frame(runs.PORTFOLIO, pf)
        w.document(runs.RUN_JSON, {"run_id": "20260101T000000Z", "currency": "EUR"})
    g = glance(runs.get(ws, "20260101T000000Z"))
    assert (g.accounts, g.key_accounts, g.accounts_with_orders, g.losing_count) == (3, 1, 2, 1)
    assert g.losing_share == 0.5 and g.tiers == {"large": 1, "medium": 0, "small": 2}
    assert g.net_total == -30.0 and g.key_profit_share is None and g.capacity == []

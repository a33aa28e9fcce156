"""The assessments, overrides, reconciliation and audit pages through the test client, on
the shared web workspace (the manager user owns the first team manager's accounts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from keyfolio import runs
from keyfolio.db import close_db, history
from keyfolio.db.assessments import list_assessments, policy_criteria
from keyfolio.db.engine import ENV_VAR
from keyfolio.web import Settings, create_app
from keyfolio.workspace import Workspace
from test_web import check_rules
from webclient import EVIL, manager_id, signed_in, web_workspace

SCRIPT = "<script>alert('comment')</script>"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws = web_workspace(Path(tmp_path_factory.mktemp("assess")) / "ws")
    yield ws
    close_db(ws)
    mp.undo()


@pytest.fixture(scope="module")
def app(workspace: Workspace) -> FastAPI:
    return create_app(Settings(workspace=workspace.root))


def _client(app: FastAPI, role: str) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app, base_url="https://testserver")
    csrf = signed_in(client, role)
    return client, {"accept": "application/json", "x-csrf-token": csrf}


def _accounts(ws: Workspace) -> tuple[str, str]:
    """An account the manager user owns, and one they do not."""
    run = runs.latest(ws)
    assert run is not None
    pf = run.portfolio(["account_id", "owner"])
    mine = pf[pf["owner"] == manager_id(ws)]["account_id"]
    other = pf[pf["owner"] != manager_id(ws)]["account_id"]
    assert len(mine) and len(other)
    return str(mine.iloc[0]), str(other.iloc[0])


def _criterion(ws: Workspace) -> str:
    return policy_criteria(ws)[0].criterion


def _save(client: TestClient, headers: dict[str, str], account: str, **form: str):
    return client.post(f"/accounts/{account}/assessments", data=form, headers=headers)


def test_the_rules_hold_for_these_routes(app: FastAPI) -> None:
    check_rules(app)


def test_a_manager_assesses_their_own_account(app: FastAPI, workspace: Workspace) -> None:
    client, h = _client(app, "manager")
    mine, _ = _accounts(workspace)
    crit = _criterion(workspace)
    form = client.get(f"/accounts/{mine}/assess", headers=h).json()
    row = next(r for r in form["rows"] if r["criterion"]["criterion"] == crit)
    saved = _save(client, h, mine, criterion=crit, score="4", comment=SCRIPT,
                  expected_version=str(row["version"]))  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert saved.json()["saved"]["comment"] == SCRIPT  # JSON carries the text as it is
    fragment = client.get(f"/accounts/{mine}/assessments", headers=h).json()
    web = [s for s in fragment["scores"] if s["source"] == "web" and s["criterion"] == crit]
    assert [(s["assessor"], s["score"]) for s in web] == [("manager@example.com", 4.0)]
    assert fragment["may_assess"] is True
    html = client.get(f"/accounts/{mine}/assessments", headers={"x-partial": "1"}).text
    assert SCRIPT not in html and "&lt;script&gt;alert(&#39;comment&#39;)&lt;/script&gt;" in html
    page = client.get(f"/accounts/{mine}/assess").text
    assert "<script>alert(" not in page and "&lt;script&gt;alert(&#39;comment" in page
    assert EVIL not in page  # the account name is text too


def test_another_managers_account_is_refused_with_own(app: FastAPI, workspace: Workspace) -> None:
    client, h = _client(app, "manager")
    _, other = _accounts(workspace)
    before = len(list_assessments(workspace))
    refused = _save(client, h, other, criterion=_criterion(workspace), score="3",
                    expected_version="0")  # fmt: skip
    assert refused.status_code == 403 and "own" in refused.json()["detail"]
    assert "not by you" in refused.json()["detail"]
    assert client.get(f"/accounts/{other}/assess", headers=h).status_code == 403
    assert len(list_assessments(workspace)) == before
    lead, lh = _client(app, "lead")  # leads may assess any account
    ok = _save(lead, lh, other, criterion=_criterion(workspace), score="2", expected_version="0")
    assert ok.status_code == 200, ok.text


def test_viewers_never_assess(app: FastAPI, workspace: Workspace) -> None:
    client, h = _client(app, "viewer")
    mine, _ = _accounts(workspace)
    before = len(list_assessments(workspace))
    refused = _save(client, h, mine, criterion=_criterion(workspace), score="3",
                    expected_version="0")  # fmt: skip
    assert refused.status_code == 403
    assert client.get(f"/accounts/{mine}/assess", headers=h).status_code == 403
    assert len(list_assessments(workspace)) == before
    assert client.get(f"/accounts/{mine}/assessments", headers=h).json()["may_assess"] is False


def test_a_stale_save_is_a_409_in_json_and_html(app: FastAPI, workspace: Workspace) -> None:
    client, h = _client(app, "manager")
    mine, _ = _accounts(workspace)
    crit = policy_criteria(workspace)[1].criterion
    first = _save(client, h, mine, criterion=crit, score="2", comment="first tab",
                  expected_version="0")  # fmt: skip
    assert first.status_code == 200
    stale = _save(client, h, mine, criterion=crit, score="5", comment="second tab",
                  expected_version="0")  # fmt: skip
    assert stale.status_code == 409
    body = stale.json()
    assert "changed by manager@example.com at" in body["detail"] and "reload" in body["detail"]
    assert body["current"]["comment"] == "first tab" and body["current"]["version"] == 1
    html = client.post(
        f"/accounts/{mine}/assessments",
        data={"criterion": crit, "score": "5", "comment": "second tab", "expected_version": "0",
              "csrf_token": h["x-csrf-token"]},
        headers={"x-partial": "1"},
    )  # fmt: skip
    assert html.status_code == 409 and html.headers["content-type"].startswith("text/html")
    assert "changed by manager@example.com" in html.text and "reload" in html.text
    assert "Stored now: 2: first tab" in html.text
    stored = [a for a in list_assessments(workspace, mine) if a.criterion == crit]
    assert [(a.score, a.comment) for a in stored] == [(2.0, "first tab")]


@pytest.mark.parametrize(
    ("form", "field", "expected"),
    [
        ({"score": "9"}, "score", "expected a number from 1 to 5, found '9'"),
        ({"score": "four"}, "score", "expected a number"),
        ({"score": ""}, "score", "expected a number"),
        ({"criterion": "<b>nope</b>"}, "criterion", "expected one of the policy's assessment"),
        ({"comment": "x" * 4001}, "comment", "expected at most 4000 characters"),
        ({"expected_version": "v1"}, "expected_version", "expected the whole number"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_saved(
    app: FastAPI, workspace: Workspace, form: dict[str, str], field: str, expected: str
) -> None:
    client, h = _client(app, "manager")
    mine, _ = _accounts(workspace)
    data = {"criterion": _criterion(workspace), "score": "3", "comment": "", "expected_version":
            "0", **form}  # fmt: skip
    before = (len(list_assessments(workspace)), len(history(workspace, "assessment")))
    refused = _save(client, h, mine, **data)
    assert refused.status_code == 422
    assert refused.json()["field"] == field and expected in refused.json()["detail"]
    html = client.post(f"/accounts/{mine}/assessments",
                       data={**data, "csrf_token": h["x-csrf-token"]})  # fmt: skip
    assert html.status_code == 422 and expected.replace("'", "&#39;") in html.text
    assert "<b>nope</b>" not in html.text
    after = (len(list_assessments(workspace)), len(history(workspace, "assessment")))
    assert after == before


def test_an_oversized_body_is_refused(app: FastAPI, workspace: Workspace) -> None:
    client, h = _client(app, "manager")
    mine, _ = _accounts(workspace)
    before = len(list_assessments(workspace))
    refused = _save(client, h, mine, criterion=_criterion(workspace), score="3",
                    comment="x" * 100_000, expected_version="0")  # fmt: skip
    assert refused.status_code == 422 and "comment" in refused.text
    assert len(list_assessments(workspace)) == before


def test_the_queue_is_the_managers_and_leads_see_disagreements(
    app: FastAPI, workspace: Workspace
) -> None:
    client, h = _client(app, "manager")
    page = client.get("/assessments", headers=h).json()
    run = runs.latest(workspace)
    assert run is not None
    pf = run.portfolio(["account_id", "owner"])
    owned = set(pf[pf["owner"] == manager_id(workspace)]["account_id"])
    assert page["queue"] and {q["account_id"] for q in page["queue"]} <= owned
    assert all(q["missing"] or q["stale"] for q in page["queue"])
    lead, lh = _client(app, "lead")
    lead_page = lead.get("/assessments", headers=lh).json()
    assert lead_page["queue"] is None
    shares = [d["spread_share"] for d in lead_page["disagreements"]]
    assert shares and shares == sorted(shares, reverse=True) and min(shares) > 1 / 3
    html = lead.get("/assessments").text
    assert "Where assessors disagree" in html and "<script>alert(" not in html


def test_overrides_add_stale_revoke(app: FastAPI, workspace: Workspace) -> None:
    client, h = _client(app, "lead")
    _, account = _accounts(workspace)
    added = client.post(
        "/overrides",
        headers=h,
        data={"account_id": account, "direction": "in", "reason": SCRIPT, "expected_version": "0"},
    )
    assert added.status_code == 200, added.text
    version = added.json()["version"]
    stale = client.post(
        "/overrides",
        headers=h,
        data={"account_id": account, "direction": "out", "reason": "late", "expected_version": "0"},
    )
    assert stale.status_code == 409 and "changed by lead@example.com" in stale.json()["detail"]
    no_reason = client.post("/overrides", headers=h, data={
        "account_id": account, "direction": "out", "reason": " ",
        "expected_version": str(version)})  # fmt: skip
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    listed = client.get("/overrides", headers=h).json()["active"]
    assert [(o["account_id"], o["reason"]) for o in listed] == [(account, SCRIPT)]
    html = client.get("/overrides").text
    assert SCRIPT not in html and "&lt;script&gt;alert(&#39;comment" in html
    fragment = client.get(f"/accounts/{account}/overrides", headers=h).json()
    assert fragment["active"]["direction"] == "in" and fragment["may_edit"]
    stale_revoke = client.post(f"/overrides/{account}/revoke", headers=h,
                               data={"expected_version": str(version - 1)})  # fmt: skip
    assert stale_revoke.status_code == 409
    revoked = client.post(f"/overrides/{account}/revoke", headers=h,
                          data={"expected_version": str(version)})  # fmt: skip
    assert revoked.status_code == 200 and revoked.json()["active"] is None
    actions = [e["action"] for e in client.get(f"/accounts/{account}/overrides",
                                               headers=h).json()["history"]]  # fmt: skip
    assert actions == ["remove", "add"]
    manager, mh = _client(app, "manager")
    refused = manager.post(
        "/overrides",
        headers=mh,
        data={"account_id": account, "direction": "in", "reason": "mine", "expected_version": "2"},
    )
    assert refused.status_code == 403
    assert manager.get(f"/accounts/{account}/overrides", headers=mh).json()["may_edit"] is False


def test_reconciliation_lists_failed_accounts_with_reasons(app: FastAPI) -> None:
    client, h = _client(app, "viewer")
    page = client.get("/reconciliation", headers=h).json()
    assert page["run_id"] and page["lists"]
    failed = [m for lst in page["lists"] for m in lst["failed"]]
    assert failed and all(m["reasons"] for m in failed if m["known"])
    assert all(m["name"].startswith(EVIL) for m in failed if m["known"])
    html = client.get("/reconciliation").text
    assert "Failed the definition" in html and "<script>alert(" not in html


def test_audit_filters_pages_and_shows_json_as_text(app: FastAPI, workspace: Workspace) -> None:
    manager, mh = _client(app, "manager")
    mine, _ = _accounts(workspace)
    crit = policy_criteria(workspace)[2].criterion
    assert _save(manager, mh, mine, criterion=crit, score="3", comment=SCRIPT,
                 expected_version="0").status_code == 200  # fmt: skip
    assert manager.get("/audit", headers=mh).status_code == 403
    client, h = _client(app, "lead")
    found = client.get(
        "/audit",
        headers=h,
        params={"entity": "assessment", "who": "manager@example.com", "entity_id": mine},
    ).json()
    assert found["total"] >= 1
    assert all(e["entity"] == "assessment" and e["entity_id"] == mine for e in found["entries"])
    assert any(e["after"]["comment"] == SCRIPT for e in found["entries"])
    paged = client.get("/audit", headers=h, params={"per_page": 1, "page": 2}).json()
    assert len(paged["entries"]) == 1 and paged["page"] == 2 and paged["pages"] == paged["total"]
    assert client.get("/audit", headers=h, params={"since": "yesterday"}).status_code == 422
    assert client.get("/audit", headers=h, params={"entity": "nope"}).status_code == 422
    html = client.get("/audit", params={"entity": "assessment", "entity_id": mine}).text
    assert SCRIPT not in html and "&lt;script&gt;alert(&#39;comment" in html


def test_openapi_documents_these_pages(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path in ("/assessments", "/overrides", "/reconciliation", "/audit",
                 "/accounts/{account_id}/assess", "/accounts/{account_id}/assessments",
                 "/accounts/{account_id}/overrides"):  # fmt: skip
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/html"}, path
    post = paths["/accounts/{account_id}/assessments"]["post"]["responses"]
    assert {"409", "422"} <= set(post)

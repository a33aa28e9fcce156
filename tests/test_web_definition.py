"""The definition editor through the test client: live what-if, saving versions, bad input,
stale saves, versions and diffs, names shown as text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from keyfolio import runs
from keyfolio.analysis import whatif
from keyfolio.db import close_db, history
from keyfolio.db.engine import ENV_VAR
from keyfolio.db.policies import versions
from keyfolio.policy import parse_policy
from keyfolio.web import Settings, create_app
from keyfolio.workspace import Workspace
from webclient import EVIL, signed_in, web_workspace

JSON = {"accept": "application/json"}
PARTIAL = {"x-partial": "1", "accept": "text/html"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws = web_workspace(tmp_path_factory.mktemp("defn") / "ws")
    yield ws
    whatif.clear_cache()
    close_db(ws)
    mp.undo()


@pytest.fixture
def app(workspace: Workspace) -> FastAPI:
    return create_app(Settings(workspace=workspace.root))


@pytest.fixture
def lead(app: FastAPI) -> Iterator[tuple[TestClient, str]]:
    with TestClient(app, base_url="https://testserver") as client:
        yield client, signed_in(client, "lead")


def _form(page_html: str) -> dict[str, str]:
    """The definition form's fields as the page renders them (inputs and selects)."""
    form = page_html.split('id="definition-form"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input type="number" name="([^"]+)" value="([^"]*)"', form))
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        fields[name] = re.search(r'<option value="([^"]+)" selected', body).group(1)  # type: ignore[union-attr]
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[name] = body
    return {k: html.unescape(v) for k, v in fields.items()}


def _text(workspace: Workspace) -> str:
    return workspace.policy_path.read_text(encoding="utf-8")


def test_editor_page_and_its_json_twin(lead: tuple[TestClient, str]) -> None:
    client, _ = lead
    page = client.get("/definition")
    assert page.status_code == 200 and 'id="definition-form"' in page.text
    assert '<script src="/vendor/plotly.min.js">' in page.text and "data-live" in page.text
    doc = client.get("/definition?format=json").json()
    assert doc["fields"]["criteria"] and doc["run_id"] and doc["text"].startswith("#")


def test_viewer_reads_versions_but_cannot_edit(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        csrf = signed_in(client, "viewer")
        assert client.get("/definition", headers=JSON).status_code == 403
        assert client.get("/definition/versions", headers=JSON).status_code == 200
        r = client.post("/definition/what-if", headers={**JSON, "x-csrf-token": csrf})
        assert r.status_code == 403


def test_weight_change_updates_the_what_if_fragment(
    lead: tuple[TestClient, str], workspace: Workspace
) -> None:
    client, csrf = lead
    page = client.get("/definition").text
    fields = _form(page)
    base = parse_policy(_text(workspace))
    same = client.post("/definition/what-if", headers={**JSON, "x-csrf-token": csrf},
                       data={**fields, "base": _text(workspace)})  # fmt: skip
    assert same.status_code == 200 and same.json()["n_entering"] == same.json()["n_leaving"] == 0
    name = base.attractiveness[2].name
    fields["weight:attractiveness:2"] = "40"
    r = client.post("/definition/what-if", headers={**PARTIAL, "x-csrf-token": csrf},
                    data={**fields, "base": _text(workspace)})  # fmt: skip
    assert r.status_code == 200 and "What if" in r.text and "Would enter the key list" in r.text
    assert 'data-direction="enters"' in r.text and "<script data-run>" in r.text
    doc = client.post("/definition/what-if", headers={**JSON, "x-csrf-token": csrf},
                      data={**fields, "base": _text(workspace)}).json()  # fmt: skip
    assert doc["n_entering"] > 0 and doc["entering"][0]["reason"]
    assert parse_policy(doc["text"]).attractiveness[2].weight == 40 != base.attractiveness[2].weight
    assert name in doc["text"] and versions(workspace) == []  # nothing saved


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight:attractiveness:0": "lots"}, "attractiveness[0].weight: expected a number"),
        ({"weight:attractiveness:0": "-3"}, "attractiveness[0].weight: expected a finite number"),
        ({"matrix:strength_cut": "140"}, "matrix.strength_cut: expected a finite number"),
        ({"selection:never": "nope_column > 2"}, "unknown column 'nope_column'"),
    ],
)
def test_bad_input_is_a_clear_422_and_nothing_saved(
    lead: tuple[TestClient, str], workspace: Workspace, change: dict[str, str], message: str
) -> None:
    client, csrf = lead
    fields = {**_form(client.get("/definition").text), **change}
    before, n = _text(workspace), len(versions(workspace))
    data = {**fields, "base": before, "expected_version": "0", "csrf_token": csrf}
    for url in ("/definition/what-if", "/definition"):
        r = client.post(url, headers=JSON, data=data)
        assert r.status_code == 422 and message in r.json()["detail"], (url, r.text)
    html = client.post("/definition", data=data)  # the page again, with the message
    assert html.status_code == 422 and message.replace("'", "&#39;") in html.text
    frag = client.post("/definition/what-if", headers=PARTIAL, data=data)
    assert frag.status_code == 422 and 'role="alert"' in frag.text
    assert _text(workspace) == before and len(versions(workspace)) == n


def test_raw_toml_errors_inline_and_oversized_body(
    lead: tuple[TestClient, str], workspace: Workspace
) -> None:
    client, csrf = lead
    head = {**PARTIAL, "x-csrf-token": csrf}
    r = client.post("/definition/what-if", headers=head, data={"toml": "[selection\n"})
    assert r.status_code == 422 and "not valid TOML" in r.text
    big = _text(workspace) + "#" * (300 * 1024)
    r = client.post("/definition", headers={**JSON, "x-csrf-token": csrf},
                    data={"toml": big, "expected_version": "0"})  # fmt: skip
    assert r.status_code == 422 and "expected at most 256 KiB" in r.json()["detail"]
    r = client.post("/definition", headers={**JSON, "x-csrf-token": csrf},
                    data={"toml": _text(workspace), "expected_version": "two"})  # fmt: skip
    assert r.status_code == 422 and "expected_version: expected a whole number" in r.text
    assert versions(workspace) == []


def test_save_versions_diff_and_stale_save(
    lead: tuple[TestClient, str], workspace: Workspace
) -> None:
    client, csrf = lead
    original = _text(workspace)
    fields = _form(client.get("/definition").text)
    start = len(versions(workspace))
    data = {**fields, "weight:attractiveness:1": "25", "base": original, "csrf_token": csrf,
            "expected_version": str(start), "note": "more weight on contribution"}  # fmt: skip
    saved = client.post("/definition", data=data, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/definition?saved=")
    number = int(saved.headers["location"].rsplit("=", 1)[1])
    page = client.get(saved.headers["location"]).text
    assert f"Start a run with version {number}" in page and 'action="/runs"' in page
    assert parse_policy(_text(workspace)).attractiveness[1].weight == 25
    assert history(workspace, "policy", str(number))[-1].who == "lead@example.com"
    # a second editor who loaded the page before the save is refused, nothing saved
    stale = client.post("/definition", headers=JSON, data={**data, "weight:attractiveness:1": "3"})
    assert stale.status_code == 409
    assert re.search(r"changed by lead@example.com at .* UTC .*reload", stale.json()["detail"])
    assert parse_policy(_text(workspace)).attractiveness[1].weight == 25
    listed = client.get("/definition/versions", headers=JSON).json()
    assert listed["current"] == number and listed["versions"][0]["number"] == number
    one = client.get(f"/definition/versions/{number}", headers=JSON).json()
    assert one["note"] == "more weight on contribution" and "weight = 25" in one["text"]
    diff = client.get(f"/definition/diff?a=1&b={number}", headers=JSON).json()
    keys = {(c["section"], c["key"]) for c in diff["changes"]}
    crit = parse_policy(original).attractiveness[1].name
    assert ("weights", f"attractiveness.{crit}.weight") in keys
    assert diff["run_id"] == runs.latest(workspace).id  # type: ignore[union-attr]
    assert client.get(f"/definition/diff?a=1&b={number}").status_code == 200
    assert client.get("/definition/versions/999", headers=JSON).status_code == 404
    assert client.get("/definition/diff?a=1&b=x", headers=JSON).status_code == 422


def test_a_criterion_named_with_html_is_text(
    lead: tuple[TestClient, str], workspace: Workspace
) -> None:
    client, csrf = lead
    text = _text(workspace).replace('name = "growth"', f'name = "{EVIL}"', 1)
    assert text != _text(workspace)
    r = client.post("/definition/what-if", headers={**JSON, "x-csrf-token": csrf},
                    data={"toml": text})  # fmt: skip
    assert r.status_code == 200 and f'name = "{EVIL}"' in r.json()["text"]
    head = {"x-csrf-token": csrf}
    saved = client.post(
        "/definition",
        headers={**JSON, **head},
        data={"toml": text, "expected_version": str(len(versions(workspace)))},
    )
    assert saved.status_code == 200, saved.text
    page = client.get("/definition")
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(" in page.text
    doc = client.get("/definition?format=json").json()
    assert any(c["name"] == EVIL for c in doc["fields"]["criteria"])
    frag = client.post("/definition/what-if", headers={**PARTIAL, **head}, data={"toml": text})
    assert "<script>alert" not in frag.text  # account names carry it too
    assert "&lt;script&gt;alert(" in frag.text or "\\u003cscript" in frag.text


def test_what_if_without_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    ws = web_workspace(tmp_path / "ws", accounts=60, lines=1500, evil=False)
    for run_id in runs.run_ids(ws):
        (ws.runs_dir / run_id / runs.RUN_JSON).unlink()
    try:
        with TestClient(create_app(Settings(workspace=ws.root)), base_url="https://t") as client:
            csrf = signed_in(client, "admin")
            assert "No run yet" in client.get("/definition").text
            r = client.post("/definition/what-if", headers={**JSON, "x-csrf-token": csrf})
            assert r.status_code == 409 and "no runs yet" in r.json()["detail"]
    finally:
        close_db(ws)

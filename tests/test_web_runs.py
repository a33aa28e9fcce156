"""The runs pages: the list with policy versions, one run, the diff, report downloads, and
runs started in the background (progress, 409 while busy, a failed run)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import openpyxl
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from keyfolio import pipeline, runs
from keyfolio.db import close_db, history
from keyfolio.db.engine import ENV_VAR, write_session
from keyfolio.db.models import PolicyVersionRow, utcnow
from keyfolio.web import Settings, create_app
from keyfolio.web.jobs import JobRegistry
from keyfolio.workspace import Workspace
from webclient import signed_in, web_workspace

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws = web_workspace(tmp_path_factory.mktemp("runs") / "ws")
    yield ws
    close_db(ws)
    mp.undo()


@pytest.fixture
def app(workspace: Workspace) -> Iterator[FastAPI]:
    app = create_app(Settings(workspace=workspace.root))
    yield app
    jobs: JobRegistry = app.state.jobs
    assert jobs.running() is None, "a test left a run going"


@pytest.fixture
def lead(app: FastAPI) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(app, base_url="https://testserver") as c:
        csrf = signed_in(c, "lead")
        yield c, {"x-csrf-token": csrf, **JSON}


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    """Poll the job's page until it says it is done (as the browser does)."""
    for _ in range(3000):
        r = client.get(f"/runs/jobs/{job_id}", headers={"x-partial": "1"})
        assert r.status_code == 200
        if r.headers.get("x-poll-done") == "1":
            return client.get(f"/runs/jobs/{job_id}", headers=JSON).json()
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never finished")


def test_runs_list_has_each_runs_policy_key_accounts_and_warnings(
    workspace: Workspace, lead: tuple[TestClient, dict[str, str]]
) -> None:
    client, _ = lead
    listed = client.get("/runs", headers=JSON).json()["runs"]
    assert [r["run_id"] for r in listed] == runs.run_ids(workspace)[::-1]
    first = listed[-1]
    run = runs.get(workspace, first["run_id"])
    meta = run.meta()
    pf = pd.read_parquet(run.path(runs.PORTFOLIO))
    assert first["key_accounts"] == int(pf["is_key"].sum()) > 0
    assert first["warnings"] == len(meta["warnings"])
    assert first["policy_sha256"] == meta["policy"]["sha256"]
    assert first["started"] == meta["started"] and first["finished"] == meta["finished"]
    page = client.get("/runs").text
    assert meta["policy"]["sha256"][:12] in page  # no saved version: the short hash
    with write_session(workspace) as s:
        for number, sha in ((1, "0" * 64), (2, meta["policy"]["sha256"])):
            s.add(PolicyVersionRow(number=number, sha256=sha, text="", who="lead@example.com",
                                   created_at=utcnow()))  # fmt: skip
    try:
        listed = client.get("/runs", headers=JSON).json()["runs"]
        assert listed[-1]["policy_version"] == 2
        assert "version 2" in client.get("/runs").text
    finally:
        with write_session(workspace) as s:
            s.query(PolicyVersionRow).delete()


def test_one_run_and_unknown_ones(workspace: Workspace, lead: tuple[TestClient, Any]) -> None:
    client, _ = lead
    run_id = runs.run_ids(workspace)[0]
    body = client.get(f"/runs/{run_id}", headers=JSON).json()
    assert body["run"]["run_id"] == run_id
    assert set(body["timings_s"]) >= {"facts", "definition", "write"}
    assert body["reports"]["pdf"] == f"/runs/{run_id}/report.pdf"
    page = client.get(f"/runs/{run_id}").text
    assert "Stage timings" in page and body["warnings"][0][:30] in page
    assert client.get("/runs/20000101T000000Z").status_code == 404
    assert client.get("/runs/20000101T000000Z/report.html").status_code == 404
    assert client.get(f"/runs/{run_id}/report.doc").status_code == 422
    assert client.get("/runs/jobs/nope", headers=JSON).status_code == 404
    assert client.get(f"/runs/diff?a={run_id}&b=nope", headers=JSON).status_code == 404


def test_reports_download_and_are_built_once(
    workspace: Workspace, lead: tuple[TestClient, Any]
) -> None:
    client, _ = lead
    run = runs.get(workspace, runs.run_ids(workspace)[0])
    r = client.get(f"/runs/{run.id}/report.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert run.id in r.text
    built = run.path("report.html").stat().st_mtime_ns
    again = client.get(f"/runs/{run.id}/report.html")
    assert again.content == r.content
    assert run.path("report.html").stat().st_mtime_ns == built  # served, not rebuilt
    x = client.get(f"/runs/{run.id}/report.xlsx")
    assert x.status_code == 200 and "attachment" in x.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)
    assert len(book.sheetnames) >= 2
    p = client.get(f"/runs/{run.id}/report.pdf")
    assert p.status_code == 200 and p.content.startswith(b"%PDF")


def test_background_run_end_to_end(workspace: Workspace, lead: tuple[TestClient, Any]) -> None:
    client, headers = lead
    before = runs.run_ids(workspace)
    r = client.post("/runs", headers=headers)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "running" and job["started_by"] == "lead@example.com"
    page = client.get(f"/runs/jobs/{job['job_id']}").text
    assert "Background run" in page
    done = _wait(client, job["job_id"])
    assert done["state"] == "done" and done["error"] is None
    assert [s["name"] for s in done["stages"]][:2] == ["facts", "value_lines"]
    assert "write" in [s["name"] for s in done["stages"]]
    assert runs.run_ids(workspace) == [*before, done["run_id"]]
    listed = client.get("/runs", headers=JSON).json()["runs"]
    assert listed[0]["run_id"] == done["run_id"]
    page = client.get(f"/runs/jobs/{job['job_id']}").text
    assert f'href="/runs/{done["run_id"]}"' in page and "data-poll" not in page
    entries = [e for e in history(workspace, "run") if e.entity_id == job["job_id"]]
    assert [(e.action, e.who) for e in entries] == [
        ("started", "lead@example.com"), ("finished", "lead@example.com")
    ]  # fmt: skip
    assert entries[1].after["run_id"] == done["run_id"]


def test_a_browser_form_is_sent_to_the_progress_page(lead: tuple[TestClient, Any]) -> None:
    client, headers = lead
    form = client.get("/runs").text
    assert 'action="/runs"' in form and "Start a run" in form
    r = client.post("/runs", data={"csrf_token": headers["x-csrf-token"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/runs/jobs/")
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert f'data-poll="/runs/jobs/{job_id}"' in client.get(r.headers["location"]).text or (
        client.get(r.headers["location"]).headers.get("x-poll-done") == "1"
    )
    assert _wait(client, job_id)["state"] == "done"


def test_viewers_and_managers_cannot_start_runs(app: FastAPI, workspace: Workspace) -> None:
    before = runs.run_ids(workspace)
    for role in ("viewer", "manager"):
        with TestClient(app, base_url="https://testserver") as c:
            csrf = signed_in(c, role)
            assert c.post("/runs", headers={"x-csrf-token": csrf, **JSON}).status_code == 403
            assert "Start a run" not in c.get("/runs").text
    assert runs.run_ids(workspace) == before


def test_a_second_run_while_one_runs_is_409(
    app: FastAPI, workspace: Workspace, lead: tuple[TestClient, Any]
) -> None:
    client, headers = lead
    reached, go_on = threading.Event(), threading.Event()

    def hold_at_facts(stage: str) -> None:
        if stage == "facts":
            reached.set()
            go_on.wait()

    app.state.jobs.on_stage = hold_at_facts
    r = client.post("/runs", headers=headers)
    assert r.status_code == 202
    try:
        assert reached.wait(120)
        again = client.post("/runs", headers=headers)
        assert again.status_code == 409
        detail = again.json()["detail"]
        assert detail.startswith("a run is already in progress (started by lead@example.com at")
        unbuilt = runs.get(workspace, runs.run_ids(workspace)[0])
        unbuilt.path("report.xlsx").unlink(missing_ok=True)
        report = client.get(f"/runs/{unbuilt.id}/report.xlsx", headers=JSON)
        assert report.status_code == 409 and "a run is already in progress" in report.text
        assert not unbuilt.has("report.xlsx")
        running = client.get("/runs", headers=JSON).json()["running"]
        assert running["job_id"] == r.json()["job_id"] and running["stages"][0]["name"] == "facts"
        assert "A run is in progress" in client.get("/runs").text
    finally:
        go_on.set()
    assert _wait(client, r.json()["job_id"])["state"] == "done"


HOLD = """
import sys
from keyfolio.lock import WorkspaceLock
with WorkspaceLock(sys.argv[1], "run"):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_run_of_the_command_line_makes_it_409(
    app: FastAPI, workspace: Workspace, lead: tuple[TestClient, Any]
) -> None:
    client, headers = lead
    before = runs.run_ids(workspace)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(workspace.root)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = client.post("/runs", headers=headers)
        assert r.status_code == 409
        detail = r.json()["detail"]
        assert detail.startswith("a run is already in progress (started by keyfolio run")
        assert f"pid {holder.pid}" in detail
        fresh = runs.get(workspace, before[0])
        fresh.path("report.xlsx").unlink(missing_ok=True)
        assert client.get(f"/runs/{fresh.id}/report.xlsx").status_code == 409
        assert app.state.jobs.running() is None
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(60)
    assert runs.run_ids(workspace) == before
    r = client.post("/runs", headers=headers)  # free again
    assert r.status_code == 202
    assert _wait(client, r.json()["job_id"])["state"] == "done"


def test_a_failed_run_shows_its_error_and_frees_the_registry(
    app: FastAPI, workspace: Workspace, lead: tuple[TestClient, Any]
) -> None:
    client, headers = lead
    before = runs.run_ids(workspace)
    policy = workspace.policy_path.read_text(encoding="utf-8")
    workspace.policy_path.write_text(policy + "\n[size\nbroken = \n", encoding="utf-8")
    try:
        r = client.post("/runs", headers=headers)
        assert r.status_code == 202
        failed = _wait(client, r.json()["job_id"])
    finally:
        workspace.policy_path.write_text(policy, encoding="utf-8")
    assert failed["state"] == "failed" and failed["run_id"] is None
    assert "keyfolio.toml" in failed["error"] and "\n" not in failed["error"]
    page = client.get(f"/runs/jobs/{failed['job_id']}").text
    assert 'role="alert">The run failed: ' in page
    assert app.state.jobs.running() is None
    assert runs.run_ids(workspace) == before
    actions = [e.action for e in history(workspace, "run") if e.entity_id == failed["job_id"]]
    assert actions == ["started", "failed"]
    again = client.post("/runs", headers=headers)  # nothing stuck: the next run starts
    assert again.status_code == 202
    assert _wait(client, again.json()["job_id"])["state"] == "done"


def _key_ids(ws: Workspace, run_id: str) -> set[str]:
    pf = pd.read_parquet(runs.get(ws, run_id).path(runs.PORTFOLIO))
    return set(pf.loc[pf["is_key"], "account_id"])


def test_diff_of_two_runs(workspace: Workspace, lead: tuple[TestClient, Any]) -> None:
    client, _ = lead
    if len(runs.run_ids(workspace)) < 2:
        pipeline.run(workspace)
    ids = runs.run_ids(workspace)
    a, b = ids[0], ids[-1]
    body = client.get(f"/runs/diff?a={a}&b={b}", headers=JSON).json()
    d = body["diff"]
    assert (d["run_a"], d["run_b"]) == (a, b) and body["runs"][0] == ids[-1]
    ka, kb = (_key_ids(workspace, r) for r in (a, b))
    assert d["entered"] == len(kb - ka) and d["left"] == len(ka - kb)
    page = client.get(f"/runs/diff?a={a}&b={b}").text
    assert f"Changes from {a} to {b}" in page and "<script>alert" not in page
    assert client.get("/runs/diff?a=" + a, headers=JSON).status_code == 422


def test_openapi_documents_the_runs_pages(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path in ("/runs", "/runs/{run_id}", "/runs/diff", "/runs/jobs/{job_id}"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/html"}, path
    assert set(paths["/runs"]["post"]["responses"]) >= {"202", "303", "409"}
    report = paths["/runs/{run_id}/report.{fmt}"]["get"]["responses"]
    assert set(report["200"]["content"]) >= {"text/html", "application/pdf"}
    assert {"404", "409"} <= set(report)

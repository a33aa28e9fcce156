"""Shared by the web tests: a sample workspace with one run and a user per role, and
signing in through the real form (CSRF token from the page)."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from keyfolio import pipeline
from keyfolio.db.models import ROLES
from keyfolio.db.users import add_user
from keyfolio.sample import make_sample
from keyfolio.workspace import Workspace

PASSWORD = "correct horse battery"
EVIL = "<script>alert('x')</script> & Sons"


def web_workspace(
    root: Path, *, accounts: int = 200, lines: int = 8000, evil: bool = True
) -> Workspace:
    """A sample workspace (names carrying HTML when ``evil``) with one run and a user per
    role: ``<role>@example.com``, password :data:`PASSWORD`. The manager user is the first
    manager of the team table (it owns that manager's accounts)."""
    make_sample(root, accounts=accounts, lines=lines, seed=3)
    if evil:
        path = root / "data" / "accounts.parquet"
        table = pq.read_table(path)
        names = pa.array([f"{EVIL} {i}" for i in range(table.num_rows)], type=pa.string())
        index = table.schema.get_field_index("name")
        pq.write_table(table.set_column(index, table.schema.field(index), names), path)
    ws = Workspace.open(root)
    pipeline.run(ws)
    team = ws.read_frame("team")
    assert team is not None
    for role in ROLES:
        manager_id = str(team["manager_id"].iloc[0]) if role == "manager" else None
        add_user(ws, f"{role}@example.com", role, PASSWORD, "setup", manager_id=manager_id)
    return ws


def manager_id(ws: Workspace) -> str:
    """The team table's id of the manager@example.com user (the owner of their accounts)."""
    team = ws.read_frame("team")
    assert team is not None
    return str(team["manager_id"].iloc[0])


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD, **headers: str):
    form = client.get("/login")
    assert form.status_code == 200
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
        headers=headers,
        follow_redirects=False,
    )


def signed_in(client: TestClient, role: str) -> str:
    """Sign ``client`` in as the ``role`` user; returns the session's CSRF token (send it as
    the ``X-CSRF-Token`` header or the ``csrf_token`` form field)."""
    response = login(client, f"{role}@example.com", accept="application/json")
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])

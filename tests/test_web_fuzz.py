"""Schemathesis over the app's OpenAPI schema: generated requests to every operation, as a
signed-in lead (with the session's CSRF token) and anonymously, never answer a server error.

Operations that end the caller's session or start background work are left to their own
tests: fuzzing them would only test the rest signed out, or fill the machine with runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from keyfolio.db import close_db
from keyfolio.db.engine import ENV_VAR
from keyfolio.web import Settings, create_app
from keyfolio.workspace import Workspace
from webclient import signed_in, web_workspace

NOT_FUZZED = {("POST", "/logout"), ("POST", "/runs")}
EXAMPLES = 20  # per operation and caller


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws: Workspace = web_workspace(tmp_path_factory.mktemp("fuzz") / "ws", accounts=120, lines=4000)
    yield create_app(Settings(workspace=ws.root, login_attempts=10**6, address_attempts=10**6))
    close_db(ws)
    mp.undo()


def _operations(app: FastAPI) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = []
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) not in NOT_FUZZED:
            found.append(op)
    return found


@pytest.mark.parametrize("caller", ["lead", "manager", None])
def test_no_server_error_anywhere(app: FastAPI, caller: str | None) -> None:
    operations = _operations(app)
    assert {op.path for op in operations} >= {"/", "/login"}
    with TestClient(app, base_url="https://testserver") as client:
        headers = {}
        if caller is not None:
            headers = {"X-CSRF-Token": signed_in(client, caller)}
        cookies = dict(client.cookies)
        for op in operations:

            @given(case=op.as_strategy(), accept=st.sampled_from(["application/json", "text/html"]))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: schemathesis.Case, accept: str) -> None:
                response = case.call(headers={**headers, "Accept": accept}, cookies=cookies)
                case.validate_response(response, checks=[not_a_server_error])

            fuzz()


def test_the_fuzzer_reaches_signed_in_pages(app: FastAPI, tmp_path: Path) -> None:
    """The cookies handed to the fuzzer really sign it in (or the test above proves little)."""
    with TestClient(app, base_url="https://testserver") as client:
        signed_in(client, "lead")
        cookies = dict(client.cookies)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    op = schema["/"]["GET"]
    response = op.Case(query={"format": "json"}).call(cookies=cookies)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["role"] == "lead"

"""The web app (keyfolio.web) through FastAPI's TestClient, on a small sample workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from keyfolio import runs
from keyfolio.db import close_db, history
from keyfolio.db.engine import ENV_VAR
from keyfolio.db.models import ROLES
from keyfolio.db.users import WebSession, add_user
from keyfolio.sample import make_sample
from keyfolio.web import Settings, create_app
from keyfolio.web import app as web_app
from keyfolio.web.app import allowed_roles, api_routes
from keyfolio.web.deps import CsrfSession, roles
from keyfolio.web.ratelimit import LoginLimiter
from keyfolio.workspace import Workspace
from webclient import EVIL, PASSWORD, csrf_of, login, web_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A sample workspace whose account names carry HTML, with one run, and a user per role."""
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    ws = web_workspace(tmp_path_factory.mktemp("web") / "ws")
    yield ws
    close_db(ws)
    mp.undo()


@pytest.fixture
def app(workspace: Workspace) -> FastAPI:
    return create_app(Settings(workspace=workspace.root, login_attempts=3, address_attempts=5))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def test_login_rotates_the_session_and_logout_ends_it(client: TestClient) -> None:
    response = login(client, "lead@example.com")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    first = client.cookies["keyfolio_session"]
    page = client.get("/")
    assert page.status_code == 200 and "lead@example.com" in page.text
    second = login(client, "lead@example.com")  # signing in again: a new session
    assert second.status_code == 303
    new = client.cookies["keyfolio_session"]
    assert new != first
    stale = TestClient(
        client.app, base_url="https://testserver", cookies={"keyfolio_session": first}
    )
    assert stale.get("/", headers={"accept": "application/json"}).status_code == 401
    out = client.post(
        "/logout", data={"csrf_token": csrf_of(client.get("/").text)}, follow_redirects=False
    )
    assert out.status_code == 303 and out.headers["location"] == "/login"
    again = TestClient(client.app, base_url="https://testserver", cookies={"keyfolio_session": new})
    assert again.get("/", headers={"accept": "application/json"}).status_code == 401
    assert again.get("/", follow_redirects=False).headers["location"] == "/login"


def test_sign_in_and_out_are_audited(client: TestClient, workspace: Workspace) -> None:
    before = len(history(workspace, "user", "manager@example.com"))
    assert login(client, "manager@example.com").status_code == 303
    csrf = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).is_redirect
    entries = history(workspace, "user", "manager@example.com")[before:]
    assert [(e.who, e.action) for e in entries] == [
        ("manager@example.com", "login"),
        ("manager@example.com", "logout"),
    ]


def test_dashboard_without_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    make_sample(tmp_path / "empty", accounts=50, lines=1000, seed=1)
    ws = Workspace.open(tmp_path / "empty")
    add_user(ws, "v@example.com", "viewer", PASSWORD, "setup")
    try:
        with TestClient(create_app(Settings(workspace=ws.root)), base_url="https://t") as client:
            assert login(client, "v@example.com").status_code == 303
            assert client.get("/?format=json").json()["run"] is None
            assert "No run yet" in client.get("/").text
    finally:
        close_db(ws)


def test_wrong_password_fails(client: TestClient) -> None:
    response = login(client, "viewer@example.com", "not the password")
    assert response.status_code == 401 and "wrong email or password" in response.text
    assert "keyfolio_session" not in client.cookies
    assert login(client, "nobody@example.com").status_code == 401


def test_login_rate_limited_per_account_and_address(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        for _ in range(3):
            assert login(client, "manager@example.com", "wrong wrong").status_code == 401
        # the account is locked even with the right password ...
        refused = login(client, "manager@example.com")
        assert refused.status_code == 429 and "too many failed sign-ins" in refused.text
        assert refused.headers["retry-after"] == "300"
        assert login(client, "viewer@example.com").status_code == 303  # others are not
        # ... and after more failures from one address, that address is refused for everyone
        for _ in range(2):
            assert login(client, "viewer@example.com", "wrong wrong").status_code == 401
        assert login(client, "admin@example.com").status_code == 429
    fresh = create_app(Settings(workspace=app.state.settings.workspace, login_attempts=3))
    with TestClient(fresh, base_url="https://testserver") as client:
        assert login(client, "manager@example.com").status_code == 303


@pytest.mark.parametrize("token", [None, "wrong"])
def test_csrf_missing_or_wrong_is_refused_and_changes_nothing(
    client: TestClient, workspace: Workspace, token: str | None
) -> None:
    form = client.get("/login")
    data = {"email": "admin@example.com", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    refused = client.post("/login", data=data, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text  # an HTML page
    assert refused.headers["content-type"].startswith("text/html")
    assert "keyfolio_session" not in client.cookies
    assert csrf_of(form.text)
    assert login(client, "admin@example.com").status_code == 303
    before = len(history(workspace, "user"))
    data = {} if token is None else {"csrf_token": token}
    assert client.post("/logout", data=data, follow_redirects=False).status_code == 403
    assert client.get("/", headers={"accept": "application/json"}).status_code == 200
    assert len(history(workspace, "user")) == before


def _client_as(app: FastAPI, role: str | None) -> tuple[TestClient, str]:
    client = TestClient(app, base_url="https://testserver")
    if role is None:
        return client, ""
    response = login(client, f"{role}@example.com", accept="application/json")
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"]


def _holds(route, role: str | None, response) -> bool:
    """Anonymous callers get 401 on a guarded route, a role the rule leaves out 403; a role
    it lets in gets past the rule (any answer but 401 or a server error; a 403 only from an
    object-level check, which says whose the record is)."""
    allowed = allowed_roles(route)
    status = response.status_code
    if allowed is not None and role is None:
        return status == 401
    if allowed is not None and role not in allowed:
        return status == 403
    if status == 403:
        return "own" in response.json().get("detail", "")
    return status != 401 and status < 500


def path_examples(workspace: Workspace) -> dict[str, str]:
    """A real value for each path parameter of the app's routes."""
    run = runs.latest(workspace)
    assert run is not None
    account = str(run.portfolio(["account_id"])["account_id"].iloc[0])
    return {
        "account_id": account,
        "run_id": run.id,
        "run_a": run.id,
        "run_b": run.id,
        "number": "1",
        "fmt": "html",
        "criterion": "relationship",
        "job_id": "0",
        "override_id": "1",
        "list_name": "leadership",
    }


def check_rules(app: FastAPI) -> None:
    """Role x route -> status, from the app's route table."""
    examples = path_examples(Workspace(app.state.settings.workspace))
    for role in [None, *ROLES]:
        for route in api_routes(app):
            if route.path == "/login" and "POST" in route.methods:
                continue  # signing in is its own test (it changes the caller's session)
            client, csrf = _client_as(app, role)
            path = route.path.format(**{k: examples[k] for k in route.param_convertors})
            for method in sorted(route.methods):
                response = client.request(
                    method,
                    path,
                    headers={"accept": "application/json", "x-csrf-token": csrf},
                    follow_redirects=False,
                )
                assert _holds(route, role, response), (
                    role, method, path, response.status_code, response.text[:200]
                )  # fmt: skip


def test_every_route_has_a_rule_and_it_holds(app: FastAPI) -> None:
    """A new route without a rule makes create_app fail (next test); a rule that does not
    hold fails here."""
    assert {r.path for r in api_routes(app)} >= {"/", "/login", "/logout"}
    others = {getattr(r, "name", None) for r in app.routes} - {None}
    assert others <= {"openapi", "static"}, "routes outside the rules: public by design only"
    check_rules(app)


def test_a_role_rule_refuses_the_other_roles(workspace: Workspace) -> None:
    router = APIRouter()

    @router.post("/leads-only")
    def leads_only(
        session: Annotated[WebSession | None, Depends(roles("lead", "admin"))], _: CsrfSession
    ) -> dict[str, str]:
        return {"ok": "yes"}

    app = _with_router(workspace, router)
    route = next(r for r in api_routes(app) if r.path == "/leads-only")
    assert allowed_roles(route) == {"lead", "admin"}
    check_rules(app)


def _with_router(workspace: Workspace, router: APIRouter) -> FastAPI:
    original = web_app.ROUTERS
    web_app.ROUTERS = (*original, router)
    try:
        return create_app(Settings(workspace=workspace.root))
    finally:
        web_app.ROUTERS = original


def test_a_route_without_a_rule_stops_the_app(workspace: Workspace) -> None:
    router = APIRouter()

    @router.get("/unguarded")
    def unguarded() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="without an authorisation rule.*unguarded"):
        _with_router(workspace, router)


def test_a_state_changing_route_without_a_csrf_check_stops_the_app(workspace: Workspace) -> None:
    router = APIRouter()

    @router.post("/unchecked")
    def unchecked(session: Annotated[WebSession | None, Depends(roles("admin"))]) -> None:
        return None

    with pytest.raises(RuntimeError, match="without a CSRF check.*unchecked"):
        _with_router(workspace, router)


def test_secure_cookies_behind_https(workspace: Workspace) -> None:
    app = create_app(Settings(workspace=workspace.root, secure_cookies=True))
    with TestClient(app, base_url="https://testserver") as client:
        response = login(client, "viewer@example.com")
        assert response.status_code == 303 and "secure" in response.headers["set-cookie"].lower()


def test_dashboard_json_twin_and_names_are_text(client: TestClient) -> None:
    assert login(client, "viewer@example.com").status_code == 303
    html = client.get("/")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<script>" not in html.text and "&lt;script&gt;alert(" in html.text
    by_query = client.get("/?format=json")
    by_accept = client.get("/", headers={"accept": "application/json"})
    assert by_query.headers["content-type"] == "application/json"
    assert by_query.json() == by_accept.json()
    doc = by_query.json()
    assert doc["user"]["email"] == "viewer@example.com" and doc["run"]["accounts"] > 0
    names = [a["name"] for a in doc["run"]["destroyers"] + doc["run"]["diamonds"]]
    assert names and all(n.startswith(EVIL) for n in names)
    assert sum(t["accounts"] for t in doc["run"]["tiers"]) == doc["run"]["accounts"]


def test_openapi_documents_the_json_twins(app: FastAPI) -> None:
    schema = app.openapi()
    get = schema["paths"]["/"]["get"]
    assert set(get["responses"]["200"]["content"]) == {"application/json", "text/html"}
    assert any(p["name"] == "format" for p in get["parameters"])
    assert "Dashboard" in schema["components"]["schemas"]


def test_limiter_forgets_failures_after_the_window() -> None:
    now = [0.0]
    limiter = LoginLimiter(2, 3, window=60, clock=lambda: now[0])
    limiter.failed("account:a", "address:1")
    limiter.failed("account:a", "address:1")
    assert limiter.blocked("account:a") and not limiter.blocked("address:1")
    limiter.failed("account:b", "address:1")
    assert limiter.blocked("address:1") and not limiter.blocked("account:b")
    now[0] = 61
    assert not limiter.blocked("account:a", "address:1")
    limiter.failed("account:a")
    limiter.succeeded("account:a")
    assert not limiter.blocked("account:a")


def test_an_oversized_body_is_refused_before_any_route(
    client: TestClient, workspace: Workspace
) -> None:
    csrf = _client_as(client.app, "lead")[1]  # type: ignore[arg-type]
    before = len(history(workspace))
    big = {"email": "lead@example.com", "password": "x" * (2 * 1024 * 1024), "csrf_token": csrf}
    response = client.post("/login", data=big, headers={"accept": "application/json"})
    assert response.status_code == 413
    assert "too large" in response.json()["detail"] and "1024 KiB" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(40):
            yield b"x" * 65536

    response = client.post(
        "/login",
        content=chunks(),
        headers={"accept": "text/html", "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413 and "too large" in response.text
    assert len(history(workspace)) == before


def test_a_request_the_types_refuse_says_which_field(app: FastAPI) -> None:
    client, _ = _client_as(app, "viewer")
    response = client.get("/runs/diff?a=x", headers={"accept": "application/json"})
    assert response.status_code == 422
    assert response.json()["message"] == "b: Field required"
    page = client.get("/runs/diff?a=x", headers={"accept": "text/html"})
    assert page.status_code == 422 and "<h1>422</h1>" in page.text
    assert "b: Field required" in page.text

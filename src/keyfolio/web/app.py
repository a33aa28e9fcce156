"""The app factory: :func:`create_app` builds a new app from :class:`Settings` (nothing is
made at import time, so tests and servers each get their own)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from keyfolio.db.engine import ENV_VAR
from keyfolio.web.cache import RunCache
from keyfolio.web.deps import CSRF_CHECKS, SAFE_METHODS, Access, NotSignedIn, wants_json
from keyfolio.web.jobs import JobRegistry
from keyfolio.web.limits import LimitBody
from keyfolio.web.ratelimit import LoginLimiter
from keyfolio.web.render import templates
from keyfolio.web.routes import (
    accounts,
    assessments,
    assets,
    audit,
    auth,
    dashboard,
    definition,
    overrides,
    reconciliation,
    runs,
)
from keyfolio.web.settings import Settings
from keyfolio.workspace import Workspace

ROUTERS = (
    assets.router,
    auth.router,
    dashboard.router,
    accounts.router,
    definition.router,
    assessments.router,
    overrides.router,
    reconciliation.router,
    audit.router,
    runs.router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new Keyfolio web app over ``settings.workspace`` (default: from the environment)."""
    settings = settings if settings is not None else Settings.from_env()
    if settings.database_url:
        os.environ[ENV_VAR] = settings.database_url  # process-wide (see keyfolio.web.settings)
    Workspace.open(settings.workspace)  # a clear error now rather than on every page
    app = FastAPI(
        title="Keyfolio", version="0.1.0", docs_url=None, redoc_url=None
    )  # no CDN: the schema only
    app.state.settings = settings
    app.state.templates = templates()
    app.state.login_limiter = LoginLimiter(
        settings.login_attempts, settings.address_attempts, settings.login_window
    )
    app.state.jobs = JobRegistry()  # background runs and the one-writer slot
    app.state.run_cache = RunCache()  # what pages compute from a finished run
    for router in ROUTERS:
        app.include_router(router)
    static = Path(str(resources.files("keyfolio.web") / "static"))
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(HTTPException, _refused)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_middleware(LimitBody, limit=settings.max_body)
    routes = api_routes(app)
    missing = [f"{sorted(r.methods or ())} {r.path}" for r in routes if not access_of(r)]
    if missing:
        raise RuntimeError(f"routes without an authorisation rule: {', '.join(missing)}")
    unchecked = [
        f"{sorted(r.methods or ())} {r.path}"
        for r in routes
        if set(r.methods or ()) - SAFE_METHODS and not csrf_checked(r)
    ]
    if unchecked:
        raise RuntimeError(f"state-changing routes without a CSRF check: {', '.join(unchecked)}")
    return app


def api_routes(app: FastAPI) -> list[APIRoute]:
    """The app's API routes, through included routers (FastAPI >= 0.16x includes them
    lazily; the routers here have no prefix or dependencies of their own, so each original
    route is what is served)."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - older FastAPI copies the routes in
        routes = list(app.routes)
    else:
        routes = [context.original_route for context in iter_route_contexts(app.routes)]
    return [r for r in routes if isinstance(r, APIRoute)]


def _calls(route: APIRoute) -> list[object]:
    """Everything a route depends on, directly or through other dependencies."""
    found: list[object] = []

    def walk(dependant: Dependant) -> None:
        found.append(dependant.call)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


def access_of(route: APIRoute) -> list[Access]:
    """The authorisation rules a route depends on."""
    return [call for call in _calls(route) if isinstance(call, Access)]


def csrf_checked(route: APIRoute) -> bool:
    return any(call in CSRF_CHECKS for call in _calls(route))


def allowed_roles(route: APIRoute) -> frozenset[str] | None:
    """Who may call ``route``: the roles every rule on it allows (None: anyone)."""
    allowed: frozenset[str] | None = None
    for access in access_of(route):
        if access.allowed is not None:
            allowed = access.allowed if allowed is None else allowed & access.allowed
    return allowed


def _refused(request: Request, exc: Exception) -> Response:
    """403, 429 and the like: JSON ``{"detail": ...}`` for JSON clients, a page for browsers."""
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    engine = request.app.state.templates
    context = {"status": exc.status_code, "detail": str(exc.detail)}
    return engine.TemplateResponse(
        request, "error.html", context, status_code=exc.status_code, headers=exc.headers
    )


def _not_signed_in(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    return RedirectResponse("/login", status_code=303)


def _invalid(request: Request, exc: Exception) -> Response:
    """Input the route's declared types refuse (422): each problem as "field: message", as
    JSON for JSON clients (FastAPI's ``detail`` list plus ``message``) or as a page."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
        for e in exc.errors()
    ]
    message = "; ".join(problems)
    if request.method not in SAFE_METHODS:
        message += "; nothing was saved"
    if wants_json(request):
        return JSONResponse(
            {"detail": jsonable_encoder(exc.errors()), "message": message}, status_code=422
        )
    engine = request.app.state.templates
    context = {"status": 422, "detail": message}
    return engine.TemplateResponse(request, "error.html", context, status_code=422)

"""Typed dependencies of the routes: settings, workspace, the signed-in session, the
authorisation rule of each route, CSRF checks and the HTML/JSON choice.

Every route declares an :class:`Access` (``PUBLIC``, ``SIGNED_IN`` or one made by
:func:`roles`), and every state-changing route one of the :data:`CSRF_CHECKS`: the app
refuses to start with a route that lacks either, and the authorisation test reads the rules
from the app's route table.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, Form, Header, HTTPException, Query, Request

from keyfolio.db.models import ROLES
from keyfolio.db.users import WebSession, session_of
from keyfolio.web.settings import Settings
from keyfolio.workspace import Workspace


class NotSignedIn(Exception):
    """No valid session: JSON clients get 401, browsers are sent to the sign-in page."""


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_workspace(settings: SettingsDep) -> Workspace:
    return Workspace(settings.workspace)


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def optional_session(
    request: Request, settings: SettingsDep, ws: WorkspaceDep
) -> WebSession | None:
    return session_of(ws, request.cookies.get(settings.session_cookie))


MaybeSession = Annotated[WebSession | None, Depends(optional_session)]


class Access:
    """Who may call a route: ``allowed`` roles (None: anyone, signed in or not)."""

    def __init__(self, allowed: frozenset[str] | None) -> None:
        self.allowed = allowed

    def __call__(self, session: MaybeSession) -> WebSession | None:
        if self.allowed is None:
            return session
        if session is None:
            raise NotSignedIn()
        if session.user.role not in self.allowed:
            raise HTTPException(403, f"the role {session.user.role} may not do this")
        return session

    def __repr__(self) -> str:
        return f"Access({sorted(self.allowed) if self.allowed is not None else 'public'})"


def roles(*allowed: str) -> Access:
    unknown = set(allowed) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return Access(frozenset(allowed))


PUBLIC = Access(None)
SIGNED_IN = roles(*ROLES)
READERS = SIGNED_IN


def signed_in(session: Annotated[WebSession | None, Depends(SIGNED_IN)]) -> WebSession:
    assert session is not None  # SIGNED_IN refuses anonymous callers
    return session


CurrentSession = Annotated[WebSession, Depends(signed_in)]


def check_csrf(
    session: CurrentSession,
    csrf_token: Annotated[str | None, Form()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> WebSession:
    """A state-changing request of a signed-in user carries the session's CSRF token (form
    field ``csrf_token`` or header ``X-CSRF-Token``), else 403 and nothing is done."""
    sent = csrf_token or x_csrf_token or ""
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
    return session


CsrfSession = Annotated[WebSession, Depends(check_csrf)]


def check_login_csrf(
    request: Request,
    settings: SettingsDep,
    csrf_token: Annotated[str | None, Form()] = None,
) -> str:
    """Before signing in there is no session: the sign-in form's token must equal the CSRF
    cookie the sign-in page set (double submit), else 403."""
    expected = request.cookies.get(settings.csrf_cookie) or ""
    sent = csrf_token or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(403, "missing or wrong CSRF token; reload the sign-in page")
    return expected


LoginCsrf = Annotated[str, Depends(check_login_csrf)]
CSRF_CHECKS = (check_csrf, check_login_csrf)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Format = Literal["html", "json"]


def wants_json(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt is not None:
        return fmt == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def response_format(
    request: Request,
    format: Annotated[
        Format | None,
        Query(description="html (default for browsers) or json; or send Accept: application/json"),
    ] = None,
) -> Format:
    return "json" if wants_json(request) else "html"


FormatDep = Annotated[Format, Depends(response_format)]

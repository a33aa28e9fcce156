"""Signing in and out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from keyfolio.db.users import WebSession, authenticate, create_session, revoke_session
from keyfolio.web.deps import (
    PUBLIC,
    CsrfSession,
    FormatDep,
    LoginCsrf,
    SettingsDep,
    WorkspaceDep,
)
from keyfolio.web.ratelimit import LoginLimiter
from keyfolio.web.render import HTML_PAGE, page
from keyfolio.web.schemas.users import LoginPage, SignedIn, UserOut
from keyfolio.web.settings import Settings

router = APIRouter(tags=["auth"])
Anyone = Annotated[WebSession | None, Depends(PUBLIC)]


@router.get("/login", response_model=LoginPage, responses=HTML_PAGE)
def login_page(
    request: Request, fmt: FormatDep, settings: SettingsDep, session: Anyone
) -> Response:
    """The sign-in form, with a CSRF token (also set as a cookie: double submit)."""
    token = request.cookies.get(settings.csrf_cookie) or secrets.token_urlsafe(32)
    model = LoginPage(
        csrf_token=token, signed_in_as=None if session is None else UserOut.of(session.user)
    )
    response = page(request, fmt, "login.html", model)
    _cookie(response, settings, settings.csrf_cookie, token)
    return response


@router.post(
    "/login",
    response_model=SignedIn,
    responses={303: {"description": "signed in (browsers)"}, 401: {}, 403: {}, 429: {}},
)
def login(
    request: Request,
    fmt: FormatDep,
    settings: SettingsDep,
    ws: WorkspaceDep,
    session: Anyone,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    expected: LoginCsrf,
) -> Response:
    """Sign in: a new session (any earlier one of this browser is revoked)."""
    limiter: LoginLimiter = request.app.state.login_limiter
    address = request.client.host if request.client else "unknown"
    keys = (f"account:{email.strip().lower()}", f"address:{address}")
    if limiter.blocked(*keys):
        raise HTTPException(
            429,
            "too many failed sign-ins; wait a few minutes and try again",
            headers={"Retry-After": str(int(settings.login_window))},
        )
    user = authenticate(ws, email, password)
    if user is None:
        limiter.failed(*keys)
        model = LoginPage(csrf_token=expected, error="wrong email or password")
        return page(request, fmt, "login.html", model, status_code=401)
    limiter.succeeded(keys[0])
    old = request.cookies.get(settings.session_cookie)
    new = create_session(ws, user, replaces=old)
    signed = SignedIn(user=UserOut.of(user), csrf_token=new.csrf_token)
    response: Response
    if fmt == "json":
        response = JSONResponse(signed.model_dump(mode="json"))
    else:
        response = RedirectResponse("/", status_code=303)
    _cookie(response, settings, settings.session_cookie, new.token)
    response.delete_cookie(settings.csrf_cookie, path="/")
    return response


@router.post("/logout", status_code=303, responses={303: {"description": "signed out"}})
def logout(settings: SettingsDep, ws: WorkspaceDep, session: CsrfSession) -> Response:
    """Sign out: the session is revoked."""
    revoke_session(ws, session.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(settings.session_cookie, path="/")
    return response


def _cookie(response: Response, settings: Settings, name: str, value: str) -> None:
    """HttpOnly, SameSite=Lax, Secure behind HTTPS; ends with the browser session (the
    server ends the session itself at its expiry)."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )

"""Decision overrides: the list, adding and revoking (leads and admins, with the version
read: a stale change is a 409), and the account page's fragment. Thin over
keyfolio.db.overrides."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from keyfolio.db import overrides as store
from keyfolio.db.assessments import AssessmentInputError, find_account, parse_version
from keyfolio.db.users import WebSession
from keyfolio.errors import KeyfolioError
from keyfolio.web.deps import CsrfSession, CurrentSession, FormatDep, WorkspaceDep, roles
from keyfolio.web.render import HTML_PAGE, is_partial, page
from keyfolio.web.schemas.overrides import (
    AccountOverride,
    ActiveOverride,
    HistoryEntry,
    OverrideChanged,
    OverrideOut,
    OverrideProblem,
    OverridesPage,
)
from keyfolio.workspace import Workspace

router = APIRouter(tags=["overrides"])
LEADS = roles("lead", "admin")
Lead = Annotated[WebSession | None, Depends(LEADS)]
CHANGE: dict[int | str, dict[str, Any]] = {
    303: {"description": "changed (browsers go back to the page)"},
    409: {"model": OverrideProblem}, 422: {"model": OverrideProblem},
}  # fmt: skip
MAX_REASON = 2000


@router.get("/overrides", response_model=OverridesPage, responses=HTML_PAGE)
def overrides_page(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession
) -> Response:
    """The overrides in force, with reason, who and when."""
    model = _page_model(ws, session)
    return page(request, fmt, "overrides.html", model, session=session, problem=None)


@router.post("/overrides", response_model=OverrideChanged, responses=CHANGE)
def add(
    request: Request,
    fmt: FormatDep,
    ws: WorkspaceDep,
    session: CsrfSession,
    _: Lead,
    account_id: Annotated[str, Form(max_length=200)] = "",
    direction: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    expected_version: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Force an account in or out of the key list (replacing its override), with a reason."""
    try:
        account = find_account(ws, account_id.strip()).account_id
        version = parse_version(expected_version)
        _check(direction, reason)
        store.add_override(ws, account, direction, reason, session.user.email,  # type: ignore[arg-type]
                           expected_version=version)  # fmt: skip
    except (AssessmentInputError, store.ConcurrentChangeError, KeyfolioError) as exc:
        return _problem(request, fmt, ws, session, account_id, exc)
    return _changed(request, fmt, ws, session, account)


@router.post("/overrides/{account_id}/revoke", response_model=OverrideChanged, responses=CHANGE)
def revoke(
    request: Request,
    fmt: FormatDep,
    ws: WorkspaceDep,
    session: CsrfSession,
    _: Lead,
    account_id: str,
    expected_version: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Revoke the account's override (it goes back to what the definition says)."""
    try:
        version = parse_version(expected_version)
        if not store.remove_override(ws, account_id, session.user.email,
                                     expected_version=version):  # fmt: skip
            raise AssessmentInputError("account_id", f"account {account_id!r} has no override")
    except (AssessmentInputError, store.ConcurrentChangeError, KeyfolioError) as exc:
        return _problem(request, fmt, ws, session, account_id, exc)
    return _changed(request, fmt, ws, session, account_id)


@router.get("/accounts/{account_id}/overrides", response_model=AccountOverride, responses=HTML_PAGE)
def account_overrides(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, account_id: str
) -> Response:
    """The account's override, its history, and for leads the add/revoke form (fragment)."""
    model = _account_model(ws, session, account_id)
    return page(request, fmt, "_account_overrides.html", model, session=session, problem=None)


# -- helpers ------------------------------------------------------------------------------
def _check(direction: str, reason: str) -> None:
    if direction not in ("in", "out"):
        raise AssessmentInputError("direction", f"expected 'in' or 'out', found {direction!r}")
    if not reason.strip():
        raise AssessmentInputError("reason", "expected a reason, found nothing")
    if len(reason.strip()) > MAX_REASON:
        raise AssessmentInputError(
            "reason", f"expected at most {MAX_REASON} characters, found {len(reason.strip())}"
        )


def _page_model(ws: Workspace, session: WebSession) -> OverridesPage:
    active = []
    for o in store.list_overrides(ws):
        state = store.override_state(ws, o.account_id)
        active.append(ActiveOverride(**OverrideOut.of(o).model_dump(), name=_name(ws, o.account_id),
                                     version=state.version))  # fmt: skip
    return OverridesPage(active=active, may_edit=session.user.role in ("lead", "admin"))


def _name(ws: Workspace, account_id: str) -> str | None:
    try:
        return find_account(ws, account_id).name
    except AssessmentInputError:
        return None


def _account_model(ws: Workspace, session: WebSession, account_id: str) -> AccountOverride:
    try:
        state = store.override_state(ws, account_id)
    except KeyfolioError as exc:
        raise HTTPException(404, str(exc)) from None
    return AccountOverride(
        account_id=state.account_id,
        active=None if state.active is None else OverrideOut.of(state.active),
        version=state.version,
        history=[HistoryEntry.of(e) for e in reversed(store.override_history(ws, account_id))],
        may_edit=session.user.role in ("lead", "admin"),
    )


def _changed(
    request: Request, fmt: FormatDep, ws: Workspace, session: WebSession, account_id: str
) -> Response:
    state = store.override_state(ws, account_id)
    if fmt == "json":
        active = None if state.active is None else OverrideOut.of(state.active)
        body = OverrideChanged(account_id=account_id, active=active, version=state.version)
        return page(request, fmt, "overrides.html", body)
    if is_partial(request):
        model = _account_model(ws, session, account_id)
        return page(request, fmt, "_account_overrides.html", model, session=session,
                    problem=None, inner=True)  # fmt: skip
    return RedirectResponse("/overrides", status_code=303)


def _problem(
    request: Request,
    fmt: FormatDep,
    ws: Workspace,
    session: WebSession,
    account_id: str,
    exc: Exception,
) -> Response:
    stale = isinstance(exc, store.ConcurrentChangeError)
    status = 409 if stale else 422
    field = getattr(exc, "field", None) if not stale else None
    body = OverrideProblem(detail=str(exc), field=field)
    if fmt == "json":
        return page(request, fmt, "overrides.html", body, status_code=status)
    if is_partial(request) and account_id.strip():
        try:
            model = _account_model(ws, session, account_id.strip())
        except HTTPException:
            model = None
        if model is not None:
            return page(request, fmt, "_account_overrides.html", model, session=session,
                        status_code=status, problem=body, inner=True)  # fmt: skip
    return page(request, fmt, "overrides.html", _page_model(ws, session), session=session,
                status_code=status, problem=body)  # fmt: skip

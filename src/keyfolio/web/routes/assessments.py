"""Assessments: the page (a manager's queue, the disagreements), the form of an account,
saving a score, and the account page's fragment. Thin over keyfolio.db.assessments and
keyfolio.analysis.assessments."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response

from keyfolio.analysis import assessments as analysis
from keyfolio.db import assessments as store
from keyfolio.db.overrides import ConcurrentChangeError
from keyfolio.db.users import WebSession
from keyfolio.web.deps import CsrfSession, CurrentSession, FormatDep, WorkspaceDep, roles
from keyfolio.web.render import HTML_PAGE, is_partial, page
from keyfolio.web.schemas.assessments import (
    AccountAssessments,
    AssessForm,
    AssessmentOut,
    AssessmentsPage,
    AssessRow,
    CriterionOut,
    InputProblem,
    QueueItem,
    Saved,
    ScoreOut,
    SpreadOut,
    StaleSave,
    records,
)
from keyfolio.web.schemas.users import UserOut
from keyfolio.workspace import Workspace

router = APIRouter(tags=["assessments"])
ASSESSORS = roles("manager", "lead", "admin")
Assessor = Annotated[WebSession | None, Depends(ASSESSORS)]
FORM_ERRORS: dict[int | str, dict[str, Any]] = {
    **HTML_PAGE, 403: {}, 409: {"model": StaleSave}, 422: {"model": InputProblem},
}  # fmt: skip


@router.get("/assessments", response_model=AssessmentsPage, responses=HTML_PAGE)
def assessments_page(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession
) -> Response:
    """A manager's to-assess queue (accounts they own with missing or stale scores) and
    the accounts where assessors disagree, worst first."""
    user = session.user
    mine = user.manager_id if user.role == "manager" else None
    o = analysis.overview(ws, mine, dt.datetime.now(dt.UTC).date())
    model = AssessmentsPage(
        user=UserOut.of(user), manager_id=user.manager_id, run_id=o.run_id,
        criteria=[CriterionOut.of(c) for c in o.criteria],
        queue=None if o.queue is None else [QueueItem(**r) for r in records(o.queue)],
        stale_days=analysis.STALE_DAYS, disagree_share=analysis.DISAGREE_SHARE,
        disagreements=[SpreadOut(**r) for r in records(o.disagreements)],
        accounts_assessed=o.accounts_assessed,
    )  # fmt: skip
    return page(request, fmt, "assessments.html", model, session=session)


@router.get(
    "/accounts/{account_id}/assess",
    response_model=AssessForm,
    responses={**HTML_PAGE, 403: {}, 404: {}},
)
def assess_form(
    request: Request,
    fmt: FormatDep,
    ws: WorkspaceDep,
    session: CurrentSession,
    _: Assessor,
    account_id: str,
) -> Response:
    """The form: one row per assessment criterion with your score, comment and version."""
    _editable(ws, session, account_id)
    return page(request, fmt, "assess.html", _form(ws, session, account_id), session=session,
                notes={})  # fmt: skip


@router.post("/accounts/{account_id}/assessments", response_model=Saved, responses=FORM_ERRORS)
def save(
    request: Request,
    fmt: FormatDep,
    ws: WorkspaceDep,
    session: CsrfSession,
    _: Assessor,
    account_id: str,
    criterion: Annotated[str, Form(max_length=200)] = "",
    score: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=store.MAX_COMMENT * 2)] = "",
    expected_version: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Save your score of one criterion (send the version the form showed). 403 on an
    account you do not own (managers), 409 when it changed since, 422 on bad input."""
    _editable(ws, session, account_id)
    status, note, saved = 200, {"ok": "saved"}, None
    try:
        version = store.parse_version(expected_version)
        found = store.save_assessment(
            ws, account_id, criterion, score, comment, session.user.email, version
        )
        saved = AssessmentOut.of(found)
        body: Any = Saved(saved=saved)
    except store.AssessmentInputError as exc:
        status, note = 422, {"error": str(exc), "field": exc.field}
        body = InputProblem(detail=str(exc), field=exc.field)
    except ConcurrentChangeError as exc:
        current = exc.current if isinstance(exc, store.StaleAssessmentError) else None
        status, note = 409, {"error": str(exc)}
        shown = None if current is None else AssessmentOut.of(current)
        body = StaleSave(detail=str(exc), current=shown)
        if current is not None:
            note["theirs"] = f"{current.score:g}: {current.comment}"
    form = _form(ws, session, account_id)
    known = any(r.criterion.criterion == criterion for r in form.rows)
    notes = {criterion if known else "": {**note, "sent_score": score, "sent_comment": comment}}
    if fmt == "json":
        return page(request, fmt, "assess.html", body, status_code=status)
    if is_partial(request):
        row = next((r for r in form.rows if r.criterion.criterion == criterion), None)
        if row is not None:
            return page(request, fmt, "_assess_row.html", form, session=session,
                        status_code=status, row=row, notes=notes)  # fmt: skip
    return page(request, fmt, "assess.html", form, session=session, status_code=status,
                notes=notes)  # fmt: skip


@router.get(
    "/accounts/{account_id}/assessments", response_model=AccountAssessments, responses=HTML_PAGE
)
def account_assessments(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, account_id: str
) -> Response:
    """Every score of the account the next run counts (imported and entered here), and
    the spread per criterion (a fragment of the account page)."""
    account = _account(ws, account_id)
    criteria = store.policy_criteria(ws)
    scores = store.account_scores(ws, account.account_id)
    model = AccountAssessments(
        account_id=account.account_id, criteria=[CriterionOut.of(c) for c in criteria],
        scores=[ScoreOut(**r) for r in records(scores.drop(columns=["account_id"]))],
        spread=[SpreadOut(**r) for r in records(analysis.spread(scores, criteria))],
        may_assess=_may(account, session),
    )  # fmt: skip
    return page(request, fmt, "_account_assessments.html", model, session=session)


# -- helpers ------------------------------------------------------------------------------
def _account(ws: Workspace, account_id: str) -> store.AccountRef:
    try:
        return store.find_account(ws, account_id)
    except store.AssessmentInputError as exc:
        raise HTTPException(404, str(exc)) from None


def _may(account: store.AccountRef, session: WebSession) -> bool:
    try:
        store.check_may_edit(account, session.user.role, session.user.manager_id)
    except store.NotYoursError:
        return False
    return True


def _editable(ws: Workspace, session: WebSession, account_id: str) -> store.AccountRef:
    account = _account(ws, account_id)
    try:
        store.check_may_edit(account, session.user.role, session.user.manager_id)
    except store.NotYoursError as exc:
        raise HTTPException(403, str(exc)) from None
    return account


def _form(ws: Workspace, session: WebSession, account_id: str) -> AssessForm:
    account = _account(ws, account_id)
    mine = {
        a.criterion: a
        for a in store.list_assessments(ws, account.account_id)
        if a.assessor == session.user.email
    }
    rows = []
    for c in store.policy_criteria(ws):
        a = mine.get(c.criterion)
        rows.append(
            AssessRow(
                criterion=CriterionOut.of(c), score=None if a is None else a.score,
                comment="" if a is None else a.comment, version=0 if a is None else a.version,
                updated_at=None if a is None else a.updated_at,
            )
        )  # fmt: skip
    return AssessForm(account_id=account.account_id, name=account.name, owner=account.owner,
                      assessor=session.user.email, rows=rows)  # fmt: skip

"""Reconciliation with the declared lists: each list's key and failed accounts (with the
run's reasons); your own lists first. Thin over keyfolio.analysis.lists."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from keyfolio import runs
from keyfolio.analysis.lists import lists_view
from keyfolio.web.deps import CurrentSession, FormatDep, WorkspaceDep
from keyfolio.web.render import HTML_PAGE, page
from keyfolio.web.schemas.assessments import records
from keyfolio.web.schemas.reconciliation import FailingOut, ListOut, ReconciliationPage

router = APIRouter(tags=["reconciliation"])


@router.get("/reconciliation", response_model=ReconciliationPage, responses=HTML_PAGE)
def reconciliation(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession
) -> Response:
    """The latest run against the declared lists. A list is yours when its name is your
    email or your manager id."""
    latest = runs.latest(ws)
    if latest is None:
        model = ReconciliationPage(run_id=None, lists=[], failing=[], unlisted=0,
                                   declared_changed=False)  # fmt: skip
    else:
        view = lists_view(ws, latest, [session.user.email, session.user.manager_id])
        model = ReconciliationPage(
            run_id=view.run_id, lists=[ListOut.of(d) for d in view.lists],
            failing=[FailingOut(**r) for r in records(view.failing)],
            unlisted=view.unlisted, declared_changed=view.declared_changed,
        )  # fmt: skip
    return page(request, fmt, "reconciliation.html", model, session=session)

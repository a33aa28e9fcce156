"""The dashboard: the latest run at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from keyfolio import runs
from keyfolio.analysis.summary import summarise
from keyfolio.web.deps import CurrentSession, FormatDep, WorkspaceDep
from keyfolio.web.render import HTML_PAGE, page
from keyfolio.web.schemas.dashboard import Dashboard, RunSummary
from keyfolio.web.schemas.users import UserOut

router = APIRouter(tags=["dashboard"])


@router.get("/", response_model=Dashboard, responses=HTML_PAGE)
def dashboard(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession
) -> Response:
    """The latest run: accounts by size tier, value destroyers, diamonds."""
    latest = runs.latest(ws)
    summary = None
    if latest is not None and latest.has(runs.PORTFOLIO):
        meta = latest.meta()
        s = summarise(latest.portfolio(), str(meta.get("currency") or ""))
        summary = RunSummary.of(latest.id, meta.get("started"), s)
    model = Dashboard(user=UserOut.of(session.user), run=summary)
    return page(request, fmt, "dashboard.html", model, session=session)

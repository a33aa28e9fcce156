"""The audit log (leads and admins): who changed what and when, filtered and paged.
Thin over keyfolio.db.audit_search."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from keyfolio.db.audit_search import MAX_PAGE, AuditFilter, search
from keyfolio.db.models import ENTITIES
from keyfolio.db.users import WebSession
from keyfolio.errors import KeyfolioError
from keyfolio.web.deps import CurrentSession, FormatDep, WorkspaceDep, roles
from keyfolio.web.render import HTML_PAGE, page
from keyfolio.web.schemas.audit import AuditEntryOut, AuditPageOut, AuditQuery

router = APIRouter(tags=["audit"])
Lead = Annotated[WebSession | None, Depends(roles("lead", "admin"))]


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _day(name: str, value: str | None) -> dt.date | None:
    if not _blank(value):
        return None
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise HTTPException(
            422, f"{name}: expected a day like 2026-01-31, found {value!r}"
        ) from None


@router.get("/audit", response_model=AuditPageOut, responses={**HTML_PAGE, 422: {}})
def audit_page(
    request: Request,
    fmt: FormatDep,
    ws: WorkspaceDep,
    session: CurrentSession,
    _: Lead,
    entity: Annotated[str | None, Query(description=f"one of {', '.join(ENTITIES)}")] = None,
    who: Annotated[str | None, Query(max_length=320)] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(description="first day, YYYY-MM-DD (UTC)")] = None,
    until: Annotated[str | None, Query(description="last day, YYYY-MM-DD (UTC)")] = None,
    page_: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> Response:
    """Audit entries, newest first; ``before``/``after`` are the record's JSON."""
    try:
        where = AuditFilter(
            entity=_blank(entity), who=_blank(who), entity_id=_blank(entity_id),
            since=_day("since", since), until=_day("until", until),
        )  # fmt: skip
        found = search(ws, where, page_, per_page)
    except KeyfolioError as exc:
        raise HTTPException(422, str(exc)) from None
    model = AuditPageOut(
        entries=[AuditEntryOut.of(e) for e in found.entries],
        filter=AuditQuery(entity=where.entity, who=where.who, entity_id=where.entity_id,
                          since=where.since, until=where.until),
        entities=list(ENTITIES), total=found.total, page=found.page, pages=found.pages,
        per_page=found.per_page,
    )  # fmt: skip
    return page(request, fmt, "audit.html", model, session=session)

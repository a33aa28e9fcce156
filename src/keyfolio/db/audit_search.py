"""The audit log filtered and paged (the audit page): newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from keyfolio.db.audit import AuditEntry, _entry
from keyfolio.db.engine import exists, read_session
from keyfolio.db.models import ENTITIES, AuditRow
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

MAX_PAGE = 200


@dataclass(frozen=True)
class AuditFilter:
    """Entries of one ``entity`` kind, by ``who`` (exact, case-insensitive), of one
    ``entity_id``, from the day ``since`` to the day ``until`` (both included, UTC)."""

    entity: str | None = None
    who: str | None = None
    entity_id: str | None = None
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.entity is not None and self.entity not in ENTITIES:
            raise KeyfolioError(
                f"entity: expected one of {', '.join(ENTITIES)}, found {self.entity!r}"
            )
        if self.since and self.until and self.since > self.until:
            raise KeyfolioError(
                f"until: expected a day on or after since ({self.since}), found {self.until}"
            )


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int  # entries matching the filter
    page: int  # from 1
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(ws: Workspace, where: AuditFilter, page: int = 1, per_page: int = 50) -> AuditPage:
    """One page of the entries matching ``where``, newest first."""
    if page < 1:
        raise KeyfolioError(f"page: expected 1 or more, found {page}")
    if not 1 <= per_page <= MAX_PAGE:
        raise KeyfolioError(f"per_page: expected 1 to {MAX_PAGE}, found {per_page}")
    if not exists(ws):
        return AuditPage([], 0, page, per_page)
    query = _filtered(select(AuditRow), where)
    count = _filtered(select(func.count()).select_from(AuditRow), where)
    ordered = query.order_by(AuditRow.at.desc(), AuditRow.id.desc())
    with read_session(ws) as session:
        total = int(session.scalar(count) or 0)
        rows = session.scalars(ordered.offset((page - 1) * per_page).limit(per_page))
        return AuditPage([_entry(r) for r in rows], total, page, per_page)


def _filtered(query: Any, where: AuditFilter) -> Any:
    if where.entity:
        query = query.where(AuditRow.entity == where.entity)
    if where.who:
        query = query.where(func.lower(AuditRow.who) == where.who.strip().lower())
    if where.entity_id:
        query = query.where(AuditRow.entity_id == where.entity_id.strip())
    if where.since:
        query = query.where(AuditRow.at >= datetime.combine(where.since, time(), UTC))
    if where.until:
        end = datetime.combine(where.until + timedelta(days=1), time(), UTC)
        query = query.where(AuditRow.at < end)
    return query

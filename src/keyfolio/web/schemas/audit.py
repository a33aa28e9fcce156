"""The audit log page: entries (newest first), the filter, the page."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel

from keyfolio.db.audit import AuditEntry


class AuditEntryOut(BaseModel):
    id: int
    at: dt.datetime
    who: str
    entity: str
    entity_id: str
    action: str
    before: Any  # the record before the change (JSON), None when it is new
    after: Any  # ... after it, None when removed

    @classmethod
    def of(cls, e: AuditEntry) -> AuditEntryOut:
        return cls(id=e.id, at=e.at, who=e.who, entity=e.entity, entity_id=e.entity_id,
                   action=e.action, before=e.before, after=e.after)  # fmt: skip

    def text(self, side: str) -> str:
        """``before`` or ``after`` as JSON text (shown as text, never as markup)."""
        value = getattr(self, side)
        return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class AuditQuery(BaseModel):
    entity: str | None
    who: str | None
    entity_id: str | None
    since: dt.date | None
    until: dt.date | None


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    filter: AuditQuery
    entities: list[str]
    total: int
    page: int
    pages: int
    per_page: int

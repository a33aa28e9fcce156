"""The audit log: who changed what, and when.

Every change to the policy, a decision override, an assessment or a plan is recorded with
:func:`record` *in the same session (transaction) as the change itself*, so a change and its
audit entry are committed or rolled back together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyfolio.db.engine import read_session
from keyfolio.db.models import ENTITIES, AuditRow, as_utc, utcnow
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

Entity = Literal["policy", "override", "assessment", "plan", "user", "run"]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    who: str
    entity: str
    entity_id: str
    action: str
    before: Any
    after: Any


def record(
    session: Session,
    who: str,
    entity: Entity,
    entity_id: str,
    action: str,
    before: Any,
    after: Any,
    *,
    at: datetime | None = None,
) -> AuditRow:
    """Add one audit entry to ``session``'s transaction. ``before``/``after``: JSON-able."""
    if entity not in ENTITIES:
        raise ValueError(f"audit entity must be one of {', '.join(ENTITIES)}, not {entity!r}")
    if not who or not who.strip():
        raise KeyfolioError("a change needs to say who made it, found an empty name")
    row = AuditRow(
        at=at if at is not None else utcnow(),
        who=who.strip(),
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        before=_dump(before),
        after=_dump(after),
    )
    session.add(row)
    return row


def history(
    ws: Workspace, entity: Entity | None = None, entity_id: str | None = None
) -> list[AuditEntry]:
    """Audit entries, oldest first, optionally of one entity kind and/or one entity."""
    query = select(AuditRow).order_by(AuditRow.id)
    if entity is not None:
        query = query.where(AuditRow.entity == entity)
    if entity_id is not None:
        query = query.where(AuditRow.entity_id == str(entity_id))
    with read_session(ws) as session:
        return [_entry(row) for row in session.scalars(query)]


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=as_utc(row.at),
        who=row.who,
        entity=row.entity,
        entity_id=row.entity_id,
        action=row.action,
        before=None if row.before is None else json.loads(row.before),
        after=None if row.after is None else json.loads(row.after),
    )


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"audit values must be JSON-serialisable, found {type(value).__name__}")

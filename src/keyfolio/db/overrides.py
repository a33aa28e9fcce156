"""Decision overrides in the app database, every change audited.

An account has at most one active override (a partial unique index enforces it). Adding
an override to an account that has one replaces it: the old row is closed
(``removed_at``/``removed_by``) and the new one inserted, with both audit entries, in one
transaction.

Concurrency is optimistic. Each account's overrides carry a version that every change
increments. A caller that showed a user the state read with :func:`override_state` passes
that ``version`` back as ``expected_version``; if someone changed the account's override
in between, the change is refused with :class:`ConcurrentChangeError` ("changed by X at T
since you read it; reload"). Independently of that, two changes racing inside the database
cannot both win: closing the active row is a conditional UPDATE on its version, and two
inserts of an active row collide on the unique index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyfolio.db import audit
from keyfolio.db.engine import exists, read_session, write_session
from keyfolio.db.models import DIRECTIONS, OverrideRow, as_utc, utcnow
from keyfolio.errors import KeyfolioError
from keyfolio.overrides import Direction, Override
from keyfolio.workspace import Workspace


class ConcurrentChangeError(KeyfolioError):
    """Someone else changed the record since the caller read it."""


@dataclass(frozen=True)
class OverrideState:
    """An account's active override (or None) and the version to pass back when editing."""

    account_id: str
    active: Override | None
    version: int


# -- reading ------------------------------------------------------------------------------
def list_overrides(ws: Workspace) -> list[Override]:
    """The active overrides, by account id (none when the database was never created)."""
    if not exists(ws):
        return []
    query = select(OverrideRow).where(OverrideRow.removed_at.is_(None))
    with read_session(ws) as session:
        rows = session.scalars(query.order_by(OverrideRow.account_id)).all()
        return [_record(row) for row in rows]


def override_state(ws: Workspace, account_id: str) -> OverrideState:
    """The active override of ``account_id`` and its version (0: never had one)."""
    account_id = _required(account_id, "an override needs an account id")
    with read_session(ws) as session:
        active = _active_row(session, account_id)
        return OverrideState(
            account_id=account_id,
            active=None if active is None else _record(active),
            version=_version(session, account_id),
        )


def override_history(ws: Workspace, account_id: str | None = None) -> list[audit.AuditEntry]:
    """Audit entries of overrides (of one account, or all), oldest first."""
    return audit.history(ws, "override", account_id)


# -- changing -----------------------------------------------------------------------------
def add_override(
    ws: Workspace,
    account_id: str,
    direction: Direction,
    reason: str,
    who: str,
    *,
    expected_version: int | None = None,
) -> Override:
    """Force ``account_id`` in or out of the key list, replacing its active override."""
    account_id = _required(account_id, "an override needs an account id")
    reason = _required(reason, "an override needs a reason")
    who = _required(who, "an override needs to say who made it")
    if direction not in DIRECTIONS:
        raise KeyfolioError(f"an override direction must be 'in' or 'out', found {direction!r}")
    now = utcnow()
    try:
        with write_session(ws) as session:
            current, version = _checked_state(session, account_id, expected_version)
            replaced = None
            if current is not None:
                replaced = _close(session, current, who, now, action="superseded")
            row = OverrideRow(
                account_id=account_id,
                direction=direction,
                reason=reason,
                who=who,
                created_at=now,
                version=version + 1,
            )
            session.add(row)
            session.flush()
            action = "add" if current is None else "replace"
            after = _snapshot(row)
            audit.record(session, who, "override", account_id, action, replaced, after, at=now)
            result = _record(row)
    except IntegrityError:
        # Another transaction inserted an active override for this account meanwhile.
        with read_session(ws) as session:
            raise _conflict(session, account_id) from None
    return result


def remove_override(
    ws: Workspace, account_id: str, who: str, *, expected_version: int | None = None
) -> bool:
    """Remove the active override of ``account_id``; False if it has none."""
    account_id = _required(account_id, "an override needs an account id")
    who = _required(who, "removing an override needs to say who did it")
    with write_session(ws) as session:
        current, _ = _checked_state(session, account_id, expected_version)
        if current is None:
            return False
        _close(session, current, who, utcnow(), action="remove")
        return True


# -- helpers ------------------------------------------------------------------------------
def _required(value: str, message: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KeyfolioError(message)
    return value.strip()


def _active_row(session: Session, account_id: str) -> OverrideRow | None:
    query = select(OverrideRow).where(
        OverrideRow.account_id == account_id, OverrideRow.removed_at.is_(None)
    )
    return session.scalars(query).one_or_none()


def _version(session: Session, account_id: str) -> int:
    query = select(func.max(OverrideRow.version)).where(OverrideRow.account_id == account_id)
    return int(session.scalar(query) or 0)


def _checked_state(
    session: Session, account_id: str, expected: int | None
) -> tuple[OverrideRow | None, int]:
    """The active row and the account's version, refused if not the ``expected`` version.

    The version is taken from the active row itself when there is one: under PostgreSQL's
    READ COMMITTED each statement sees a new snapshot, so a separately queried version could
    belong to an older state than the row we are about to close.
    """
    current = _active_row(session, account_id)
    version = current.version if current is not None else _version(session, account_id)
    if expected is not None and expected != version:
        raise _conflict(session, account_id)
    return current, version


def _close(
    session: Session, row: OverrideRow, who: str, now: datetime, *, action: str
) -> dict[str, Any]:
    """Close the active ``row`` if nobody changed it since we read it; audit it.

    Returns the row as it was before closing.
    """
    before = _snapshot(row)
    statement = (
        update(OverrideRow)
        .where(
            OverrideRow.id == row.id,
            OverrideRow.version == row.version,
            OverrideRow.removed_at.is_(None),
        )
        .values(removed_at=now, removed_by=who, version=row.version + 1)
        .execution_options(synchronize_session=False)
    )
    result = cast(Any, session.execute(statement))
    if result.rowcount != 1:
        raise _conflict(session, row.account_id)
    after = {**before, "removed_at": now, "removed_by": who, "version": row.version + 1}
    audit.record(session, who, "override", row.account_id, action, before, after, at=now)
    session.expire(row)
    return before


def _conflict(session: Session, account_id: str) -> ConcurrentChangeError:
    """The error naming who made the latest change to ``account_id``'s override, and when."""
    query = (
        select(OverrideRow)
        .where(OverrideRow.account_id == account_id)
        .order_by(OverrideRow.version.desc(), OverrideRow.id.desc())
        .limit(1)
    )
    latest = session.scalars(query).first()
    if latest is None:
        return ConcurrentChangeError(
            f"override of account {account_id!r} changed since you read it; reload"
        )
    if latest.removed_at is not None and latest.removed_by is not None:
        who, at = latest.removed_by, latest.removed_at
    else:
        who, at = latest.who, latest.created_at
    when = as_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")
    return ConcurrentChangeError(
        f"override of account {account_id!r} was changed by {who} at {when} "
        "since you read it; reload"
    )


def _record(row: OverrideRow) -> Override:
    return Override(
        account_id=row.account_id,
        direction=cast(Direction, row.direction),
        reason=row.reason,
        who=row.who,
        at=as_utc(row.created_at),
    )


def _snapshot(row: OverrideRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "direction": row.direction,
        "reason": row.reason,
        "who": row.who,
        "created_at": row.created_at,
        "removed_at": row.removed_at,
        "removed_by": row.removed_by,
        "version": row.version,
    }

"""Decision overrides: the list, an account's override and its history, a change."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel

from keyfolio.db.audit import AuditEntry
from keyfolio.overrides import Override


class OverrideOut(BaseModel):
    account_id: str
    direction: Literal["in", "out"]
    reason: str
    who: str
    at: dt.datetime

    @classmethod
    def of(cls, o: Override) -> OverrideOut:
        return cls(account_id=o.account_id, direction=o.direction, reason=o.reason, who=o.who,
                   at=o.at)  # fmt: skip


class ActiveOverride(OverrideOut):
    name: str | None
    version: int  # send back as expected_version to change or revoke it


class OverridesPage(BaseModel):
    active: list[ActiveOverride]
    may_edit: bool  # leads and admins


class HistoryEntry(BaseModel):
    at: dt.datetime
    who: str
    action: str
    before: Any
    after: Any

    @classmethod
    def of(cls, e: AuditEntry) -> HistoryEntry:
        return cls(at=e.at, who=e.who, action=e.action, before=e.before, after=e.after)


class AccountOverride(BaseModel):
    """The account page's overrides section."""

    account_id: str
    active: OverrideOut | None
    version: int
    history: list[HistoryEntry]
    may_edit: bool


class OverrideChanged(BaseModel):
    account_id: str
    active: OverrideOut | None
    version: int


class OverrideProblem(BaseModel):
    """409 (changed since you read it) or 422 (a field is wrong: ``field``)."""

    detail: str
    field: str | None = None

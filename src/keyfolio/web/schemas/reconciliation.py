"""Reconciliation: the declared key-account lists against the latest run, list by list."""

from __future__ import annotations

from pydantic import BaseModel

from keyfolio.analysis.lists import DeclaredList, ListMember


class MemberOut(BaseModel):
    account_id: str
    name: str | None
    known: bool
    is_key: bool
    decision: str | None
    reasons: str | None
    via_group: str | None

    @classmethod
    def of(cls, m: ListMember) -> MemberOut:
        return cls(account_id=m.account_id, name=m.name, known=m.known, is_key=m.is_key,
                   decision=m.decision, reasons=m.reasons, via_group=m.via_group)  # fmt: skip


class ListOut(BaseModel):
    list_name: str
    mine: bool  # the list's name is your email or manager id
    n_declared: int
    n_known: int
    n_key: int
    share_key: float | None
    key: list[MemberOut]
    failed: list[MemberOut]  # declared but not key, with the run's reasons

    @classmethod
    def of(cls, d: DeclaredList) -> ListOut:
        return cls(
            list_name=d.list_name, mine=d.mine, n_declared=d.n_declared, n_known=d.n_known,
            n_key=d.n_key, share_key=d.share_key,
            key=[MemberOut.of(m) for m in d.members if m.is_key],
            failed=[MemberOut.of(m) for m in d.failed],
        )  # fmt: skip


class FailingOut(BaseModel):
    account_id: str
    name: str | None
    n_lists: int
    lists: str
    reasons: str | None


class ReconciliationPage(BaseModel):
    run_id: str | None  # None: no run yet
    lists: list[ListOut]
    failing: list[FailingOut]  # on two or more lists, not key
    unlisted: int  # key accounts no list names
    declared_changed: bool  # the declared table changed since the run

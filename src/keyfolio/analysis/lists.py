"""The declared key-account lists against a run's definition, list by list (the
reconciliation page): for each list, which of its accounts the run makes key and which
failed the definition, with the run's reasons.

The per-list counts are the run's own reconciliation (``reconciliation.parquet``); the
members are the workspace's ``declared`` table joined to the run's portfolio, so
:attr:`ListsView.declared_changed` says when that table changed since the run.

**Whose list is it.** A list belongs to a user when its ``list_name`` equals, ignoring
case, the user's email or their manager id (the team table's ``manager_id``); those lists
come first (:func:`lists_view`'s ``mine``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from keyfolio import runs
from keyfolio.selection.reconcile import TARGETS, Reconciliation
from keyfolio.workspace import Workspace, file_sha256


@dataclass(frozen=True)
class ListMember:
    account_id: str
    name: str | None
    known: bool  # in the run's portfolio
    is_key: bool
    decision: str | None
    reasons: str | None
    via_group: str | None = None  # a group member: the decision is the group's


@dataclass(frozen=True)
class DeclaredList:
    list_name: str
    mine: bool
    n_declared: int
    n_known: int
    n_key: int
    share_key: float | None
    members: list[ListMember] = field(default_factory=list)

    @property
    def failed(self) -> list[ListMember]:
        return [m for m in self.members if not m.is_key]


@dataclass(frozen=True)
class ListsView:
    run_id: str
    lists: list[DeclaredList]
    failing: pd.DataFrame  # accounts on two or more lists that are not key (the run's)
    unlisted: int  # key accounts no list names
    declared_changed: bool


def owned_by(list_name: str, identities: Iterable[str | None]) -> bool:
    """Whether ``list_name`` is the list of the user known by ``identities``."""
    name = list_name.strip().lower()
    return any(i is not None and i.strip().lower() == name for i in identities)


def lists_view(ws: Workspace, run: runs.Run, identities: Iterable[str | None]) -> ListsView:
    """The declared lists of ``ws`` against ``run``; the lists of ``identities`` first."""
    who = list(identities)
    rec = _reconciliation(run)
    declared = ws.read_frame("declared")
    if declared is not None:
        declared = declared[declared["list_name"].astype(str) != TARGETS]
    members = _members(run, declared)
    counts = rec.lists.set_index("list_name") if not rec.lists.empty else pd.DataFrame()
    names = sorted(set(members) | {str(n) for n in counts.index})
    lists = []
    for name in names:
        rows = members.get(name, [])
        c = counts.loc[name] if name in counts.index else None
        lists.append(
            DeclaredList(
                list_name=name, mine=owned_by(name, who),
                n_declared=int(c["n_declared"]) if c is not None else len(rows),
                n_known=int(c["n_known"]) if c is not None else sum(m.known for m in rows),
                n_key=int(c["n_key"]) if c is not None else sum(m.is_key for m in rows),
                share_key=None if c is None or pd.isna(c["share_key"]) else float(c["share_key"]),
                members=rows,
            )
        )  # fmt: skip
    lists.sort(key=lambda d: (not d.mine, d.list_name))
    return ListsView(run.id, lists, rec.failing, len(rec.unlisted), _changed(ws, run))


def _reconciliation(run: runs.Run) -> Reconciliation:
    frame = run.table(runs.RECONCILIATION)
    return Reconciliation.empty() if frame is None else Reconciliation.from_frame(frame)


def _members(run: runs.Run, declared: pd.DataFrame | None) -> dict[str, list[ListMember]]:
    """Each list's accounts with the run's decision; a declared member of a group gets its
    group's decision (selection is on groups, as the reconciliation counts them)."""
    if declared is None or declared.empty:
        return {}
    known = _portfolio_rows(run, sorted(set(declared["account_id"].astype(str))))
    groups = {}
    if "group_id" in known.columns and "in_group" in known.columns:
        m = known["group_id"].notna() & known["in_group"].fillna(False).astype(bool)
        groups = {a: str(g) for a, g in known.loc[m, "group_id"].items()}
    known = pd.concat(
        [known, _portfolio_rows(run, sorted(set(groups.values()) - set(known.index)))]
    )
    out: dict[str, list[ListMember]] = {}
    ordered = declared.sort_values(["list_name", "account_id"], kind="stable")
    for list_name, account_id in zip(ordered["list_name"], ordered["account_id"], strict=True):
        aid = str(account_id)
        own = known.loc[aid] if aid in known.index else None
        via = groups.get(aid)
        row = known.loc[via] if via is not None and via in known.index else own
        out.setdefault(str(list_name), []).append(
            ListMember(
                account_id=aid, name=_text(own, "name"), known=own is not None,
                is_key=_flag(row, "is_key"), decision=_text(row, "decision"),
                reasons=_text(row, "reasons"), via_group=via,
            )
        )  # fmt: skip
    for rows in out.values():
        rows.sort(key=lambda m: (m.is_key, m.account_id))  # the failed first
    return out


def _portfolio_rows(run: runs.Run, ids: list[str]) -> pd.DataFrame:
    columns = ["account_id", "name", "is_key", "decision", "reasons", "group_id", "in_group"]
    pf = None
    if ids:
        pf = run.table(runs.PORTFOLIO, columns=columns, filters=[("account_id", "in", ids)])
    pf = pd.DataFrame(columns=["account_id"]) if pf is None else pf
    return pf.assign(account_id=pf["account_id"].astype(str)).set_index("account_id")


def _text(row: pd.Series | None, column: str) -> str | None:
    if row is None or column not in row.index:
        return None
    value = row[column]
    return None if value is None or pd.isna(value) else str(value)


def _flag(row: pd.Series | None, column: str) -> bool:
    if row is None or column not in row.index or pd.isna(row[column]):
        return False
    return bool(row[column])


def _changed(ws: Workspace, run: runs.Run) -> bool:
    """Whether the declared table differs from the one the run read."""
    seen = (run.meta().get("inputs") or {}).get("declared")
    present = ws.has_table("declared")
    if seen is None or not present:
        return bool(seen) != present
    return bool(file_sha256(ws.table_path("declared")) != seen.get("sha256"))

"""Versions of the policy (keyfolio.toml) in the app database, every save audited.

Each save through the app makes a new version (``number`` counts from 1; the newest is the
policy in force) and writes keyfolio.toml atomically under the workspace lock. The file can
still be edited by hand: :func:`current` says when it differs from the newest version, and
:func:`save_policy` records such a file as a version by :data:`OUTSIDE` before saving over
it, so no text is ever lost.

Concurrency is optimistic: the caller passes the version number it showed the user as
``expected``; when someone saved another version in between, the save is refused with
:class:`~keyfolio.db.overrides.ConcurrentChangeError` ("changed by X at T; reload"). Two
saves racing in the database cannot both win either: the version number is the primary key.

:func:`diff_policies` compares two policies section by section (criteria, weights, scales,
cuts, rules, capacity), for the versions page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyfolio.db import audit
from keyfolio.db.engine import exists, read_session, write_session
from keyfolio.db.models import PolicyVersionRow, as_utc, utcnow
from keyfolio.db.overrides import ConcurrentChangeError
from keyfolio.errors import KeyfolioError, PolicyError
from keyfolio.policy import Criterion, Policy, parse_policy
from keyfolio.workspace import Workspace, atomic_file

OUTSIDE = "keyfolio.toml (edited outside the app)"
MAX_VERSION = 2**31 - 1  # the INTEGER column's range
MAX_POLICY_BYTES = 256 * 1024  # a policy is a few kilobytes; refuse anything this large
LOCK_WAIT_S = 5.0  # a save waits this long for a command holding the workspace lock
PolicyCheck = Callable[[Policy], None]


class NoSuchVersion(KeyfolioError):
    """The policy version asked for does not exist."""


@dataclass(frozen=True)
class PolicyVersion:
    number: int
    sha256: str
    text: str
    who: str
    created_at: datetime
    note: str


@dataclass(frozen=True)
class PolicyState:
    """keyfolio.toml as it is now, and the newest saved version (None: never saved)."""

    text: str
    sha256: str
    newest: PolicyVersion | None

    @property
    def version(self) -> int:
        """The number to pass back as ``expected`` when saving (0: no version yet)."""
        return self.newest.number if self.newest is not None else 0

    @property
    def edited_outside(self) -> bool:
        """The file is not the newest version (edited by hand, or never saved in the app)."""
        return self.newest is None or self.newest.sha256 != self.sha256


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- reading ------------------------------------------------------------------------------
def versions(ws: Workspace) -> list[PolicyVersion]:
    """Every saved version, oldest first (none when the database was never created)."""
    if not exists(ws):
        return []
    with read_session(ws) as session:
        rows = session.scalars(select(PolicyVersionRow).order_by(PolicyVersionRow.number))
        return [_version(row) for row in rows]


def version(ws: Workspace, number: int) -> PolicyVersion:
    """Version ``number``; :class:`NoSuchVersion` naming the versions there are."""
    row = None
    if exists(ws) and 1 <= number <= MAX_VERSION:  # beyond: no such version (and no SQL int)
        with read_session(ws) as session:
            row = session.get(PolicyVersionRow, number)
            if row is not None:
                return _version(row)
    n = len(versions(ws))
    have = f"versions 1 to {n}" if n else "no versions yet"
    raise NoSuchVersion(f"no policy version {number}; there are {have}")


def current(ws: Workspace) -> PolicyState:
    """The policy file now and the newest version (see :attr:`PolicyState.edited_outside`)."""
    text = _read_file(ws)
    newest = None
    if exists(ws):
        with read_session(ws) as session:
            row = _newest(session)
            newest = None if row is None else _version(row)
    return PolicyState(text=text, sha256=sha256(text), newest=newest)


# -- saving -------------------------------------------------------------------------------
def check_text(text: str, check: PolicyCheck | None = None) -> Policy:
    """The policy in ``text``, validated as a run validates keyfolio.toml (``check``: the
    further checks of the caller, e.g. the rules against the portfolio's columns); a
    :class:`~keyfolio.errors.PolicyError` naming the key and what was expected."""
    size = len(text.encode("utf-8"))
    if size > MAX_POLICY_BYTES:
        raise PolicyError(
            f"keyfolio.toml: expected at most {MAX_POLICY_BYTES // 1024} KiB of policy text, "
            f"found {size / 1024:,.0f} KiB"
        )
    policy = parse_policy(text, source="keyfolio.toml")
    if check is not None:
        check(policy)
    return policy


def save_policy(
    ws: Workspace,
    text: str,
    who: str,
    note: str,
    expected: int | None,
    *,
    check: PolicyCheck | None,
) -> PolicyVersion:
    """Save ``text`` as the new version and as keyfolio.toml (all or nothing).

    ``expected``: the version number the user edited (None: no check); a newer version
    makes it a :class:`ConcurrentChangeError`. ``check``: validation beyond parsing (see
    :func:`check_text`); pass None only when the caller checked the policy already."""
    who = who.strip() if isinstance(who, str) else ""
    if not who:
        raise KeyfolioError("saving the policy needs to say who did it")
    check_text(text, check)
    with ws.writing("policy", wait=LOCK_WAIT_S):
        try:
            with write_session(ws) as session:
                newest = _newest(session)
                number = newest.number if newest is not None else 0
                if expected is not None and expected != number:
                    raise _conflict(newest, expected)
                on_disk = _read_file(ws)
                outside = newest is None or newest.sha256 != sha256(on_disk)
                if outside and on_disk != text:
                    newest = _insert(session, number + 1, on_disk, OUTSIDE, "", newest)
                    number += 1
                row = _insert(session, number + 1, text, who, note.strip(), newest)
                session.flush()  # a racing save collides on the number before the file moves
                with atomic_file(ws.policy_path) as tmp:
                    tmp.write_text(text, encoding="utf-8")
                saved = _version(row)
        except IntegrityError:
            with read_session(ws) as session:
                raise _conflict(_newest(session), expected) from None
    return saved


def _insert(
    session: Session,
    number: int,
    text: str,
    who: str,
    note: str,
    before: PolicyVersionRow | None,
) -> PolicyVersionRow:
    now = utcnow()
    row = PolicyVersionRow(
        number=number, sha256=sha256(text), text=text, who=who, created_at=now, note=note
    )
    session.add(row)
    action = "record" if who == OUTSIDE else "save"
    after = _snapshot(row)
    audit.record(
        session, who, "policy", str(number), action,
        None if before is None else _snapshot(before), after, at=now,
    )  # fmt: skip
    return row


def _conflict(newest: PolicyVersionRow | None, expected: int | None) -> ConcurrentChangeError:
    if newest is None:
        return ConcurrentChangeError(
            f"the policy changed since you read it (you edited version {expected}); reload"
        )
    when = as_utc(newest.created_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    return ConcurrentChangeError(
        f"the policy was changed by {newest.who} at {when} (version {newest.number}; you "
        f"edited version {expected}); reload"
    )


def _newest(session: Session) -> PolicyVersionRow | None:
    query = select(PolicyVersionRow).order_by(PolicyVersionRow.number.desc()).limit(1)
    return session.scalars(query).first()


def _read_file(ws: Workspace) -> str:
    try:
        return ws.policy_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError:
        raise PolicyError(f"{ws.policy_path}: policy file is not UTF-8 text") from None


def _version(row: PolicyVersionRow) -> PolicyVersion:
    return PolicyVersion(
        number=row.number, sha256=row.sha256, text=row.text, who=row.who,
        created_at=as_utc(row.created_at), note=row.note or "",
    )  # fmt: skip


def _snapshot(row: PolicyVersionRow) -> dict[str, Any]:
    return {"number": row.number, "sha256": row.sha256, "who": row.who, "note": row.note,
            "text": row.text}  # fmt: skip


# -- comparing ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PolicyChange:
    """One difference between two policies: ``section`` (criteria, weights, scales, cuts,
    rules, capacity, other), the key, and the values before and after (None: absent)."""

    section: str
    key: str
    before: Any
    after: Any


_CUTS = ("attractiveness_cut", "strength_cut", "growth_metric", "growth_cuts", "strategic_cuts")
_CAPACITY = ("capacity_hours", "hours", "capacity_by", "capacity", "max_key_accounts",
             "min_attractiveness", "objective", "value", "keep_margin")  # fmt: skip
_SCALE_KEYS = ("scale", "invert", "bands", "map", "range", "missing")


def diff_policies(a: Policy, b: Policy) -> list[PolicyChange]:
    """What changed from ``a`` to ``b``: criteria added or removed, weights, scales (and
    their settings), the matrix cuts, the must/never rules, capacity and the objective;
    every other key that differs as "other"."""
    out: list[PolicyChange] = []
    for group in ("attractiveness", "strength"):
        out.extend(_criteria_changes(group, getattr(a, group), getattr(b, group)))
    for key in _CUTS:
        _add(out, "cuts", f"matrix.{key}", getattr(a.matrix, key), getattr(b.matrix, key))
    for key in ("must", "never"):
        before, after = getattr(a.selection, key), getattr(b.selection, key)
        for rule in before:
            if rule not in after:
                out.append(PolicyChange("rules", f"selection.{key}", rule, None))
        for rule in after:
            if rule not in before:
                out.append(PolicyChange("rules", f"selection.{key}", None, rule))
    for key in _CAPACITY:
        _add(out, "capacity", f"selection.{key}", getattr(a.selection, key),
             getattr(b.selection, key))  # fmt: skip
    seen = {"attractiveness", "strength", "matrix", "selection"}
    da, db_ = a.model_dump(mode="json"), b.model_dump(mode="json")
    for key in sorted(set(da) | set(db_)):
        if key in seen:
            continue
        _nested(out, key, da.get(key), db_.get(key))
    sel_a, sel_b = da["selection"], db_["selection"]
    for key in sorted(set(sel_a) - {*_CAPACITY, "must", "never"}):
        _add(out, "other", f"selection.{key}", sel_a.get(key), sel_b.get(key))
    return out


def _criteria_changes(
    group: str, before: list[Criterion], after: list[Criterion]
) -> list[PolicyChange]:
    out: list[PolicyChange] = []
    old = {c.name: c for c in before}
    new = {c.name: c for c in after}
    for name in old:
        if name not in new:
            out.append(PolicyChange("criteria", f"{group}.{name}", old[name].source, None))
    for name, c in new.items():
        was = old.get(name)
        if was is None:
            out.append(PolicyChange("criteria", f"{group}.{name}", None, c.source))
            continue
        _add(out, "weights", f"{group}.{name}.weight", was.weight, c.weight)
        _add(out, "criteria", f"{group}.{name}.source", was.source, c.source)
        for key in _SCALE_KEYS:
            _add(out, "scales", f"{group}.{name}.{key}", _plain(getattr(was, key)),
                 _plain(getattr(c, key)))  # fmt: skip
    return out


def _nested(out: list[PolicyChange], key: str, a: Any, b: Any) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            _nested(out, f"{key}.{k}", a.get(k), b.get(k))
        return
    _add(out, "other", key, a, b)


def _add(out: list[PolicyChange], section: str, key: str, a: Any, b: Any) -> None:
    a, b = _plain(a), _plain(b)
    if a != b:
        out.append(PolicyChange(section, key, a, b))


def _plain(v: Any) -> Any:
    """Tuples as lists, so that a value compares and shows as its JSON."""
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v

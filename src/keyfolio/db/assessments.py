"""Assessments entered in the web app: people's scores on the policy's qualitative criteria.

One row per account, criterion and assessor holds the assessor's current score and comment
(earlier ones are in the audit log, entity ``assessment``, entity id the account). A score
is checked before anything is saved: the criterion must be one of the policy's assessment
criteria (``source = "assessment:<criterion>"``), the score a number inside the criterion's
``range`` (or the policy's ``[assessments] scale``), the comment at most
:data:`MAX_COMMENT` characters, and the account one of the latest run's.

Concurrency is optimistic, as for overrides: each row carries a version; a save names the
version it started from (0: "I saw no score of mine") and a stale one is refused with
:class:`StaleAssessmentError` ("changed by X at T — reload"), carrying the stored value.

**Feeding the next run.** :func:`workspace_assessments` is what the pipeline scores on: the
imported ``assessments`` table plus the web rows in the same canonical schema
(:func:`assessments_frame`). When the same assessor has an imported and a web score for the
same account and criterion, **the newer wins**: the imported rows' ``date`` against the web
row's day of saving; an undated imported row is older than any web row, and on the same day
the web row wins (it was entered by hand after the file's day). Imported rows without an
assessor are always kept (nobody can say whose they are).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyfolio import runs
from keyfolio.db import audit
from keyfolio.db.engine import exists, read_session, write_session
from keyfolio.db.models import AssessmentRow, as_utc, utcnow
from keyfolio.db.overrides import ConcurrentChangeError
from keyfolio.errors import KeyfolioError
from keyfolio.policy import Policy, load_policy
from keyfolio.workspace import Workspace

MAX_COMMENT = 4000
CANONICAL = ("account_id", "criterion", "score", "assessor", "date", "comment")


class AssessmentInputError(KeyfolioError):
    """A field of an assessment (or of a request about one) is not acceptable; ``field``
    names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotYoursError(KeyfolioError):
    """A manager tried to change an account that another manager owns."""


@dataclass(frozen=True)
class AssessedCriterion:
    """A qualitative criterion of the policy: ``criterion`` is the name in the assessments
    table (``assessment:<criterion>``), ``label`` the policy criterion's name."""

    criterion: str
    label: str
    group: str  # attractiveness or strength
    low: float
    high: float
    description: str


@dataclass(frozen=True)
class Assessment:
    account_id: str
    criterion: str
    assessor: str
    score: float
    comment: str
    updated_at: datetime
    version: int


class StaleAssessmentError(ConcurrentChangeError):
    """The score changed since the caller read it; ``current`` is what is stored now."""

    def __init__(self, current: Assessment) -> None:
        when = current.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(
            f"the score of {current.criterion!r} on account {current.account_id!r} was "
            f"changed by {current.assessor} at {when} — reload"
        )
        self.current = current


@dataclass(frozen=True)
class AccountRef:
    """An account of the latest run: its id, name and owner (``accounts.owner``)."""

    account_id: str
    name: str | None
    owner: str | None


# -- the policy's criteria and the accounts -----------------------------------------------
def assessment_criteria(policy: Policy) -> list[AssessedCriterion]:
    """The policy's assessment criteria, attractiveness first, each named once."""
    out: dict[str, AssessedCriterion] = {}
    for group in ("attractiveness", "strength"):
        for c in getattr(policy, group):
            if c.kind != "assessment" or c.field in out:
                continue
            low, high = c.range if c.range is not None else policy.assessments.scale
            out[c.field] = AssessedCriterion(
                c.field, c.name, group, float(low), float(high), c.description
            )
    return list(out.values())


def policy_criteria(ws: Workspace) -> list[AssessedCriterion]:
    """The assessment criteria of the policy in force (the workspace's policy file)."""
    return assessment_criteria(load_policy(ws.policy_path))


def find_account(ws: Workspace, account_id: str) -> AccountRef:
    """The latest run's account ``account_id``, or AssessmentInputError naming it."""
    if not isinstance(account_id, str) or not account_id.strip():
        raise AssessmentInputError("account_id", "expected an account id, found nothing")
    latest = runs.latest(ws)
    if latest is None:
        raise AssessmentInputError("account_id", "there is no run yet: run the pipeline first")
    rows = latest.table(
        runs.PORTFOLIO,
        columns=["account_id", "name", "owner"],
        filters=[("account_id", "==", account_id)],
    )
    if rows is None or rows.empty:
        raise AssessmentInputError(
            "account_id", f"expected an account of the latest run, found {account_id!r}"
        )
    row = rows.iloc[0]
    return AccountRef(account_id, _text(row.get("name")), _text(row.get("owner")))


def check_may_edit(account: AccountRef, role: str, manager_id: str | None) -> None:
    """Leads and admins may change any account; a manager only the accounts they own
    (``accounts.owner`` equal to their manager id); anyone else none."""
    if role in ("lead", "admin"):
        return
    if role == "manager":
        if manager_id is not None and account.owner == manager_id:
            return
        owner = account.owner or "nobody"
        mine = f"manager {manager_id}" if manager_id else "no manager id"
        raise NotYoursError(
            f"account {account.account_id} is owned by {owner}, not by you ({mine}); "
            "managers assess the accounts they own"
        )
    raise NotYoursError(f"the role {role} may not change account {account.account_id}")


# -- reading ------------------------------------------------------------------------------
def list_assessments(ws: Workspace, account_id: str | None = None) -> list[Assessment]:
    """The web-entered scores (of one account, or all), by account, criterion, assessor."""
    if not exists(ws):
        return []
    query = select(AssessmentRow).order_by(
        AssessmentRow.account_id, AssessmentRow.criterion, AssessmentRow.assessor
    )
    if account_id is not None:
        query = query.where(AssessmentRow.account_id == account_id)
    with read_session(ws) as session:
        return [_record(row) for row in session.scalars(query)]


def assessments_frame(ws: Workspace) -> pd.DataFrame:
    """The web-entered scores in the canonical ``assessments`` schema (``date``: the day of
    the last save), typed like :meth:`Workspace.read_frame` reads an imported table."""
    return _frame(list_assessments(ws))


def _frame(rows: list[Assessment]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "account_id": pd.array([r.account_id for r in rows], dtype="string"),
            "criterion": pd.array([r.criterion for r in rows], dtype="string"),
            "score": pd.array([r.score for r in rows], dtype="float64"),
            "assessor": pd.array([r.assessor for r in rows], dtype="string"),
            "date": pd.Series([r.updated_at.date() for r in rows], dtype="object"),
            "comment": pd.array([r.comment for r in rows], dtype="string"),
        }
    )
    return frame[list(CANONICAL)]


def merge_assessments(imported: pd.DataFrame | None, web: pd.DataFrame) -> pd.DataFrame | None:
    """Imported and web scores as one table; the newer of an assessor's imported and web
    score on the same account and criterion wins (see the module docstring)."""
    if web.empty:
        return imported
    if imported is None or imported.empty:
        return web.reset_index(drop=True)
    key = ["account_id", "criterion", "assessor"]
    web_dates = web.set_index(key)["date"].map(_day)
    imp = imported.reset_index(drop=True)
    imp_key = pd.MultiIndex.from_frame(imp[key].astype(object))
    imp_dates = imp["date"].map(_day) if "date" in imp.columns else pd.Series(None, imp.index)
    rival = pd.Series(web_dates.reindex(imp_key).to_numpy(), index=imp.index)
    # an imported row loses to the same assessor's web row unless it is strictly newer
    newer = imp_dates.notna() & rival.notna() & (imp_dates > rival)
    loses = rival.notna() & ~newer
    keep_imp = imp[~loses.to_numpy()]
    beaten = set(map(tuple, imp.loc[newer.to_numpy(), key].astype(object).to_numpy()))
    web_key = [tuple(k) for k in web[key].astype(object).to_numpy()]
    keep_web = web[[k not in beaten for k in web_key]]
    return pd.concat([keep_imp, keep_web], ignore_index=True)


def account_scores(ws: Workspace, account_id: str) -> pd.DataFrame:
    """The scores of one account that the next run counts (imported and web, merged as
    :func:`workspace_assessments` does), with ``source`` (imported / web) and ``version``
    (web rows; 0 for imported ones), by criterion and assessor."""
    imported = ws.read_frame("assessments")
    if imported is not None:
        imported = imported[imported["account_id"].astype(str) == account_id]
        imported = imported.assign(source="imported", version=0)
    rows = list_assessments(ws, account_id)
    web = _frame(rows)
    web = web.assign(source="web", version=[r.version for r in rows])
    merged = merge_assessments(imported, web)
    if merged is None or merged.empty:
        return pd.DataFrame(columns=[*CANONICAL, "source", "version"])
    return merged.sort_values(["criterion", "assessor"], kind="stable").reset_index(drop=True)


def workspace_assessments(ws: Workspace) -> pd.DataFrame | None:
    """What the next run scores on: the imported table plus the web-entered scores."""
    return merge_assessments(ws.read_frame("assessments"), assessments_frame(ws))


# -- saving -------------------------------------------------------------------------------
def parse_score(value: Any, criterion: AssessedCriterion) -> float:
    """``value`` as a finite number inside the criterion's range, else AssessmentInputError."""
    expected = f"expected a number from {_num(criterion.low)} to {_num(criterion.high)}"
    if isinstance(value, bool):
        raise AssessmentInputError("score", f"{expected}, found {value!r}")
    try:
        score = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise AssessmentInputError("score", f"{expected}, found {value!r}") from None
    if not math.isfinite(score) or not criterion.low <= score <= criterion.high:
        raise AssessmentInputError("score", f"{expected}, found {value!r}")
    return score


def parse_version(value: Any) -> int:
    """An ``expected_version`` from a form: a whole number >= 0 (0: no score seen)."""
    text = value.strip() if isinstance(value, str) else value
    try:
        version = int(text)
    except (TypeError, ValueError):
        raise AssessmentInputError(
            "expected_version",
            f"expected the whole number the page was shown with (0 for none), found {value!r}",
        ) from None
    if version < 0:
        raise AssessmentInputError("expected_version", f"expected 0 or more, found {value!r}")
    return version


def save_assessment(
    ws: Workspace,
    account_id: str,
    criterion: str,
    score: Any,
    comment: str | None,
    assessor: str,
    expected_version: int | None,
) -> Assessment:
    """Save ``assessor``'s score of ``account_id`` on ``criterion`` (checked as the module
    docstring says; nothing is saved when a check fails), audited."""
    crit = _criterion(ws, criterion)
    value = parse_score(score, crit)
    text = _comment(comment)
    if not isinstance(assessor, str) or not assessor.strip():
        raise AssessmentInputError("assessor", "expected who assesses, found nothing")
    assessor = assessor.strip()
    account = find_account(ws, account_id)
    try:
        with write_session(ws) as session:
            row = _row(session, account.account_id, crit.criterion, assessor)
            current = 0 if row is None else row.version
            if expected_version is not None and expected_version != current:
                raise StaleAssessmentError(_record(row)) if row is not None else _gone()
            now = utcnow()
            if row is None:
                saved = AssessmentRow(
                    account_id=account.account_id, criterion=crit.criterion, assessor=assessor,
                    score=value, comment=text, updated_at=now, version=1,
                )  # fmt: skip
                session.add(saved)
                before = None
            else:
                before = _snapshot(row)
                saved = _update(session, row, value, text, now)
            session.flush()
            after = _snapshot(saved)
            action = "add" if before is None else "change"
            audit.record(session, assessor, "assessment", account.account_id, action, before,
                         after, at=now)  # fmt: skip
            result = _record(saved)
    except IntegrityError:
        # someone inserted the same assessor's score meanwhile
        raise _stale(ws, account.account_id, crit.criterion, assessor) from None
    return result


# -- helpers ------------------------------------------------------------------------------
def _criterion(ws: Workspace, criterion: str) -> AssessedCriterion:
    criteria = policy_criteria(ws)
    for c in criteria:
        if c.criterion == criterion:
            return c
    known = ", ".join(c.criterion for c in criteria) or "none in this policy"
    raise AssessmentInputError(
        "criterion", f"expected one of the policy's assessment criteria ({known}), "
        f"found {criterion!r}"
    )  # fmt: skip


def _comment(comment: str | None) -> str:
    if comment is None:
        return ""
    if not isinstance(comment, str):
        raise AssessmentInputError("comment", f"expected text, found {type(comment).__name__}")
    text = comment.strip()
    if len(text) > MAX_COMMENT:
        raise AssessmentInputError(
            "comment", f"expected at most {MAX_COMMENT} characters, found {len(text)}"
        )
    return text


def _row(session: Session, account_id: str, criterion: str, assessor: str) -> AssessmentRow | None:
    query = select(AssessmentRow).where(
        AssessmentRow.account_id == account_id,
        AssessmentRow.criterion == criterion,
        AssessmentRow.assessor == assessor,
    )
    return session.scalars(query).one_or_none()


def _update(
    session: Session, row: AssessmentRow, score: float, comment: str, now: datetime
) -> AssessmentRow:
    """A conditional UPDATE on the row's version: two saves racing cannot both win."""
    statement = (
        update(AssessmentRow)
        .where(AssessmentRow.id == row.id, AssessmentRow.version == row.version)
        .values(score=score, comment=comment, updated_at=now, version=row.version + 1)
        .execution_options(synchronize_session=False)
    )
    result = cast(Any, session.execute(statement))
    if result.rowcount != 1:
        session.expire(row)
        raise StaleAssessmentError(_record(row))
    session.expire(row)
    return row


def _stale(ws: Workspace, account_id: str, criterion: str, assessor: str) -> KeyfolioError:
    with read_session(ws) as session:
        row = _row(session, account_id, criterion, assessor)
        return _gone() if row is None else StaleAssessmentError(_record(row))


def _gone() -> ConcurrentChangeError:
    return ConcurrentChangeError("this score is not the one you read (it is gone); reload")


def _record(row: AssessmentRow) -> Assessment:
    return Assessment(
        account_id=row.account_id, criterion=row.criterion, assessor=row.assessor,
        score=float(row.score), comment=row.comment or "", updated_at=as_utc(row.updated_at),
        version=row.version,
    )  # fmt: skip


def _snapshot(row: AssessmentRow) -> dict[str, Any]:
    return {
        "account_id": row.account_id, "criterion": row.criterion, "assessor": row.assessor,
        "score": row.score, "comment": row.comment, "updated_at": row.updated_at,
        "version": row.version,
    }  # fmt: skip


def _day(value: Any) -> Any:
    """A date (or None) from a date, datetime, Timestamp or text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _num(x: float) -> str:
    return f"{x:g}"

"""Assessments: the page (queue, disagreements), the form, the account fragment, a save."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel

from keyfolio.db.assessments import AssessedCriterion, Assessment
from keyfolio.web.schemas.users import UserOut


class CriterionOut(BaseModel):
    criterion: str  # the name in the assessments table (assessment:<criterion>)
    label: str  # the policy criterion's name
    group: str
    low: float
    high: float
    description: str

    @classmethod
    def of(cls, c: AssessedCriterion) -> CriterionOut:
        return cls(criterion=c.criterion, label=c.label, group=c.group, low=c.low,
                   high=c.high, description=c.description)  # fmt: skip


class AssessmentOut(BaseModel):
    """A web-entered score (the row a save changed, or the one a stale save met)."""

    account_id: str
    criterion: str
    assessor: str
    score: float
    comment: str
    updated_at: dt.datetime
    version: int

    @classmethod
    def of(cls, a: Assessment) -> AssessmentOut:
        return cls(account_id=a.account_id, criterion=a.criterion, assessor=a.assessor,
                   score=a.score, comment=a.comment, updated_at=a.updated_at,
                   version=a.version)  # fmt: skip


class ScoreOut(BaseModel):
    """A score the next run counts, imported or entered in the app."""

    criterion: str
    assessor: str | None
    score: float
    comment: str | None
    date: dt.date | None
    source: Literal["imported", "web"]
    version: int  # web rows: the row's version; imported: 0


class SpreadOut(BaseModel):
    account_id: str
    name: str | None = None
    criterion: str
    n: int
    mean: float
    min: float
    max: float
    sd: float | None
    spread_share: float  # (max - min) / the criterion's scale


class AccountAssessments(BaseModel):
    """The account page's assessments section: every counted score, and the spread."""

    account_id: str
    criteria: list[CriterionOut]
    scores: list[ScoreOut]
    spread: list[SpreadOut]
    may_assess: bool


class AssessRow(BaseModel):
    """One criterion of the form: the signed-in assessor's score (None: not yet)."""

    criterion: CriterionOut
    score: float | None
    comment: str
    version: int  # send back as expected_version (0: no score of yours yet)
    updated_at: dt.datetime | None


class AssessForm(BaseModel):
    account_id: str
    name: str | None
    owner: str | None
    assessor: str
    rows: list[AssessRow]


class Saved(BaseModel):
    saved: AssessmentOut


class StaleSave(BaseModel):
    """409: someone changed the score since the form was shown."""

    detail: str
    current: AssessmentOut | None


class InputProblem(BaseModel):
    """422: the field that is wrong and what was expected."""

    detail: str
    field: str


class QueueItem(BaseModel):
    account_id: str
    name: str | None
    missing: list[str]
    stale: list[str]
    oldest: dt.date | None


class AssessmentsPage(BaseModel):
    user: UserOut
    manager_id: str | None
    run_id: str | None
    criteria: list[CriterionOut]
    queue: list[QueueItem] | None  # managers: their accounts to assess
    stale_days: int
    disagree_share: float
    disagreements: list[SpreadOut]
    accounts_assessed: int


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with NaN, NA and NaT as None."""
    out = []
    for row in frame.to_dict("records"):
        out.append({str(k): _clean(v) for k, v in row.items()})
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return list(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value

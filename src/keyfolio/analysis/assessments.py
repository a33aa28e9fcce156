"""Questions over people's assessments (imported and web, as the next run scores them).

* :func:`spread` — per account and criterion: how many assessors, mean, min, max, sd and
  the spread ``max - min`` as a share of the criterion's scale;
* :func:`disagreements` — the account × criterion pairs whose assessors disagree: two or
  more assessors and a spread above :data:`DISAGREE_SHARE` (a third) of the criterion's
  scale (on the 1–5 scale: more than 1.33 points apart, i.e. 2 points or more), worst first;
* :func:`to_assess` — a manager's queue: for each account they own and each assessment
  criterion, *missing* when nobody scored it, *stale* when its newest score (any assessor)
  is older than :data:`STALE_DAYS` days (365) or undated. The newest score counts, whoever
  gave it: the queue asks for an account to have a current judgement, not for every
  assessor to repeat it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from keyfolio import runs
from keyfolio.db.assessments import AssessedCriterion, policy_criteria, workspace_assessments
from keyfolio.workspace import Workspace

DISAGREE_SHARE = 1 / 3
STALE_DAYS = 365
SPREAD_COLUMNS = ["account_id", "criterion", "n", "mean", "min", "max", "sd", "spread_share"]
QUEUE_COLUMNS = ["account_id", "name", "criterion", "label", "status", "last_date", "n"]


def _scored(
    assessments: pd.DataFrame | None, criteria: Sequence[AssessedCriterion]
) -> pd.DataFrame:
    """The numeric scores on the policy's assessment criteria."""
    names = [c.criterion for c in criteria]
    if assessments is None or assessments.empty:
        return pd.DataFrame(columns=["account_id", "criterion", "score", "date"])
    df = assessments.assign(
        account_id=assessments["account_id"].astype(str),
        criterion=assessments["criterion"].astype(str),
        score=pd.to_numeric(assessments["score"], errors="coerce"),
    )
    return df[df["criterion"].isin(names) & df["score"].notna()]


def spread(assessments: pd.DataFrame | None, criteria: Sequence[AssessedCriterion]) -> pd.DataFrame:
    """Per account × criterion: n, mean, min, max, sd (NaN with one assessor), spread_share."""
    df = _scored(assessments, criteria)
    if df.empty:
        return pd.DataFrame(columns=SPREAD_COLUMNS)
    g = df.groupby(["account_id", "criterion"])["score"]
    out = pd.DataFrame(
        {"n": g.size(), "mean": g.mean(), "min": g.min(), "max": g.max(), "sd": g.std(ddof=1)}
    ).reset_index()
    width = out["criterion"].map({c.criterion: c.high - c.low for c in criteria})
    out["spread_share"] = np.where(width > 0, (out["max"] - out["min"]) / width, 0.0)
    return out[SPREAD_COLUMNS]


def disagreements(
    assessments: pd.DataFrame | None,
    criteria: Sequence[AssessedCriterion],
    threshold: float = DISAGREE_SHARE,
) -> pd.DataFrame:
    """The pairs where assessors disagree (see the module docstring), worst first (largest
    spread share, then most assessors, then by account id)."""
    s = spread(assessments, criteria)
    s = s[(s["n"] >= 2) & (s["spread_share"] > threshold + 1e-9)]  # at the threshold: agree
    return s.sort_values(
        ["spread_share", "n", "account_id", "criterion"],
        ascending=[False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)


def to_assess(
    owned: pd.DataFrame,
    assessments: pd.DataFrame | None,
    criteria: Sequence[AssessedCriterion],
    today: dt.date,
    stale_days: int = STALE_DAYS,
) -> pd.DataFrame:
    """The queue of one manager: ``owned`` has account_id and name of their accounts; one
    row per account × criterion that is missing or stale, missing first, then oldest."""
    if owned.empty or not criteria:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    ids = owned["account_id"].astype(str)
    grid = pd.MultiIndex.from_product(
        [ids.unique(), [c.criterion for c in criteria]], names=["account_id", "criterion"]
    ).to_frame(index=False)
    df = _scored(assessments, criteria)
    dates = pd.to_datetime(df["date"], errors="coerce") if "date" in df.columns else None
    df = df.assign(_date=dates if dates is not None else pd.NaT)
    g = df.groupby(["account_id", "criterion"])
    last = pd.DataFrame({"last_date": g["_date"].max(), "n": g.size()}).reset_index()
    q = grid.merge(last, on=["account_id", "criterion"], how="left")
    q["n"] = q["n"].fillna(0).astype(int)
    cutoff = pd.Timestamp(today - dt.timedelta(days=stale_days))
    missing = q["n"] == 0
    stale = ~missing & (q["last_date"].isna() | (q["last_date"] < cutoff))
    q = q[missing | stale].assign(status=np.where(missing[missing | stale], "missing", "stale"))
    names = dict(zip(ids, owned["name"] if "name" in owned.columns else ids, strict=False))
    q["name"] = q["account_id"].map(names)
    q["label"] = q["criterion"].map({c.criterion: c.label for c in criteria})
    q["last_date"] = q["last_date"].map(lambda d: None if pd.isna(d) else d.date())
    q = q.sort_values(
        ["status", "last_date", "account_id", "criterion"], na_position="first", kind="stable"
    )
    return q[QUEUE_COLUMNS].reset_index(drop=True)


def queue_by_account(queue: pd.DataFrame) -> pd.DataFrame:
    """:func:`to_assess` folded to one row per account: the criteria missing and stale
    (labels), the oldest score's date; accounts with most missing first."""
    cols = ["account_id", "name", "missing", "stale", "oldest"]
    if queue.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for account_id, part in queue.groupby("account_id", sort=False):
        dates = [d for d in part["last_date"] if d is not None]
        rows.append({
            "account_id": str(account_id), "name": part["name"].iloc[0],
            "missing": list(part.loc[part["status"] == "missing", "label"]),
            "stale": list(part.loc[part["status"] == "stale", "label"]),
            "oldest": min(dates) if dates else None,
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=cols)
    order = out["missing"].map(len)
    return out.iloc[np.argsort(-order.to_numpy(), kind="stable")].reset_index(drop=True)


@dataclass(frozen=True)
class Overview:
    """The assessments page: the policy's criteria, a manager's queue (None for others), the
    disagreements (with account names) and how many accounts have any score."""

    run_id: str | None
    criteria: list[AssessedCriterion]
    queue: pd.DataFrame | None
    disagreements: pd.DataFrame
    accounts_assessed: int


def overview(ws: Workspace, manager_id: str | None, today: dt.date) -> Overview:
    """The assessments page of a user (``manager_id``: the accounts they own get a queue)."""
    criteria = policy_criteria(ws)
    scores = workspace_assessments(ws)
    run = runs.latest(ws)
    queue = None
    if manager_id is not None:
        owned = owned_accounts(run, manager_id)
        queue = queue_by_account(to_assess(owned, scores, criteria, today))
    found = disagreements(scores, criteria)
    found = with_names(run, found)
    assessed = 0 if scores is None else int(_scored(scores, criteria)["account_id"].nunique())
    return Overview(None if run is None else run.id, criteria, queue, found, assessed)


def owned_accounts(run: runs.Run | None, manager_id: str) -> pd.DataFrame:
    """The run's accounts whose owner is ``manager_id`` (account_id, name)."""
    if run is None:
        return pd.DataFrame(columns=["account_id", "name"])
    pf = run.table(
        runs.PORTFOLIO, columns=["account_id", "name", "owner"],
        filters=[("owner", "==", manager_id)],
    )  # fmt: skip
    if pf is None:
        return pd.DataFrame(columns=["account_id", "name"])
    return pf.assign(account_id=pf["account_id"].astype(str))[["account_id", "name"]]


def with_names(run: runs.Run | None, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the run's account ``name`` beside its account_id."""
    if run is None or frame.empty:
        return frame.assign(name=None)
    ids = sorted(set(frame["account_id"].astype(str)))
    names = run.table(
        runs.PORTFOLIO, columns=["account_id", "name"], filters=[("account_id", "in", ids)]
    )
    lookup = {} if names is None else dict(zip(names["account_id"].astype(str), names["name"],
                                               strict=True))  # fmt: skip
    return frame.assign(name=frame["account_id"].astype(str).map(lookup))

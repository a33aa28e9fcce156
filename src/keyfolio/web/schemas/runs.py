"""Runs: the list, one run, the diff of two, and background jobs."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from keyfolio.analysis.diff import Diff
from keyfolio.analysis.run_list import RunInfo
from keyfolio.web.jobs import Job


class RunOut(BaseModel):
    run_id: str
    started: str | None
    finished: str | None
    policy_sha256: str
    policy_version: int | None  # None: a policy never saved through the app
    accounts: int | None
    key_accounts: int | None
    warnings: int
    damaged: str | None = None

    @classmethod
    def of(cls, i: RunInfo) -> RunOut:
        return cls(
            run_id=i.run_id, started=i.started, finished=i.finished,
            policy_sha256=i.policy_sha256, policy_version=i.policy_version,
            accounts=i.accounts, key_accounts=i.key_accounts, warnings=len(i.warnings),
            damaged=i.damaged,
        )  # fmt: skip


class StageOut(BaseModel):
    name: str
    at_s: float


class JobOut(BaseModel):
    job_id: str
    state: str  # running, done, failed
    started_by: str
    started: str
    finished: str | None
    elapsed_s: float
    stages: list[StageOut]
    run_id: str | None  # the new run, when done
    error: str | None  # one line, when failed

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            job_id=job.id, state=job.state, started_by=job.who,
            started=job.started.isoformat(timespec="seconds"),
            finished=None if job.finished is None else job.finished.isoformat(timespec="seconds"),
            elapsed_s=round(job.elapsed_s, 1),
            stages=[StageOut(name=s.name, at_s=s.at_s) for s in job.stages],
            run_id=job.run_id, error=job.error,
        )  # fmt: skip


class RunsPage(BaseModel):
    runs: list[RunOut]
    running: JobOut | None  # the background run in progress, if any
    can_start: bool  # the caller's role may start a run


class RunDetail(BaseModel):
    run: RunOut
    warnings: list[str]
    timings_s: dict[str, float]
    limited_by: str | None
    previous: str | None  # the run before it, for the diff link
    reports: dict[str, str]  # format -> URL


class ChangeOut(BaseModel):
    account_id: str
    name: str | None
    change: str  # entered, left
    decision: str
    objective_a: float | None
    objective_b: float | None
    quadrant_a: str | None
    quadrant_b: str | None
    why: str


class DiffOut(BaseModel):
    run_a: str
    run_b: str
    objective: str
    entered: int
    left: int
    changes: list[ChangeOut]

    @classmethod
    def of(cls, d: Diff, limit: int | None = None) -> DiffOut:
        """``limit``: show the first rows only (the counts are of all)."""
        rows = [ChangeOut(**_clean(r)) for r in d.to_dict()["changes"]]
        return cls(
            run_a=d.run_a, run_b=d.run_b, objective=d.objective,
            entered=sum(r.change == "entered" for r in rows),
            left=sum(r.change == "left" for r in rows), changes=rows[:limit],
        )  # fmt: skip


class DiffPage(BaseModel):
    runs: list[str]  # every run id, for the form
    diff: DiffOut


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """NaN as None, ids and texts as str."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out[k] = None
        elif k in ("objective_a", "objective_b"):
            out[k] = float(v)
        else:
            out[k] = str(v)
    return out

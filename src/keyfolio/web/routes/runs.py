"""Runs: the list with policy versions, one run, the diff of any two, the report of any run
(HTML, PDF, XLSX; built once per run and format, then served from the run folder) and, for
leads, a run started in the background with its progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from keyfolio import runs
from keyfolio.analysis.diff import diff_runs
from keyfolio.analysis.run_list import run_info, run_list
from keyfolio.db.users import WebSession
from keyfolio.errors import WorkspaceError
from keyfolio.report import build_report
from keyfolio.web.deps import CsrfSession, CurrentSession, FormatDep, WorkspaceDep, roles
from keyfolio.web.jobs import Busy, JobRegistry
from keyfolio.web.render import HTML_PAGE, is_partial, page
from keyfolio.web.schemas.runs import DiffOut, DiffPage, JobOut, RunDetail, RunOut, RunsPage
from keyfolio.workspace import Workspace

router = APIRouter(tags=["runs"])
LEADS = roles("lead", "admin")
ReportFormat = Literal["html", "pdf", "xlsx"]
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BUSY: dict[int | str, dict[str, Any]] = {409: {"description": "another run or report is writing"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such run or job"}}


def jobs_of(request: Request) -> JobRegistry:
    registry: JobRegistry = request.app.state.jobs
    return registry


Jobs = Annotated[JobRegistry, Depends(jobs_of)]


def _run(ws: Workspace, run_id: str) -> runs.Run:
    try:
        return runs.get(ws, run_id)
    except WorkspaceError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/runs", response_model=RunsPage, responses=HTML_PAGE)
def run_list_page(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, jobs: Jobs
) -> Response:
    """Every run, newest first, with its policy version, key accounts and warnings."""
    running = jobs.running()
    model = RunsPage(
        runs=[RunOut.of(i) for i in run_list(ws)],
        running=None if running is None else JobOut.of(running),
        can_start=session.user.role in (LEADS.allowed or ()),
    )
    return page(request, fmt, "runs.html", model, session=session)


@router.post(
    "/runs",
    status_code=202,
    response_model=JobOut,
    responses={303: {"description": "browsers: to the job's progress page"}, **BUSY},
    dependencies=[Depends(LEADS)],
)
def start_run(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CsrfSession, jobs: Jobs
) -> Response:
    """Start a run in the background (leads): 202 with the job, or 409 while another run
    (of this server or of the command line) or a report is writing."""
    try:
        job = jobs.start_run(ws, session.user.email)
    except Busy as exc:
        raise HTTPException(409, str(exc)) from None
    if fmt == "json":
        return JSONResponse(JobOut.of(job).model_dump(mode="json"), status_code=202)
    return RedirectResponse(f"/runs/jobs/{job.id}", status_code=303)


@router.get("/runs/jobs/{job_id}", response_model=JobOut, responses={**HTML_PAGE, **NOT_FOUND})
def job_page(
    request: Request, fmt: FormatDep, job_id: str, session: CurrentSession, jobs: Jobs
) -> Response:
    """A background run's progress: the stages as they start, the elapsed time, then the
    new run (or the error). The page polls itself; ``X-Poll-Done: 1`` when finished."""
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no background run {job_id!r} (the server may have restarted)")
    model = JobOut.of(job)
    template = "_run_progress.html" if is_partial(request) else "run_job.html"
    response = page(request, fmt, template, model, session=session)
    if job.done:
        response.headers["X-Poll-Done"] = "1"
    return response


@router.get("/runs/diff", response_model=DiffPage, responses={**HTML_PAGE, **NOT_FOUND})
def run_diff(
    request: Request,
    fmt: FormatDep,
    ws: WorkspaceDep,
    session: CurrentSession,
    a: Annotated[str, Query(description="the older run's id")],
    b: Annotated[str, Query(description="the newer run's id")],
) -> Response:
    """Who entered and who left the key list from run ``a`` to run ``b``, and why."""
    model = DiffPage(
        runs=runs.run_ids(ws)[::-1], diff=DiffOut.of(diff_runs(_run(ws, a), _run(ws, b)))
    )
    return page(request, fmt, "runs_diff.html", model, session=session)


@router.get("/runs/{run_id}", response_model=RunDetail, responses={**HTML_PAGE, **NOT_FOUND})
def run_page(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, run_id: str
) -> Response:
    """One run: when, under which policy, its warnings and stage timings, its reports."""
    run = _run(ws, run_id)
    info = run_info(ws, run.id)
    previous = runs.previous(ws, run.id)
    model = RunDetail(
        run=RunOut.of(info), warnings=info.warnings, timings_s=info.timings_s,
        limited_by=info.limited_by, previous=None if previous is None else previous.id,
        reports={f: f"/runs/{run.id}/report.{f}" for f in MEDIA},
    )  # fmt: skip
    return page(request, fmt, "run.html", model, session=session)


@router.get(
    "/runs/{run_id}/report.{fmt}",
    response_class=FileResponse,
    responses={
        200: {"content": {m.split(";")[0]: {} for m in MEDIA.values()}},
        **NOT_FOUND,
        **BUSY,
    },
)
def run_report(
    ws: WorkspaceDep, session: CurrentSession, jobs: Jobs, run_id: str, fmt: ReportFormat
) -> Response:
    """The report of a run: built on the first download (under the workspace lock, 409
    while another writer has it), then served from ``runs/<run_id>/report.<fmt>``."""
    run = _run(ws, run_id)
    path = run.path(f"report.{fmt}")
    if not path.is_file():
        path = _build(ws, run, fmt, session, jobs)
    name = f"keyfolio-report-{run.id}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    return FileResponse(
        path, media_type=MEDIA[fmt], filename=name, content_disposition_type=disposition
    )


def _build(ws: Workspace, run: runs.Run, fmt: str, who: WebSession, jobs: JobRegistry) -> Path:
    try:
        with jobs.writing(ws, "report", who.user.email):
            target = run.path(f"report.{fmt}")
            if target.is_file():  # built by whoever held the lock before us
                return target
            return build_report(ws, run.id, fmt=fmt)
    except Busy as exc:
        raise HTTPException(409, str(exc)) from None

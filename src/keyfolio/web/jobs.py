"""Background runs of the pipeline in the server process, and the one-writer rule.

A :class:`JobRegistry` lives in ``app.state.jobs`` (made by ``create_app``, one per app).
:meth:`JobRegistry.start_run` takes the workspace lock in the request (so a busy workspace
is a 409 at once, with who holds it), records "run started" in the audit log and hands the
lock to a thread that runs :func:`keyfolio.pipeline.run`; the thread releases it however
the run ends, and only then marks the job done or failed, so a failed run never leaves the
registry "running".

The workspace lock is re-entrant within a process (:mod:`keyfolio.lock`), so it cannot keep
two writers of this server apart: the registry's writer slot does. Every writer in the
server process (a run, a report) goes through :meth:`JobRegistry.writing`, which holds the
slot and the workspace lock together; a CLI command holding the lock is seen through the
lock itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from keyfolio import lock, pipeline
from keyfolio.db.audit import record
from keyfolio.db.engine import write_session
from keyfolio.errors import KeyfolioError, WorkspaceBusyError, first_line
from keyfolio.workspace import Workspace, Writing

State = Literal["running", "done", "failed"]
Runner = Callable[[Workspace, pipeline.RunOptions], pipeline.RunResult]
KEEP_JOBS = 50


class Busy(KeyfolioError):
    """Another writer holds the workspace (this server's or another process's)."""


@dataclass(frozen=True)
class Stage:
    name: str
    at_s: float  # seconds after the job started


@dataclass
class Job:
    """One background run; the registry hands out copies (:meth:`JobRegistry.get`)."""

    id: str
    who: str
    started: dt.datetime
    state: State = "running"
    stages: list[Stage] = field(default_factory=list)
    run_id: str | None = None
    error: str | None = None
    finished: dt.datetime | None = None
    _t0: float = field(default_factory=time.monotonic, repr=False)

    @property
    def elapsed_s(self) -> float:
        end = self.finished
        if end is not None:
            return (end - self.started).total_seconds()
        return time.monotonic() - self._t0

    @property
    def done(self) -> bool:
        return self.state != "running"


@dataclass(frozen=True)
class _Writer:
    command: str
    who: str
    since: dt.datetime


class JobRegistry:
    """The background runs of one app and its writer slot. ``on_stage`` is called in the
    run's thread as each stage starts (after it is recorded), e.g. to watch a run."""

    def __init__(
        self, runner: Runner = pipeline.run, on_stage: Callable[[str], None] | None = None
    ) -> None:
        self.runner = runner
        self.on_stage = on_stage
        self._mutex = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._writer: _Writer | None = None

    # -- reading -------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self._mutex:
            job = self._jobs.get(job_id)
            return None if job is None else replace(job, stages=list(job.stages))

    def running(self) -> Job | None:
        with self._mutex:
            live = [j for j in self._jobs.values() if not j.done]
        return self.get(live[-1].id) if live else None

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, ws: Workspace, command: str, who: str) -> Iterator[None]:
        """Hold the writer slot and the workspace lock for ``command``; :class:`Busy` (at
        once, nothing done) when another writer has either."""
        held = self._claim(ws, command, who)
        try:
            yield
        finally:
            self._release(held)

    def start_run(self, ws: Workspace, who: str) -> Job:
        """Start a run of the pipeline in the background; :class:`Busy` when another writer
        holds the workspace. The audit log gets "run started" before the thread starts."""
        held = self._claim(ws, "run", who)
        job = Job(id=uuid.uuid4().hex[:12], who=who, started=_now())
        try:
            with write_session(ws) as session:
                record(session, who, "run", job.id, "started", None, {"job": job.id})
            with self._mutex:
                self._jobs[job.id] = job
                for old in list(self._jobs)[:-KEEP_JOBS]:
                    if self._jobs[old].done:
                        del self._jobs[old]
            thread = threading.Thread(
                target=self._work, args=(job, ws, held), name=f"keyfolio-run-{job.id}", daemon=True
            )
            thread.start()
        except BaseException:
            self._release(held)
            with self._mutex:
                self._jobs.pop(job.id, None)
            raise
        return self.get(job.id) or job

    def _work(self, job: Job, ws: Workspace, held: Writing) -> None:
        run_id: str | None = None
        error: str | None = None
        try:
            result = self.runner(ws, pipeline.RunOptions(progress=lambda s: self._stage(job, s)))
            run_id = result.run_id
        except BaseException as exc:  # the job says what went wrong; the server goes on
            error = _one_line(exc)
        finally:
            self._release(held)  # free before "done": a client seeing it may start again
        after = (
            {"job": job.id, "run_id": run_id} if error is None else {"job": job.id, "error": error}
        )
        with contextlib.suppress(Exception), write_session(ws) as session:
            action = "finished" if error is None else "failed"
            record(session, job.who, "run", job.id, action, None, after)
        with self._mutex:
            job.run_id, job.error = run_id, error
            job.state = "done" if error is None else "failed"
            job.finished = _now()

    def _stage(self, job: Job, name: str) -> None:
        with self._mutex:
            job.stages.append(Stage(name, round(time.monotonic() - job._t0, 3)))
        if self.on_stage is not None:
            self.on_stage(name)

    def _claim(self, ws: Workspace, command: str, who: str) -> Writing:
        with self._mutex:
            if self._writer is not None:
                raise Busy(_describe(self._writer))
            held = ws.writing(command)
            try:
                held.__enter__()
            except WorkspaceBusyError as exc:
                raise Busy(_other_process(ws, exc)) from None
            self._writer = _Writer(command, who, _now())
            return held

    def _release(self, held: Writing) -> None:
        with self._mutex:
            try:
                held.__exit__(None, None, None)
            finally:
                self._writer = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _when(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _describe(writer: _Writer) -> str:
    if writer.command == "run":
        return f"a run is already in progress (started by {writer.who} at {_when(writer.since)})"
    return (
        f"the workspace is busy: {writer.who} is writing a {writer.command} "
        f"(since {_when(writer.since)}); try again when it has finished"
    )


def _other_process(ws: Workspace, exc: WorkspaceBusyError) -> str:
    """A lock held outside this server (the CLI): who, from the lock file."""
    holder = lock.Holder.read(ws.root / lock.LOCK_FILE)
    if holder is None:
        return str(exc)
    try:
        since = _when(dt.datetime.fromisoformat(holder.since))
    except ValueError:
        since = holder.since
    who = f"keyfolio {holder.command} (pid {holder.pid} on {holder.host})"
    if holder.command == "run":
        return f"a run is already in progress (started by {who} at {since})"
    return f"the workspace is busy: {who} is writing to it since {since}; try again later"


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, KeyfolioError):
        return first_line(exc)
    return f"internal error: {type(exc).__name__}: {first_line(exc)}"

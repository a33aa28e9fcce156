"""The runs of a workspace as a list: when each ran, under which policy version, how many
key accounts it chose and how many warnings it gave; and one run's details.

The policy version of a run is the saved version (``policy_versions`` table) whose SHA-256
equals the one in the run's ``run.json``; a run made under a policy never saved through
the app has none (shown by the short hash). Read from ``run.json`` and ``selection.json``
only: no Parquet is opened, so the list stays fast with many large runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from keyfolio import runs
from keyfolio.db.engine import exists, read_session
from keyfolio.db.models import PolicyVersionRow
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    started: str | None
    finished: str | None
    policy_sha256: str
    policy_version: int | None  # the saved version with that hash (the newest if several)
    accounts: int | None
    key_accounts: int | None
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    limited_by: str | None = None
    damaged: str | None = None  # run.json could not be read: why

    @property
    def policy_short(self) -> str:
        return self.policy_sha256[:12]


def run_list(ws: Workspace) -> list[RunInfo]:
    """Every complete run, the newest first."""
    infos = [_info(runs.Run(r, ws.runs_dir / r)) for r in reversed(runs.run_ids(ws))]
    versions = policy_versions(ws, {i.policy_sha256 for i in infos if i.policy_sha256})
    return [_with_version(i, versions) for i in infos]


def run_info(ws: Workspace, run_id: str) -> RunInfo:
    """One run (a WorkspaceError naming the runs there are when there is no such run)."""
    info = _info(runs.get(ws, run_id))
    return _with_version(info, policy_versions(ws, {info.policy_sha256}))


def policy_versions(ws: Workspace, shas: Iterable[str]) -> dict[str, int]:
    """SHA-256 -> number of the newest saved policy version with that text."""
    wanted = sorted(s for s in shas if s)
    if not wanted or not exists(ws):
        return {}
    query = select(PolicyVersionRow.sha256, PolicyVersionRow.number).where(
        PolicyVersionRow.sha256.in_(wanted)
    )
    out: dict[str, int] = {}
    with read_session(ws) as session:
        for sha, number in session.execute(query):
            out[sha] = max(number, out.get(sha, 0))
    return out


def _with_version(info: RunInfo, versions: dict[str, int]) -> RunInfo:
    return replace(info, policy_version=versions.get(info.policy_sha256))


def _info(run: runs.Run) -> RunInfo:
    try:
        meta = run.meta()
        selection = run.document(runs.SELECTION) or {}
    except KeyfolioError as exc:
        return RunInfo(run.id, None, None, "", None, None, None, damaged=str(exc))
    rows = meta.get("rows") or {}
    decisions = selection.get("decisions")
    accounts = sum(decisions.values()) if isinstance(decisions, dict) else rows.get("definition")
    return RunInfo(
        run_id=run.id,
        started=meta.get("started"),
        finished=meta.get("finished"),
        policy_sha256=str((meta.get("policy") or {}).get("sha256") or ""),
        policy_version=None,
        accounts=_int(accounts),
        key_accounts=_int(selection.get("n_key")),
        warnings=[str(w) for w in meta.get("warnings") or []],
        timings_s={str(k): float(v) for k, v in (meta.get("timings_s") or {}).items()},
        limited_by=selection.get("limited_by"),
    )


def _int(x: Any) -> int | None:
    try:
        return int(x)
    except (TypeError, ValueError):
        return None

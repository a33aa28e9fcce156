"""Load a run (and what the report needs around it) into a :class:`ReportData`.

The report is generated from the run folder alone: ``portfolio.parquet`` and ``run.json`` are
required; every other file is optional and missing ones become ``None`` (the section then says
so in one line). Around the run folder, the report also looks at the workspace's previous run
(:func:`keyfolio.runs.previous_of`) for "changes since the previous run", and at the
workspace's ``data/`` tables for the data notes and the ``team`` table (managers' capacity).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from keyfolio import runs
from keyfolio.errors import KeyfolioError
from keyfolio.policy import Policy, parse_policy
from keyfolio.schema import TABLE_NAMES
from keyfolio.selection import Reconciliation
from keyfolio.workspace import Workspace, file_sha256


@dataclass
class TableInfo:
    """An input table as the run recorded it, and what the workspace holds now."""

    table: str
    rows: int | None
    bytes: int | None
    sha256: str | None
    modified: dt.datetime | None = None  # the workspace file's modification time
    status: str = "as used by this run"  # or "changed since this run" / "no longer in workspace"


@dataclass
class ReportData:
    run: runs.Run
    meta: dict[str, Any]
    policy: Policy
    portfolio: pd.DataFrame
    contributions: pd.DataFrame | None = None
    selection: dict[str, Any] | None = None
    reconciliation: Reconciliation | None = None
    value_models: dict[str, Any] | None = None
    whale: pd.DataFrame | None = None
    cost_to_serve: pd.DataFrame | None = None
    previous: runs.Run | None = None
    team: pd.DataFrame | None = None
    tables: list[TableInfo] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.run.id)

    @property
    def currency(self) -> str:
        return str(self.meta.get("currency") or self.policy.currency)

    @property
    def selectable(self) -> pd.DataFrame:
        """Stand-alone accounts and group roll-ups (group members are counted in their group)."""
        pf = self.portfolio
        if "selectable" not in pf.columns:
            return pf
        return pf[pf["selectable"].fillna(False).astype(bool)]

    @property
    def key(self) -> pd.DataFrame:
        pf = self.portfolio
        if "is_key" not in pf.columns:
            return pf.iloc[0:0]
        return pf[pf["is_key"].fillna(False).astype(bool)]


def _table_infos(meta: dict[str, Any], root: Path | None) -> list[TableInfo]:
    out = []
    inputs = meta.get("inputs") or {}
    for table, info in inputs.items():
        ti = TableInfo(str(table), info.get("rows"), info.get("bytes"), info.get("sha256"))
        path = root / "data" / f"{table}.parquet" if root is not None else None
        if path is None:
            ti.status = "workspace not available"
        elif not path.is_file():
            ti.status = "no longer in the workspace"
        else:
            stat = path.stat()
            ti.modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
            same = stat.st_size == ti.bytes and (
                ti.sha256 is None or file_sha256(path) == ti.sha256
            )
            if not same:
                ti.status = "changed since this run"
        out.append(ti)
    order = {t: i for i, t in enumerate(TABLE_NAMES)}
    return sorted(out, key=lambda t: (order.get(t.table, 99), t.table))


def _read_team(root: Path | None) -> pd.DataFrame | None:
    if root is None:
        return None
    team = Workspace(root).read_frame("team")
    if team is not None and "manager_id" in team.columns:
        team["manager_id"] = team["manager_id"].astype(str)
    return team


def _reconciliation(frame: pd.DataFrame | None) -> Reconciliation | None:
    if frame is None or "section" not in frame.columns:
        return None
    return Reconciliation.from_frame(frame)


def load_run(run: runs.Run, *, contributions_for_key_only: bool = True) -> ReportData:
    """Everything the report needs from ``run`` (a ``WORKSPACE/runs/<run_id>`` folder).

    With ``contributions_for_key_only`` only the key accounts' criterion contributions are
    read (the detail blocks need no more; at 100k accounts the full table is large).
    """
    meta = run.meta()
    text = (meta.get("policy") or {}).get("text")
    if not isinstance(text, str):
        raise KeyfolioError(f"{run.path(runs.RUN_JSON)}: no policy text recorded in this run")
    policy = parse_policy(text, source=f"{run.id}/run.json policy")
    portfolio = run.portfolio()
    data = ReportData(run=run, meta=meta, policy=policy, portfolio=portfolio)
    data.missing_files = [f for f in runs.OPTIONAL if not run.has(f)]
    filters = None
    if contributions_for_key_only and "is_key" in portfolio.columns:
        ids = portfolio.loc[portfolio["is_key"].fillna(False).astype(bool), "account_id"]
        filters = [("account_id", "in", sorted(set(ids)) or ["\x00"])]
    data.contributions = run.table(runs.CONTRIBUTIONS, filters=filters)
    if data.contributions is not None:
        data.contributions["account_id"] = data.contributions["account_id"].astype(str)
    data.selection = run.document(runs.SELECTION)
    data.reconciliation = _reconciliation(run.table(runs.RECONCILIATION))
    data.value_models = run.document(runs.VALUE_MODELS)
    data.whale = run.table(runs.WHALE)
    data.cost_to_serve = run.table(runs.COST_TO_SERVE)
    data.previous = runs.previous_of(run)
    root = run.workspace_root
    data.team = _read_team(root)
    data.tables = _table_infos(meta, root)
    return data

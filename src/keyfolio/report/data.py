"""Load a run folder (and what the report needs around it) into a :class:`ReportData`.

The report is generated from the run folder alone: ``portfolio.parquet`` and ``run.json`` are
required; every other file is optional and missing ones become ``None`` (the section then says
so in one line). Around the run folder, the report also looks at the workspace's previous run
(the run folder sorted just before it) for "changes since the previous run", and at the
workspace's ``data/`` tables for the data notes and the ``team`` table (managers' capacity).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from keyfolio.errors import KeyfolioError, WorkspaceError
from keyfolio.policy import Policy, parse_policy
from keyfolio.schema import TABLE_NAMES
from keyfolio.workspace import file_sha256

OPTIONAL_FILES = (
    "contributions.parquet",
    "selection.json",
    "reconciliation.parquet",
    "value_models.json",
    "whale.parquet",
    "cost_to_serve.parquet",
    "yearly.parquet",
)


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
    run_id: str
    run_dir: Path
    meta: dict[str, Any]
    policy: Policy
    portfolio: pd.DataFrame
    contributions: pd.DataFrame | None = None
    selection: dict[str, Any] | None = None
    reconciliation: dict[str, pd.DataFrame] | None = None
    value_models: dict[str, Any] | None = None
    whale: pd.DataFrame | None = None
    cost_to_serve: pd.DataFrame | None = None
    previous_run_dir: Path | None = None
    team: pd.DataFrame | None = None
    tables: list[TableInfo] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)

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


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path}: not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else None


def _read_parquet(path: Path, **kw: Any) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    return pq.read_table(path, **kw).to_pandas()


def previous_run_dir(run_dir: Path) -> Path | None:
    """The run folder sorted just before ``run_dir`` among its siblings (with a portfolio)."""
    parent = run_dir.parent
    if not parent.is_dir():
        return None
    earlier = sorted(
        p
        for p in parent.iterdir()
        if p.is_dir()
        and p.name < run_dir.name
        and not p.name.startswith(".")
        and (p / "portfolio.parquet").is_file()
    )
    return earlier[-1] if earlier else None


def _workspace_root(run_dir: Path) -> Path | None:
    root = run_dir.parent.parent
    return root if run_dir.parent.name == "runs" and (root / "keyfolio.toml").is_file() else None


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
    team = _read_parquet(root / "data" / "team.parquet")
    if team is not None and "manager_id" in team.columns:
        team["manager_id"] = team["manager_id"].astype(str)
    return team


def _reconciliation(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame] | None:
    if frame is None or "section" not in frame.columns:
        return None
    out = {}
    for section in ("lists", "overlap", "failing", "unlisted"):
        part = frame[frame["section"] == section].drop(columns=["section"])
        out[section] = part.dropna(axis=1, how="all").reset_index(drop=True)
    return out


def load_run(run_dir: Path, *, contributions_for_key_only: bool = True) -> ReportData:
    """Everything the report needs from ``run_dir`` (a ``WORKSPACE/runs/<run_id>`` folder).

    With ``contributions_for_key_only`` only the key accounts' criterion contributions are
    read (the detail blocks need no more; at 100k accounts the full table is large).
    """
    run_dir = Path(run_dir)
    meta = _read_json(run_dir / "run.json")
    if meta is None or not (run_dir / "portfolio.parquet").is_file():
        raise WorkspaceError(
            f"{run_dir}: not a run folder (expected run.json and portfolio.parquet)"
        )
    text = (meta.get("policy") or {}).get("text")
    if not isinstance(text, str):
        raise KeyfolioError(f"{run_dir / 'run.json'}: no policy text recorded in this run")
    policy = parse_policy(text, source=f"{run_dir.name}/run.json policy")
    portfolio = pd.read_parquet(run_dir / "portfolio.parquet")
    portfolio["account_id"] = portfolio["account_id"].astype(str)
    data = ReportData(
        run_id=str(meta.get("run_id") or run_dir.name),
        run_dir=run_dir,
        meta=meta,
        policy=policy,
        portfolio=portfolio,
    )
    data.missing_files = [f for f in OPTIONAL_FILES if not (run_dir / f).is_file()]
    filters = None
    if contributions_for_key_only and "is_key" in portfolio.columns:
        ids = portfolio.loc[portfolio["is_key"].fillna(False).astype(bool), "account_id"]
        filters = [("account_id", "in", sorted(set(ids)) or ["\x00"])]
    data.contributions = _read_parquet(run_dir / "contributions.parquet", filters=filters)
    if data.contributions is not None:
        data.contributions["account_id"] = data.contributions["account_id"].astype(str)
    data.selection = _read_json(run_dir / "selection.json")
    data.reconciliation = _reconciliation(_read_parquet(run_dir / "reconciliation.parquet"))
    data.value_models = _read_json(run_dir / "value_models.json")
    data.whale = _read_parquet(run_dir / "whale.parquet")
    data.cost_to_serve = _read_parquet(run_dir / "cost_to_serve.parquet")
    data.previous_run_dir = previous_run_dir(run_dir)
    root = _workspace_root(run_dir)
    data.team = _read_team(root)
    data.tables = _table_infos(meta, root)
    return data

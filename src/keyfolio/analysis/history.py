"""One account's key-account decision across every finished run of a workspace.

Each run's ``portfolio.parquet`` is read for that account's row only: one DuckDB query
over all the runs' files at once, filtered on ``account_id`` (the filter is pushed into
the Parquet scans, so 50 runs of 1M accounts read one column each, not 50 portfolios).
Runs written by older versions may lack a column: it is null for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from sqlglot import exp

from keyfolio import runs
from keyfolio.ingest.sql import col, select, text
from keyfolio.workspace import Workspace

HISTORY_COLUMNS = ("is_key", "decision", "size_tier", "quadrant", "attractiveness", "strength",
                   "reasons")  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """The account in one run (``in_run`` False: the run does not have the account)."""

    run_id: str
    started: str | None
    in_run: bool
    is_key: bool | None = None
    decision: str | None = None
    size_tier: str | None = None
    quadrant: str | None = None
    attractiveness: float | None = None
    strength: float | None = None
    reasons: str | None = None


def decision_history(ws: Workspace, account_id: str) -> list[Decision]:
    """``account_id`` in every complete run of ``ws`` with a portfolio, oldest first."""
    all_runs = [runs.get(ws, i) for i in runs.run_ids(ws)]
    all_runs = [r for r in all_runs if r.has(runs.PORTFOLIO)]
    if not all_runs:
        return []
    found = _rows(all_runs, str(account_id))
    out = []
    for run in all_runs:
        started = run.meta().get("started")
        row = found.get(str(run.path(runs.PORTFOLIO)))
        if row is None:
            out.append(Decision(run.id, started, in_run=False))
            continue
        out.append(Decision(run.id, started, True, **row))
    return out


def _rows(all_runs: list[runs.Run], account_id: str) -> dict[str, dict[str, Any]]:
    """The account's row of each run's portfolio, by file name."""
    files = [str(r.path(runs.PORTFOLIO)) for r in all_runs]
    present: set[str] = set()
    for r in all_runs:
        present |= set(r.columns(runs.PORTFOLIO))
    cols = [
        col(c) if c in present else exp.alias_(exp.null(), c, quoted=True) for c in HISTORY_COLUMNS
    ]
    q = select([col("filename"), *cols], "portfolios", where=_id_is())
    with duckdb.connect() as con:
        con.read_parquet(files, filename=True, union_by_name=True).create_view("portfolios")
        rows = con.execute(text(q), [account_id]).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for filename, *values in rows:
        out[str(filename)] = dict(zip(HISTORY_COLUMNS, values, strict=True))
    return out


def _id_is() -> exp.Expression:
    return exp.cast(col("account_id"), "VARCHAR").eq(exp.Placeholder())

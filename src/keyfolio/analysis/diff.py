"""Who entered and who left the key list between two finished runs, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from keyfolio import runs
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

_DIFF_COLS = ["account_id", "name", "is_key", "decision", "reasons", "quadrant", "p_key"]


@dataclass(frozen=True)
class Diff:
    """The changes of the key list from run ``a`` (older) to run ``b``.

    ``changes``: account_id, name, change ('entered' / 'left'), decision (in B),
    objective_a, objective_b, quadrant_a, quadrant_b, why (B's reason); entered first, by
    B's objective."""

    run_a: str
    run_b: str
    objective: str
    changes: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        records = self.changes.astype(object).where(self.changes.notna(), None)
        return {"run_a": self.run_a, "run_b": self.run_b,
                "changes": records.to_dict(orient="records")}  # fmt: skip


def diff(ws: Workspace, run_a: str | None = None, run_b: str | None = None) -> Diff:
    """The diff of two runs of ``ws``, by default the last two (give both or neither)."""
    if (run_a is None) != (run_b is None):
        raise KeyfolioError("give both RUN_A and RUN_B, or neither (the last two runs)")
    if run_a is None or run_b is None:
        a, b = runs.last_two(ws)
    else:
        a, b = runs.get(ws, run_a), runs.get(ws, run_b)
    return diff_runs(a, b)


def diff_runs(run_a: runs.Run, run_b: runs.Run) -> Diff:
    """Who entered and who left the key list between run A (older) and run B, and why."""
    objective = (run_b.document(runs.SELECTION) or {}).get("objective", "attractiveness")
    a = run_a.portfolio([*_DIFF_COLS, objective])
    b = run_b.portfolio([*_DIFF_COLS, objective])
    for df in (a, b):
        if objective not in df.columns:
            df[objective] = float("nan")
    m = a.merge(b, on="account_id", how="outer", suffixes=("_a", "_b"))
    key_a = m["is_key_a"].fillna(False).astype(bool)
    key_b = m["is_key_b"].fillna(False).astype(bool)
    m = m[key_a != key_b].copy()
    entered = m["is_key_b"].fillna(False).astype(bool)
    out = pd.DataFrame(
        {
            "account_id": m["account_id"],
            "name": m["name_b"].fillna(m["name_a"]),
            "change": entered.map({True: "entered", False: "left"}),
            "decision": m["decision_b"].fillna("not in run B"),
            "objective_a": m[f"{objective}_a"].astype(float),
            "objective_b": m[f"{objective}_b"].astype(float),
            "quadrant_a": m["quadrant_a"],
            "quadrant_b": m["quadrant_b"],
            "why": m["reasons_b"].fillna("account not in run B"),
        }
    )
    out = out.sort_values(["change", "objective_b"], ascending=[True, False], na_position="last")
    return Diff(run_a.id, run_b.id, objective, out.reset_index(drop=True))

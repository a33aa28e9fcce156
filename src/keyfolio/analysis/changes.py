"""What changed from one finished run to the next: the key list (who entered, who left and
why, :func:`keyfolio.analysis.diff.diff_runs`) and the accounts that moved to another size
tier or KAM-matrix quadrant, each with the figures that moved it and the decision's reason
in the newer run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from keyfolio import runs
from keyfolio.analysis.diff import Diff, diff_runs

_COLS = ["account_id", "name", "selectable", "size_tier", "size_basis", "quadrant",
         "attractiveness", "strength", "revenue", "contribution_margin", "reasons"]  # fmt: skip
MOVE_COLUMNS = ["account_id", "name", "kind", "before", "after", "why", "reason"]


@dataclass(frozen=True)
class Changes:
    """``moves``: one row per account and kind ('size tier' / 'quadrant') that changed,
    with account_id, name, kind, before, after, why (the figures that moved it) and reason
    (the decision's reason in run B); the biggest accounts (by B's revenue) first."""

    run_a: str
    run_b: str
    key_list: Diff
    moves: pd.DataFrame

    def counts(self) -> dict[str, int]:
        c = self.key_list.changes["change"].value_counts() if len(self.key_list.changes) else {}
        kinds = self.moves["kind"].value_counts() if len(self.moves) else {}
        return {
            "entered": int(c.get("entered", 0)),
            "left": int(c.get("left", 0)),
            "tier_moves": int(kinds.get("size tier", 0)),
            "quadrant_moves": int(kinds.get("quadrant", 0)),
        }


def changes(run_a: runs.Run, run_b: runs.Run) -> Changes:
    """The changes from run A (older) to run B."""
    return Changes(run_a.id, run_b.id, diff_runs(run_a, run_b), moves(run_a, run_b))


def moves(run_a: runs.Run, run_b: runs.Run) -> pd.DataFrame:
    """Accounts selectable in both runs whose size tier or quadrant differs."""
    a, b = _frame(run_a), _frame(run_b)
    m = a.merge(b, on="account_id", suffixes=("_a", "_b"))
    parts = []
    kinds = (("size tier", "size_tier", _tier_why), ("quadrant", "quadrant", _quadrant_why))
    for kind, col, why in kinds:
        before, after = m[f"{col}_a"], m[f"{col}_b"]
        moved = (before != after) & before.notna() & after.notna()
        sub = m[moved.to_numpy()]
        parts.append(
            pd.DataFrame(
                {
                    "account_id": sub["account_id"],
                    "name": sub["name_b"].fillna(sub["name_a"]),
                    "kind": kind,
                    "before": sub[f"{col}_a"],
                    "after": sub[f"{col}_b"],
                    "why": why(sub),
                    "reason": sub["reasons_b"],
                    "_order": sub["revenue_b"],
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_order", "account_id", "kind"], ascending=[False, True, True])
    return out[MOVE_COLUMNS].reset_index(drop=True)


def _frame(run: runs.Run) -> pd.DataFrame:
    df = run.portfolio(_COLS)
    if "selectable" in df.columns:
        df = df[df["selectable"].fillna(False).astype(bool)]
    for col in _COLS:
        if col not in df.columns:
            df[col] = np.nan
    df = df.drop(columns=["selectable"])
    for col in ("name", "size_tier", "quadrant", "reasons", "size_basis"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def _tier_why(m: pd.DataFrame) -> list[str]:
    """The size basis (the policy's: revenue or contribution margin) before and after,
    e.g. 'contribution_margin 120,000 → 95,000'."""
    out = []
    for row in m.itertuples(index=False):
        basis_a, basis_b = row.size_basis_a, row.size_basis_b
        if basis_a != basis_b:
            out.append(f"the size basis changed from {basis_a} to {basis_b}")
            continue
        basis = str(basis_b or "revenue")
        before, after = getattr(row, f"{basis}_a", None), getattr(row, f"{basis}_b", None)
        out.append(f"{basis} {_n(before)} → {_n(after)}")
    return out


def _quadrant_why(m: pd.DataFrame) -> list[str]:
    return [
        f"attractiveness {_n(aa, 1)} → {_n(ab, 1)}, strength {_n(sa, 1)} → {_n(sb, 1)}"
        for aa, ab, sa, sb in zip(
            m["attractiveness_a"],
            m["attractiveness_b"],
            m["strength_a"],
            m["strength_b"],
            strict=True,
        )
    ]


def _n(x: object, digits: int = 0) -> str:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if not np.isfinite(v) else f"{v:,.{digits}f}"

"""Why one account is or is not key in a finished run: its portfolio row, its criterion
contributions and the run's bar (``portfolio.parquet``, ``contributions.parquet`` and
``selection.json``); ``to_dict`` gives JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from keyfolio import runs
from keyfolio.errors import KeyfolioError

_SHOW = (
    "name", "quadrant", "strategy", "growth_band", "strategic_band", "size_tier",
    "hours_needed", "attractiveness", "strength", "is_key", "decision", "was_key", "p_key",
    "contested", "assessors_disagree", "not_assessed", "rules", "override", "reasons", "flip",
)  # fmt: skip


@dataclass
class Explanation:
    account_id: str
    account: dict[str, Any]  # the portfolio row (selected columns)
    contributions: pd.DataFrame  # this account's rows of contributions.parquet
    selection: dict[str, Any]  # the run's selection.json

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "account_id": self.account_id,
                "account": self.account,
                "contributions": self.contributions.to_dict(orient="records"),
                "selection": {k: self.selection.get(k) for k in _SEL_KEYS},
            }
        )


_SEL_KEYS = ("objective", "bar", "keep_margin", "last_in", "first_out", "margin", "capacity",
             "limited_by", "min_attractiveness")  # fmt: skip


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    return x


def explain_account(run: runs.Run, account_id: str) -> Explanation:
    """Why ``account_id`` is or is not key in ``run``."""
    row = run.table(runs.PORTFOLIO, filters=[("account_id", "=", str(account_id))])
    if row is None:
        raise KeyfolioError(f"{run.dir}: no {runs.PORTFOLIO} in this run")
    if row.empty:  # only then every id (the row alone is read from the file: 1M accounts)
        ids = run.portfolio(["account_id"])["account_id"]
        close = [a for a in ids if str(account_id).lower() in a.lower()][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise KeyfolioError(f"account {account_id!r} is not in run {run.id}{hint}")
    rec = row.iloc[0]
    sel = run.document(runs.SELECTION) or {}
    objective = sel.get("objective", "attractiveness")
    cols = [c for c in (*_SHOW, objective) if c in rec.index]
    account = {c: rec[c] for c in dict.fromkeys(cols)}
    contrib = run.table(runs.CONTRIBUTIONS, filters=[("account_id", "=", str(account_id))])
    contrib = pd.DataFrame() if contrib is None else contrib.reset_index(drop=True)
    return Explanation(str(account_id), _clean(account), contrib, sel)

"""The dashboard: the latest run at a glance."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from keyfolio.analysis.summary import Summary, records
from keyfolio.web.schemas.users import UserOut


class TierOut(BaseModel):
    size_tier: str
    accounts: int
    revenue: float
    contribution_margin: float
    cost_to_serve: float
    net_contribution: float
    cm_pct: float | None
    net_pct: float | None


class AccountOut(BaseModel):
    account_id: str
    name: str | None
    size_tier: str | None
    revenue: float | None
    cm_pct: float | None
    cost_to_serve: float | None
    net_contribution: float | None
    revenue_growth: float | None
    revenue_cagr: float | None


class RunSummary(BaseModel):
    run_id: str
    started: str | None
    currency: str
    accounts: int
    accounts_with_orders: int
    losing_count: int
    losing_share: float
    tiers: list[TierOut]
    destroyers: list[AccountOut]
    diamonds: list[AccountOut]

    @classmethod
    def of(cls, run_id: str, started: str | None, s: Summary) -> RunSummary:
        return cls(
            run_id=run_id,
            started=started,
            currency=s.currency,
            accounts=s.accounts,
            accounts_with_orders=s.accounts_with_orders,
            losing_count=s.losing_count,
            losing_share=s.losing_share,
            tiers=[TierOut(**_clean(r)) for r in records(s.tiers)],
            destroyers=[AccountOut(**_clean(r)) for r in records(s.destroyers)],
            diamonds=[AccountOut(**_clean(r)) for r in records(s.diamonds)],
        )


class Dashboard(BaseModel):
    user: UserOut
    run: RunSummary | None  # None: no run yet


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """NaN and pandas' missing values as None; ids and names as text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[key] = None
        elif key in ("account_id", "name", "size_tier"):
            out[key] = str(value)
        else:
            try:
                out[key] = None if value != value else value  # pd.NA, NaT
            except TypeError:
                out[key] = None
    return out

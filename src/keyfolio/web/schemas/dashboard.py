"""The dashboard: the latest run at a glance."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from keyfolio.analysis.glance import Glance
from keyfolio.analysis.summary import Summary, records
from keyfolio.web.schemas.runs import DiffOut
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


class CapacityOut(BaseModel):
    name: str
    used: float
    available: float | None
    share: float | None  # used / available


class GlanceOut(BaseModel):
    """The cards: selectable accounts (a group's members counted in their group)."""

    accounts: int
    tiers: dict[str, int]  # size tier -> accounts
    key_accounts: int
    capacity: list[CapacityOut]
    accounts_with_orders: int
    losing_count: int
    losing_share: float | None  # of the accounts with orders
    net_total: float
    key_net: float
    key_profit_share: float | None  # key accounts' share of net contribution (None: total <= 0)

    @classmethod
    def of(cls, g: Glance) -> GlanceOut:
        return cls(
            accounts=g.accounts, tiers=g.tiers, key_accounts=g.key_accounts,
            capacity=[CapacityOut(name=c.name, used=c.used, available=c.available,
                                  share=c.share) for c in g.capacity],
            accounts_with_orders=g.accounts_with_orders, losing_count=g.losing_count,
            losing_share=g.losing_share, net_total=g.net_total, key_net=g.key_net,
            key_profit_share=g.key_profit_share,
        )  # fmt: skip


class MatrixPointOut(BaseModel):
    account_id: str
    name: str | None
    strength: float
    attractiveness: float
    size: float | None
    decision: str
    quadrant: str | None


class MatrixOut(BaseModel):
    """The plotted accounts: every key account and a fixed sample of the others."""

    accounts: int  # accounts with both scores
    left_out: int  # not plotted
    attractiveness_cut: float
    strength_cut: float
    size_label: str
    points: list[MatrixPointOut]


class WhaleOut(BaseModel):
    """Cumulative net contribution, accounts from most to least profitable (downsampled)."""

    share_of_accounts: list[float | None]
    cum_net_contribution: list[float | None]
    peak_share: float
    peak_net: float
    total: float


class MoveOut(BaseModel):
    account_id: str
    name: str | None
    kind: str  # size tier, quadrant
    before: str
    after: str
    why: str
    reason: str | None  # the decision's reason in the newer run

    @classmethod
    def of(cls, row: dict[str, Any]) -> MoveOut:
        def text(key: str) -> str | None:
            return None if row.get(key) is None else str(row[key])

        return cls(
            account_id=str(row["account_id"]), name=text("name"), kind=str(row["kind"]),
            before=str(row["before"]), after=str(row["after"]), why=str(row["why"]),
            reason=text("reason"),
        )  # fmt: skip


class ChangesOut(BaseModel):
    previous_run: str
    counts: dict[str, int]  # entered, left, tier_moves, quadrant_moves (all, not only shown)
    key_list: DiffOut
    moves: list[MoveOut]  # the biggest accounts first, at most MAX_SHOWN


class Dashboard(BaseModel):
    user: UserOut
    run: RunSummary | None  # None: no run yet
    glance: GlanceOut | None = None
    matrix: MatrixOut | None = None  # None: the run has no scores
    whale: WhaleOut | None = None
    changes: ChangesOut | None = None  # None: a first run


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

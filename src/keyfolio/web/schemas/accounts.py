"""The accounts page (the portfolio, filtered, sorted and paged) and the account page."""

from __future__ import annotations

import math
from typing import Any, Self

from pydantic import BaseModel

from keyfolio.analysis.accounts import AccountPage, AccountQuery, Facets
from keyfolio.analysis.history import Decision


def clean(value: Any) -> Any:
    """JSON-safe: NaN / infinities / pandas' missing values as None, numpy scalars as
    Python."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if value != value:  # pd.NA, NaT
            return None
    except TypeError:
        return None
    return value


def cleaned(row: dict[str, Any]) -> dict[str, Any]:
    return {k: clean(v) for k, v in row.items()}


# -- the accounts page --------------------------------------------------------------------
class AccountRow(BaseModel):
    """One account of the view (the columns of keyfolio.analysis.accounts.VIEW_COLUMNS;
    null when the run has no such column)."""

    account_id: str
    name: str | None
    owner: str | None
    country: str | None
    size_tier: str | None
    quadrant: str | None
    attractiveness: float | None
    strength: float | None
    revenue: float | None
    contribution_margin: float | None
    cost_to_serve: float | None
    net_contribution: float | None
    clv: float | None
    roci: float | None
    is_key: bool | None
    was_key: bool | None
    decision: str | None
    reasons: str | None


class FacetsOut(BaseModel):
    """The filters' values; null: the run has no such column (the filter is not offered)."""

    tiers: list[str] | None
    quadrants: list[str] | None
    owners: list[str] | None
    countries: list[str] | None
    decisions: dict[str, str]  # filter value -> label

    @classmethod
    def of(cls, f: Facets) -> FacetsOut:
        return cls(tiers=f.tiers, quadrants=f.quadrants, owners=f.owners,
                   countries=f.countries, decisions=f.decisions)  # fmt: skip


class QueryOut(BaseModel):
    """The view asked for (echoed: the page's links and form are built from it)."""

    tier: str | None = None
    quadrant: str | None = None
    decision: str | None = None
    owner: str | None = None
    country: str | None = None
    q: str | None = None  # the text search
    sort: str | None = None
    direction: str = "desc"
    page_size: int = 50

    @classmethod
    def of(cls, q: AccountQuery, sort: str) -> QueryOut:
        return cls(tier=q.tier, quadrant=q.quadrant, decision=q.decision, owner=q.owner,
                   country=q.country, q=q.search, sort=sort, direction=q.direction,
                   page_size=q.page_size)  # fmt: skip

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view with ``changes`` (empty values left out)."""
        out = self.model_dump()
        out.update(changes)
        return {k: v for k, v in out.items() if v not in (None, "")}


class AccountsPage(BaseModel):
    run_id: str | None  # None: no run yet (then no rows)
    currency: str
    rows: list[AccountRow]
    total: int
    page: int
    pages: int
    query: QueryOut
    sortable: list[str]
    facets: FacetsOut | None

    @classmethod
    def of(
        cls, run_id: str, currency: str, p: AccountPage, q: AccountQuery, sortable: list[str],
        facets: Facets,
    ) -> AccountsPage:  # fmt: skip
        return cls(
            run_id=run_id, currency=currency,
            rows=[AccountRow(**cleaned(r)) for r in p.rows], total=p.total, page=p.page,
            pages=p.pages, query=QueryOut.of(q, p.sort), sortable=sortable,
            facets=FacetsOut.of(facets),
        )  # fmt: skip


# -- the account page ---------------------------------------------------------------------
class Picked(BaseModel):
    """A model whose fields are picked by name from a row (missing: None)."""

    @classmethod
    def of(cls, row: dict[str, Any]) -> Self:
        return cls(**{f: clean(row.get(f)) for f in cls.model_fields})


class Economics(Picked):
    revenue: float | None
    contribution_margin: float | None
    cm_pct: float | None
    cost_to_serve: float | None
    net_contribution: float | None
    net_pct: float | None


class Value(Picked):
    """Customer lifetime value, return on customer investment and potential."""

    clv: float | None
    clv_method: str | None
    clv_reason: str | None
    p_alive: float | None
    roci: float | None
    value_generated: float | None
    investment: float | None
    profit_potential: float | None
    headroom: float | None
    share_of_wallet: float | None
    wallet_total_spend: float | None


class Profile(Picked):
    owner: str | None
    country: str | None
    region: str | None
    industry: str | None
    size_tier: str | None
    quadrant: str | None
    strategy: str | None


class YearOut(Picked):
    year: int
    revenue: float | None
    margin: float | None


class ActivityOut(Picked):
    activity: str
    amount: float | None


class Contribution(Picked):
    group: str
    criterion: str
    source: str | None
    raw_text: str | None
    missing: str | None
    score: float | None
    weight: float | None
    contribution: float | None
    n_assessors: int | None
    sd: float | None


EXPLAINED = ("is_key", "decision", "was_key", "attractiveness", "strength", "reasons", "flip",
             "rules", "override", "p_key", "contested", "growth_band",
             "strategic_band")  # fmt: skip


class Explanation(BaseModel):
    """Why the account is or is not key (keyfolio.analysis.explain)."""

    is_key: bool | None
    decision: str | None
    was_key: bool | None
    attractiveness: float | None
    strength: float | None
    reasons: str | None
    flip: str | None  # what would flip the decision
    rules: str | None
    override: str | None
    p_key: float | None
    contested: bool | None
    growth_band: str | None
    strategic_band: str | None
    contributions: list[Contribution]
    selection: dict[str, Any]  # the run's bar: objective, bar, last_in, first_out, ...


class DecisionOut(BaseModel):
    run_id: str
    started: str | None
    in_run: bool
    is_key: bool | None
    decision: str | None
    size_tier: str | None
    quadrant: str | None
    attractiveness: float | None
    strength: float | None
    reasons: str | None

    @classmethod
    def of(cls, d: Decision) -> DecisionOut:
        return cls(**cleaned(d.__dict__))


class AccountDetail(BaseModel):
    run_id: str
    currency: str
    account_id: str
    name: str | None
    profile: Profile
    economics: Economics
    value: Value
    trend: list[YearOut]
    cost_to_serve: list[ActivityOut]
    explanation: Explanation
    history: list[DecisionOut]

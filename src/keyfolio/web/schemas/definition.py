"""The definition editor: the policy as a form, the live what-if, policy versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from keyfolio.analysis.versions import VersionDiff
from keyfolio.analysis.whatif import Move, WhatIf
from keyfolio.db.policies import PolicyState, PolicyVersion
from keyfolio.policy import Policy


class CriterionField(BaseModel):
    group: str
    index: int
    name: str
    source: str
    weight: float
    scale: str
    description: str


class PolicyFields(BaseModel):
    """The keys the form edits (the rest is edited as TOML)."""

    criteria: list[CriterionField]
    attractiveness_cut: float
    strength_cut: float
    objective: str
    capacity_hours: float | None
    max_key_accounts: int | None
    min_attractiveness: float | None
    keep_margin: float
    must: list[str]
    never: list[str]

    @classmethod
    def of(cls, p: Policy) -> PolicyFields:
        crits = [
            CriterionField(
                group=g,
                index=i,
                name=c.name,
                source=c.source,
                weight=c.weight,
                scale=c.scale,
                description=c.description,
            )  # fmt: skip
            for g in ("attractiveness", "strength")
            for i, c in enumerate(getattr(p, g))
        ]
        s = p.selection
        return cls(
            criteria=crits, attractiveness_cut=p.matrix.attractiveness_cut,
            strength_cut=p.matrix.strength_cut, objective=s.objective,
            capacity_hours=s.capacity_hours, max_key_accounts=s.max_key_accounts,
            min_attractiveness=s.min_attractiveness, keep_margin=s.keep_margin,
            must=list(s.must), never=list(s.never),
        )  # fmt: skip


class VersionOut(BaseModel):
    number: int
    sha256: str
    who: str
    created_at: datetime
    note: str

    @classmethod
    def of(cls, v: PolicyVersion) -> VersionOut:
        return cls(
            number=v.number, sha256=v.sha256, who=v.who, created_at=v.created_at, note=v.note
        )


class VersionDetail(VersionOut):
    text: str

    @classmethod
    def full(cls, v: PolicyVersion) -> VersionDetail:
        return cls(**VersionOut.of(v).model_dump(), text=v.text)


class DefinitionPage(BaseModel):
    """The editor: keyfolio.toml now, its form, the newest version (the one to pass back as
    ``expected_version``) and whether the file was edited outside the app."""

    text: str
    fields: PolicyFields | None  # None: the file does not parse (error says why)
    error: str | None
    version: int
    newest: VersionOut | None
    edited_outside: bool
    run_id: str | None  # the run the what-if works on
    saved: VersionOut | None = None  # just saved (offer to start a run with it)

    @classmethod
    def of(
        cls, state: PolicyState, policy: Policy | None, error: str | None, run_id: str | None
    ) -> DefinitionPage:
        newest = None if state.newest is None else VersionOut.of(state.newest)
        return cls(
            text=state.text, fields=None if policy is None else PolicyFields.of(policy),
            error=error, version=state.version, newest=newest,
            edited_outside=state.edited_outside, run_id=run_id,
        )  # fmt: skip


class MoveOut(BaseModel):
    account_id: str
    name: str
    direction: str
    decision: str
    quadrant_before: str
    quadrant: str
    attractiveness_before: float
    attractiveness: float
    reason: str
    reason_before: str

    @classmethod
    def of(cls, m: Move) -> MoveOut:
        return cls(**{k: getattr(m, k) for k in cls.model_fields})


class CapacityOut(BaseModel):
    used: float
    available: float
    slack: float
    binding: bool


class WhatIfOut(BaseModel):
    """The edited policy on the latest run: nothing is saved."""

    run_id: str
    candidates: int
    key_before: int
    key: int
    quadrants_before: dict[str, int]
    quadrants: dict[str, int]
    key_by_quadrant: dict[str, int]
    key_by_tier_before: dict[str, int]
    key_by_tier: dict[str, int]
    n_entering: int
    n_leaving: int
    entering: list[MoveOut]
    leaving: list[MoveOut]
    capacity: dict[str, CapacityOut]
    limited_by: str
    bar: float | None
    warnings: list[str]
    text: str  # the policy text evaluated (the form's fields applied)

    @classmethod
    def of(cls, w: WhatIf, text: str) -> WhatIfOut:
        return cls(
            run_id=w.run_id, candidates=w.candidates, key_before=w.key_before, key=w.key,
            quadrants_before=w.quadrants_before, quadrants=w.quadrants,
            key_by_quadrant=w.key_by_quadrant, key_by_tier_before=w.key_by_tier_before,
            key_by_tier=w.key_by_tier, n_entering=w.n_entering, n_leaving=w.n_leaving,
            entering=[MoveOut.of(m) for m in w.entering],
            leaving=[MoveOut.of(m) for m in w.leaving],
            capacity={k: CapacityOut(**v) for k, v in w.capacity.items()},
            limited_by=w.limited_by, bar=w.bar, warnings=w.warnings, text=text,
        )  # fmt: skip


class Problem(BaseModel):
    """Bad input (422), a stale save (409), a missing version (404): what and why."""

    detail: str


class VersionsPage(BaseModel):
    versions: list[VersionOut]  # newest first
    current: int
    edited_outside: bool


class ChangeOut(BaseModel):
    section: str
    key: str
    before: Any
    after: Any


class MovedOut(BaseModel):
    account_id: str
    name: str
    key_in_a: bool
    key_in_b: bool
    quadrant_a: str
    quadrant_b: str


class DiffPage(BaseModel):
    a: int
    b: int
    changes: list[ChangeOut]
    run_id: str | None
    key_a: int
    key_b: int
    n_moved: int
    moved: list[MovedOut]

    @classmethod
    def of(cls, d: VersionDiff) -> DiffPage:
        return cls(
            a=d.a, b=d.b, run_id=d.run_id, key_a=d.key_a, key_b=d.key_b, n_moved=d.n_moved,
            changes=[ChangeOut(section=c.section, key=c.key, before=c.before, after=c.after)
                     for c in d.changes],
            moved=[MovedOut(**vars(m)) for m in d.moved],
        )  # fmt: skip

"""Choosing key accounts: a 0/1 knapsack with side constraints.

    maximise    sum_i v_i x_i                   (v = the policy's objective per candidate)
    subject to  sum_i h_i x_i <= C              (capacity_hours; h = hours of the size tier)
                sum_{i in g} h_i x_i <= C_g     (optional per region / owner caps)
                sum_i x_i <= K                  (max_key_accounts)
                x_i in {0, 1}

Forced accounts (overrides "in", must rules) are fixed outside and their hours and count are
taken off C, C_g and K before solving; forced-out accounts are not candidates.

:func:`solve` tries, in order: the exact dynamic programme over capacity units and the exact
enumeration of counts per hour class (:mod:`keyfolio.selection.exact`; no per-group caps),
then HiGHS (branch and bound, with the policy's time limit and relative gap) started from a
feasible greedy solution and never returning worse than it. Every solution is then made
canonical (:func:`canonical`): among accounts of the same hours (and group) the best values
are the ones chosen, and among equal values the candidates' ``rank`` decides (the caller's
tie-break: for the selection, incumbents first, then account id). So ties are broken the
same way in every run, whichever solver ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keyfolio.selection.exact import (
    DPPlan,
    NotApplicable,
    dp_counts,
    dp_many,
    dp_plan,
    greedy_many,
)


@dataclass
class Knapsack:
    value: np.ndarray  # (n,) objective of each free candidate
    hours: np.ndarray  # (n,) hours each needs
    capacity: float | None = None  # remaining total hours (None = unlimited)
    max_count: int | None = None  # remaining number of key accounts (None = unlimited)
    group: np.ndarray | None = None  # (n,) group label (capacity_by)
    group_capacity: dict[str, float] = field(default_factory=dict)  # remaining per group
    rank: np.ndarray | None = None  # (n,) tie-break among equal values: lower first

    @property
    def has_group_caps(self) -> bool:
        return self.group is not None and bool(self.group_capacity)

    def order(self) -> np.ndarray:
        """The candidates in tie-break order (rank, else their position)."""
        n = len(self.value)
        return np.arange(n) if self.rank is None else np.argsort(self.rank, kind="stable")


@dataclass
class Solution:
    chosen: np.ndarray  # (n,) bool
    objective: float
    status: str
    gap: float  # relative MIP gap (0 = proven optimal)
    solver: str
    seconds: float

    @property
    def optimal(self) -> bool:
        return self.status.startswith("Optimal")


def _fits(p: Knapsack) -> np.ndarray:
    """Candidates that could be chosen alone (positive value, fit the remaining caps)."""
    ok = np.asarray(p.value > 0)
    if p.capacity is not None:
        ok &= p.hours <= p.capacity + 1e-9
    if p.max_count is not None and p.max_count <= 0:
        ok[:] = False
    if p.group is not None:
        for g, cap in p.group_capacity.items():
            ok &= ~((p.group == g) & (p.hours > cap + 1e-9))
    return ok


def feasible(p: Knapsack, chosen: np.ndarray) -> bool:
    if p.capacity is not None and p.hours[chosen].sum() > p.capacity + 1e-9:
        return False
    if p.max_count is not None and int(chosen.sum()) > p.max_count:
        return False
    if p.group is not None:
        for g, cap in p.group_capacity.items():
            if p.hours[chosen & (p.group == g)].sum() > cap + 1e-9:
                return False
    return True


def canonical(p: Knapsack, chosen: np.ndarray) -> np.ndarray:
    """The same number of accounts per (hours, group) cell, the best values of each cell
    chosen, ties by rank: feasible whenever ``chosen`` is, never a lower objective."""
    out = np.zeros(len(chosen), dtype=bool)
    grp = p.group if p.has_group_caps else None
    order = p.order()
    key_h = p.hours[order]
    key_g = grp[order].astype(str) if grp is not None else np.zeros(len(order), dtype=str)
    for h in np.unique(key_h):
        for g in np.unique(key_g[key_h == h]):
            cell = order[(key_h == h) & (key_g == g)]
            k = int(chosen[cell].sum())
            if k:
                best = cell[np.argsort(-p.value[cell], kind="stable")[:k]]
                out[best] = True
    return out


def heuristic(p: Knapsack) -> np.ndarray:
    """A feasible solution: candidates by value per hour (then value, then rank), each taken
    while it fits every cap."""
    n = len(p.value)
    chosen = np.zeros(n, dtype=bool)
    cand = np.flatnonzero(_fits(p))
    if not len(cand):
        return chosen
    rank = np.empty(n, dtype=np.int64)
    rank[p.order()] = np.arange(n)
    density = p.value[cand] / np.maximum(p.hours[cand], 1e-12)
    order = cand[np.lexsort((rank[cand], -p.value[cand], -density))]
    cap = np.inf if p.capacity is None else p.capacity
    count = np.inf if p.max_count is None else p.max_count
    left = dict(p.group_capacity) if p.has_group_caps else {}
    for i in order:
        h = float(p.hours[i])
        g = None if p.group is None else str(p.group[i])
        if h > cap + 1e-9 or count < 1 or (g in left and h > left[g] + 1e-9):
            continue
        chosen[i] = True
        cap, count = cap - h, count - 1
        if g in left:
            left[g] -= h
    return chosen


def _new_highs() -> Any:
    """A quiet HiGHS instance. highspy's ``Highs`` (the Python subclass, which enables
    callbacks at construction) writes a banner on the C++ stdout before any option can be
    set, which would corrupt ``--json`` output; the core class it extends does not, and has
    every method used here."""
    import highspy

    hs = highspy._Highs()  # type: ignore[attr-defined]  # the core class, not in the stubs
    hs.setOptionValue("output_flag", False)
    return hs


def solve_mip(p: Knapsack, *, time_limit: float = 30.0, mip_rel_gap: float = 1e-4) -> Solution:
    """Solve the knapsack with HiGHS (up to ``mip_rel_gap``), started from
    :func:`heuristic`'s solution; the heuristic's solution when HiGHS finds nothing better
    within ``time_limit``."""
    import highspy

    t0 = time.perf_counter()
    n = len(p.value)
    chosen = np.zeros(n, dtype=bool)
    cand = np.flatnonzero(_fits(p))
    if len(cand) == 0:
        return Solution(chosen, 0.0, "Optimal (no candidate fits)", 0.0, "trivial", 0.0)
    v = p.value[cand].astype(float)
    h = p.hours[cand].astype(float)
    m = len(cand)
    rows: list[tuple[np.ndarray, np.ndarray, float]] = []
    if p.capacity is not None and h.sum() > p.capacity + 1e-9:
        rows.append((np.arange(m), h, float(p.capacity)))
    if p.max_count is not None and m > p.max_count:
        rows.append((np.arange(m), np.ones(m), float(p.max_count)))
    if p.group is not None:
        grp = p.group[cand]
        for g, cap in p.group_capacity.items():
            idx = np.flatnonzero(grp == g)
            if len(idx) and h[idx].sum() > cap + 1e-9:
                rows.append((idx, h[idx], float(cap)))
    if not rows:  # nothing binds: take every positive candidate
        chosen[cand] = True
        sec = time.perf_counter() - t0
        status = "Optimal (no constraint binds)"
        return Solution(chosen, float(v.sum()), status, 0.0, "trivial", sec)
    seed = heuristic(p)
    hs = _new_highs()
    hs.setOptionValue("time_limit", float(time_limit))
    hs.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    empty_i = np.zeros(0, dtype=np.int32)
    hs.addCols(m, v, np.zeros(m), np.ones(m), 0, empty_i, empty_i, np.zeros(0))
    starts = np.cumsum([0] + [len(r[0]) for r in rows[:-1]]).astype(np.int32)
    index = np.concatenate([r[0] for r in rows]).astype(np.int32)
    coef = np.concatenate([r[1] for r in rows]).astype(float)
    lower = np.full(len(rows), -highspy.kHighsInf)
    upper = np.array([r[2] for r in rows], dtype=float)
    hs.addRows(len(rows), lower, upper, len(index), starts, index, coef)
    hs.changeColsIntegrality(
        m, np.arange(m, dtype=np.int32), np.full(m, highspy.HighsVarType.kInteger)
    )
    hs.changeObjectiveSense(highspy.ObjSense.kMaximize)
    start = highspy.HighsSolution()
    start.col_value = seed[cand].astype(float).tolist()
    hs.setSolution(start)
    hs.run()
    status = hs.modelStatusToString(hs.getModelStatus())
    info = hs.getInfo()
    x = np.asarray(hs.getSolution().col_value)
    if len(x) == m:
        chosen[cand] = x > 0.5
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else float("nan")
    solver = "HiGHS MIP"
    if not feasible(p, chosen) or p.value[chosen].sum() < p.value[seed].sum() - 1e-9:
        chosen, solver = seed, "greedy by value per hour (HiGHS found nothing better)"
    sec = time.perf_counter() - t0
    return Solution(chosen, float(p.value[chosen].sum()), status, gap, solver, sec)


def solve_exact(p: Knapsack) -> Solution:
    """The exact programme or enumeration (no per-group caps); :class:`NotApplicable` when
    neither fits the instance."""
    if p.has_group_caps:
        raise NotApplicable("per-group capacity caps")
    t0 = time.perf_counter()
    n = len(p.value)
    cand = np.flatnonzero(_fits(p))
    chosen = np.zeros(n, dtype=bool)
    if len(cand) == 0:
        return Solution(chosen, 0.0, "Optimal (no candidate fits)", 0.0, "trivial", 0.0)
    cand = cand[np.argsort(p.order().argsort()[cand], kind="stable")]  # tie-break order
    values = p.value[cand].astype(float)[:, None]
    hours = p.hours[cand].astype(float)
    binding_count = p.max_count is not None and len(cand) > p.max_count
    if p.capacity is None or hours.sum() <= p.capacity + 1e-9:
        if not binding_count:  # nothing binds: take every positive candidate
            chosen[cand] = True
            return Solution(chosen, float(values.sum()), "Optimal (no constraint binds)", 0.0,
                            "trivial", time.perf_counter() - t0)  # fmt: skip
    try:
        if binding_count:
            raise NotApplicable("a count limit")
        assert p.capacity is not None
        pick = dp_many(values, hours, p.capacity)[:, 0]
        solver = "exact dynamic programme (capacity units)"
    except NotApplicable:
        pick = greedy_many(values, hours, p.capacity, p.max_count)[:, 0]
        solver = "exact greedy (tier prefix sums)"
    chosen[cand[pick]] = True
    sec = time.perf_counter() - t0
    return Solution(chosen, float(p.value[chosen].sum()), "Optimal", 0.0, solver, sec)


class Many:
    """Exact optima of one knapsack's constraints for many objective vectors (the robustness
    draws); ``p.value`` is ignored. What does not depend on the values (the programme's hour
    classes and their rows) is made once. :class:`NotApplicable` with per-group caps."""

    def __init__(self, p: Knapsack) -> None:
        if p.has_group_caps:
            raise NotApplicable("per-group capacity caps")
        self.p = p
        self.plan: DPPlan | None = None
        if p.capacity is not None and p.max_count is None:
            try:
                self.plan = dp_plan(p.hours, p.capacity)
            except NotApplicable:
                pass

    def chosen(self, values: np.ndarray) -> np.ndarray:
        """(n, D) bool: the optimum of each column of ``values``; :class:`NotApplicable`
        when no exact method fits."""
        p = self.p
        if self.plan is not None:
            assert p.capacity is not None
            return dp_many(values, p.hours, p.capacity, self.plan)
        return greedy_many(values, p.hours, p.capacity, p.max_count)

    def counts(self, values: np.ndarray) -> np.ndarray:
        """(n,): in how many columns of ``values`` each row is chosen."""
        if self.plan is not None:
            return dp_counts(values, self.plan)
        return self.chosen(values).sum(axis=1)


def many(p: Knapsack, values: np.ndarray) -> np.ndarray:
    """Exact optima for each column of ``values`` (n, D) (``p.value`` is ignored);
    :class:`NotApplicable` with per-group caps or when no exact method fits."""
    return Many(p).chosen(values)


def solve(p: Knapsack, *, time_limit: float = 30.0, mip_rel_gap: float = 1e-4) -> Solution:
    """The best solution this module can prove or find (see the module docstring), made
    canonical. HiGHS' presolve can stall on 100k near-identical knapsack columns, while the
    exact methods take seconds there."""
    try:
        sol = solve_exact(p)
    except NotApplicable:
        sol = solve_mip(p, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    sol.chosen = canonical(p, sol.chosen)
    sol.objective = float(p.value[sol.chosen].sum())
    return sol

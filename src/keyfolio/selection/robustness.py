"""Robustness of the key-account list: how often is each account selected when people's
weights and scores vary within reason?

For each of ``[robustness] draws`` draws (seeded, reproducible):

* the weights of the objective's criteria group are redrawn from
  ``Dirichlet(concentration * w)`` around the policy's normalised weights ``w`` (mean ``w``;
  a higher concentration keeps draws closer to the policy);
* every assessment score with several assessors is redrawn uniformly within the assessors'
  observed range (min..max of their scores, on the 0–100 scale);
* the objective is recomputed and the phase-1 selection of :mod:`keyfolio.selection.decide`
  is repeated: forced accounts (overrides, must rules, as in the run) stay in, forced-out ones
  stay out, the rest are chosen by the exact optimum.

``p_key`` = share of draws in which the account is selected (NaN for rows that are not
candidates, e.g. group members). Without per-group caps each draw is solved exactly by
:func:`keyfolio.selection.optimise.many` (per-tier sort, then a programme over capacity units
or an enumeration of the counts per tier), vectorised
over blocks of draws; with per-region/owner caps each draw is a HiGHS MIP (slower).
Hysteresis is not part of the draws: p_key measures the definition, not last run's list.
The objective must be ``attractiveness`` or ``strength`` for the draws to vary anything;
otherwise p_key is 1 for key accounts and 0 for the others, with a warning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from keyfolio.policy import RobustnessPolicy, SelectionPolicy
from keyfolio.scoring import Scores
from keyfolio.selection.exact import NotApplicable
from keyfolio.selection.optimise import Knapsack, Many, solve_mip

BLOCK_ELEMENTS = 4_000_000  # accounts x draws evaluated at once


@dataclass
class Robustness:
    p_key: np.ndarray
    contested: np.ndarray  # bool
    draws: int
    solver: str
    seconds: float
    warnings: list[str]


@dataclass
class _Objective:
    """What does not change between draws: the free rows' criterion scores (n, k) and, per
    criterion with assessors who differ, the rows that spread, their low end and width."""

    s: np.ndarray
    spread: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]  # (j, rows, lo, hi - lo)

    @classmethod
    def of(cls, scores: Scores, group: str, rows: np.ndarray) -> _Objective:
        crits = scores.group(group)
        s = np.column_stack([c.score[rows] for c in crits]) if crits else np.zeros((len(rows), 0))
        spread = []
        for j, c in enumerate(crits):
            if c.spread_lo is None or c.spread_hi is None:
                continue
            lo, hi = c.spread_lo[rows], c.spread_hi[rows]
            at = np.flatnonzero(hi - lo > 1e-12)
            if len(at):
                spread.append((j, at, lo[at], (hi - lo)[at]))
        return cls(s, spread)

    def values(self, w_draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Objective of the rows under each weight draw (n, D), with assessment scores
        redrawn within the assessors' spread (the generator's stream: one (rows, D) block
        of uniforms per spreading criterion, in policy order)."""
        vals = self.s @ w_draws
        for j, at, lo, width in self.spread:
            u = rng.random((len(at), w_draws.shape[1]))
            drawn = lo[:, None] + u * width[:, None]
            vals[at] += (drawn - self.s[at, j, None]) * w_draws[j][None, :]
        return vals


def robustness(
    scores: Scores,
    objective: str,
    *,
    free: np.ndarray,
    forced_in: np.ndarray,
    candidate: np.ndarray,
    is_key: np.ndarray,
    hours: np.ndarray,
    group: np.ndarray | None,
    remaining: Knapsack,
    sel: SelectionPolicy,
    rob: RobustnessPolicy,
) -> Robustness:
    """p_key per account. ``remaining`` carries the capacities left after the forced accounts
    (its value/hours are ignored); ``candidate`` marks rows that can be key at all."""
    t0 = time.perf_counter()
    n = len(free)
    p_key = np.where(candidate, 0.0, np.nan)
    p_key[forced_in] = 1.0
    warnings: list[str] = []
    lo_c, hi_c = rob.contested
    if rob.draws == 0 or objective not in ("attractiveness", "strength"):
        if rob.draws:
            warnings.append(
                f"robustness: objective {objective!r} does not depend on the criteria weights; "
                "p_key is 1 for key accounts and 0 for the others"
            )
        p_key = np.where(candidate, is_key.astype(float), np.nan)
        contested = np.zeros(n, dtype=bool)
        return Robustness(p_key, contested, 0, "none", time.perf_counter() - t0, warnings)
    rows = np.flatnonzero(free)
    w = scores.weights(objective)
    rng = np.random.default_rng(rob.seed)
    w_all = (
        rng.dirichlet(rob.concentration * w, size=rob.draws).T
        if len(w) > 1
        else np.ones((len(w), rob.draws))
    )
    counts = np.zeros(len(rows))
    base = Knapsack(
        value=np.zeros(len(rows)), hours=hours[rows].astype(float), capacity=remaining.capacity,
        max_count=remaining.max_count, group=None if group is None else group[rows],
        group_capacity=remaining.group_capacity,
    )  # fmt: skip
    obj = _Objective.of(scores, objective, rows)
    exact: Many | None = None
    if not (group is not None and remaining.group_capacity):
        exact = Many(base)  # the hour classes and their rows: once, not per block
    block = max(1, min(rob.draws, BLOCK_ELEMENTS // max(len(rows), 1)))
    solver = "exact (per-tier sort; programme over capacity units or count enumeration)"
    done = 0
    for start in range(0, rob.draws, block):
        if time.perf_counter() - t0 > rob.time_limit_s:
            warnings.append(
                f"robustness: stopped after {done:,} of {rob.draws:,} draws ([robustness] "
                f"time_limit_s = {rob.time_limit_s:g}); p_key is the share of those draws"
            )
            break
        wd = w_all[:, start : start + block]
        done += wd.shape[1]
        vals = obj.values(wd, rng)
        if sel.value == "per_hour":
            vals *= base.hours[:, None]
        if exact is not None:
            try:
                counts += exact.counts(vals)
                continue
            except NotApplicable:
                exact = None
        solver = "HiGHS MIP per draw"
        for d in range(vals.shape[1]):
            k = Knapsack(vals[:, d], base.hours, base.capacity, base.max_count, base.group,
                         base.group_capacity)  # fmt: skip
            counts += solve_mip(k, time_limit=sel.time_limit_s, mip_rel_gap=sel.mip_rel_gap).chosen
    p_key[rows] = counts / max(done, 1)
    contested = candidate & (p_key >= lo_c) & (p_key <= hi_c)
    contested &= ~forced_in
    return Robustness(p_key, contested, done, solver, time.perf_counter() - t0, warnings)

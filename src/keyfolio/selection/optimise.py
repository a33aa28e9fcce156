"""Choosing key accounts: a 0/1 knapsack with side constraints.

    maximise    sum_i v_i x_i                   (v = the policy's objective per candidate)
    subject to  sum_i h_i x_i <= C              (capacity_hours; h = hours of the size tier)
                sum_{i in g} h_i x_i <= C_g     (optional per region / owner caps)
                sum_i x_i <= K                  (max_key_accounts)
                x_i in {0, 1}

Forced accounts (overrides "in", must rules) are fixed outside and their hours and count are
taken off C, C_g and K before solving; forced-out accounts are not candidates.

Two exact solvers:

* :func:`solve_mip` — HiGHS through highspy (branch and bound) with the policy's time limit
  and relative gap; reports status and the proven gap. Used for the run's selection when
  there are per-region/owner caps (:func:`solve` picks the solver).
* :func:`greedy_many` — exact when there are no per-group caps: accounts of the same hour
  class (size tier) are interchangeable for the constraints, so an optimum takes the best
  ``k_c`` of each class; enumerate the counts of every class but the last (largest hours
  first) and pick the best feasible prefix of the last with a running maximum of its prefix
  sums. Vectorised over many objective vectors at once (the robustness draws); used for the
  run's selection too when it applies (proven optimal, gap 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np

GRID_LIMIT = 4_000_000  # max count combinations the greedy enumerates per draw


@dataclass
class Knapsack:
    value: np.ndarray  # (n,) objective of each free candidate
    hours: np.ndarray  # (n,) hours each needs
    capacity: float | None = None  # remaining total hours (None = unlimited)
    max_count: int | None = None  # remaining number of key accounts (None = unlimited)
    group: np.ndarray | None = None  # (n,) group label (capacity_by)
    group_capacity: dict[str, float] = field(default_factory=dict)  # remaining per group


@dataclass
class Solution:
    chosen: np.ndarray  # (n,) bool
    objective: float
    status: str
    gap: float  # relative MIP gap (0 = proven optimal)
    solver: str
    seconds: float


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
    """Solve the knapsack exactly (up to ``mip_rel_gap``) with HiGHS."""
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
    hs.run()
    status = hs.modelStatusToString(hs.getModelStatus())
    info = hs.getInfo()
    x = np.asarray(hs.getSolution().col_value)
    if len(x) == m:
        chosen[cand] = x > 0.5
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else float("nan")
    sec = time.perf_counter() - t0
    return Solution(chosen, float(p.value[chosen].sum()), status, gap, "HiGHS MIP", sec)


class GreedyNotApplicable(Exception):
    """The instance has per-group caps or too many count combinations for the greedy."""


def _class_bound(n_c: int, h_c: float, p: Knapsack) -> int:
    b = n_c
    if p.capacity is not None and h_c > 0:
        b = min(b, int(np.floor(p.capacity / h_c + 1e-9)))
    if p.max_count is not None:
        b = min(b, p.max_count)
    return max(b, 0)


def greedy_many(p: Knapsack, values: np.ndarray) -> np.ndarray:
    """Exact optimum for each column of ``values`` (n, D); returns chosen (n, D) bool.

    ``p.value`` is ignored (``values`` replaces it); per-group caps are not supported.
    """
    if p.group is not None and p.group_capacity:
        raise GreedyNotApplicable("per-group capacity caps")
    n, d = values.shape
    chosen = np.zeros((n, d), dtype=bool)
    hours = p.hours if p.capacity is not None else np.zeros(n)
    if (p.max_count is not None and p.max_count <= 0) or n == 0:
        return chosen
    classes = sorted(np.unique(hours), reverse=True)  # largest hours first, smallest last
    parts = []  # per class: indices (B,D) into the candidates (sorted desc), prefix (B+1,D)
    for h_c in classes:
        idx = np.flatnonzero(hours == h_c)
        b = _class_bound(len(idx), float(h_c), p)
        vc = values[idx]
        if b == 0:
            parts.append((h_c, np.zeros((0, d), dtype=np.int64), np.zeros((1, d))))
            continue
        if b < len(idx):
            top = np.argpartition(-vc, b - 1, axis=0)[:b]
        else:
            top = np.broadcast_to(np.arange(len(idx))[:, None], (len(idx), d))
        tv = np.take_along_axis(vc, top, axis=0)
        order = np.argsort(-tv, axis=0, kind="stable")
        top = np.take_along_axis(top, order, axis=0)
        tv = np.take_along_axis(tv, order, axis=0)
        prefix = np.vstack([np.zeros((1, d)), np.cumsum(tv, axis=0)])
        parts.append((h_c, idx[top], prefix))
    grid_sizes = [len(pr) for _, _, pr in parts[:-1]]
    if int(np.prod(grid_sizes, dtype=np.float64)) > GRID_LIMIT:
        raise GreedyNotApplicable("too many count combinations")
    grid = np.array(list(product(*[range(s) for s in grid_sizes])), dtype=np.int64)
    grid = grid.reshape(len(grid), len(parts) - 1)
    h_used = grid @ np.array([h for h, _, _ in parts[:-1]], dtype=float)
    c_used = grid.sum(axis=1)
    cap = np.inf if p.capacity is None else p.capacity
    kmax = np.inf if p.max_count is None else p.max_count
    ok = (h_used <= cap + 1e-9) & (c_used <= kmax)
    grid, h_used, c_used = grid[ok], h_used[ok], c_used[ok]
    h_last, _, pref_last = parts[-1]
    b_last = len(pref_last) - 1
    k_last = np.full(len(grid), b_last, dtype=np.int64)
    if h_last > 0 and np.isfinite(cap):
        k_last = np.minimum(k_last, np.floor((cap - h_used) / h_last + 1e-9).astype(np.int64))
    if np.isfinite(kmax):
        k_last = np.minimum(k_last, (kmax - c_used).astype(np.int64))
    runmax = np.maximum.accumulate(pref_last, axis=0)  # best prefix of length <= k
    arg_last = _running_argmax(pref_last)
    total = runmax[k_last]  # (G, D)
    for j, (_, _, pref) in enumerate(parts[:-1]):
        total = total + pref[grid[:, j]]
    best = np.argmax(total, axis=0)  # (D,)
    cols = np.arange(d)
    counts = [grid[best, j] for j in range(len(parts) - 1)]
    counts.append(arg_last[k_last[best], cols])
    for (_, top_idx, _), k in zip(parts, counts, strict=True):
        if len(top_idx) == 0:
            continue
        sel = np.arange(len(top_idx))[:, None] < k[None, :]
        rr, cc = np.nonzero(sel)
        chosen[top_idx[rr, cc], cc] = True
    return chosen


def _running_argmax(prefix: np.ndarray) -> np.ndarray:
    """For each k and column: the length <= k of the best prefix (first on ties)."""
    b1, d = prefix.shape
    out = np.zeros((b1, d), dtype=np.int64)
    best = prefix[0].copy()
    for k in range(1, b1):
        better = prefix[k] > best
        best = np.where(better, prefix[k], best)
        out[k] = np.where(better, k, out[k - 1])
    return out


def solve(p: Knapsack, *, time_limit: float = 30.0, mip_rel_gap: float = 1e-4) -> Solution:
    """The exact greedy when it applies (no per-group caps), else HiGHS. HiGHS' presolve can
    stall on 100k near-identical knapsack columns (measured: no incumbent after 180 s at 100k),
    while the greedy is exact and takes well under a second there."""
    if p.group is None or not p.group_capacity:
        try:
            return solve_greedy(p)
        except GreedyNotApplicable:
            pass
    return solve_mip(p, time_limit=time_limit, mip_rel_gap=mip_rel_gap)


def solve_greedy(p: Knapsack) -> Solution:
    t0 = time.perf_counter()
    chosen = greedy_many(p, p.value.astype(float)[:, None])[:, 0]
    sec = time.perf_counter() - t0
    return Solution(
        chosen, float(p.value[chosen].sum()), "Optimal", 0.0, "exact greedy (tier prefix sums)", sec
    )

"""Exact solvers of the key-account knapsack when there are no per-group caps.

Accounts of the same hour class (size tier) are interchangeable for the constraints, so an
optimum takes the best ``k_c`` accounts of each class ``c`` (the best by value; among equal
values the first in the candidates' order, which the caller makes the tie-break order).
What remains is choosing the counts ``k_c``:

* :func:`dp_many` — a dynamic programme over the capacity in units of the hours' greatest
  common divisor (50 h for 400 / 250 / 150 h): ``best[c] = max_k best'[c - k u] + P[k]``
  class by class, with ``P`` the prefix sums of the class's sorted values. Exact for any
  number of candidates; its cost is capacity units x accounts that fit, so it is used where
  that product is moderate (``DP_LIMIT``). No count limit (``max_key_accounts``).
* :func:`greedy_many` — enumerates the counts of every class but the last (largest hours
  first) and takes the best feasible prefix of the last with a running maximum of its
  prefix sums; handles a count limit. Used where the grid of counts is small (``GRID_LIMIT``).

Both are vectorised over many objective vectors at once (the robustness draws): ``values``
is (n, D) and so is the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from itertools import product

import numpy as np

GRID_LIMIT = 4_000_000  # max count combinations the greedy enumerates per draw
DP_LIMIT = 400_000_000  # max (capacity units x accounts) x draws the DP evaluates


class NotApplicable(Exception):
    """This exact method does not apply to the instance (caps, counts or size)."""


def top_stable(values: np.ndarray, b: int) -> np.ndarray:
    """The positions of the ``b`` largest values of each column of ``values`` (m, D), best
    first, ties in position order: the same as ``np.argsort(-values, axis=0,
    kind="stable")[:b]``, but a partition (linear) and a sort of the ``b`` chosen instead of
    a sort of all ``m`` rows (a draw picks a few thousand key accounts out of a million).
    NaN values (which the sort puts last) take the full sort."""
    m, d = values.shape
    if b >= m or b == 0 or np.isnan(values).any():
        return np.argsort(-values, axis=0, kind="stable")[:b]
    vt = np.ascontiguousarray(values.T)  # (D, m): one draw per row, contiguous
    t = np.partition(vt, m - b, axis=1)[:, m - b, None]  # the b-th largest of each draw
    take = vt >= t  # all above the threshold and every tie at it
    over = np.flatnonzero(take.sum(axis=1) > b)  # draws with more ties than places left
    if len(over):
        eq = vt[over] == t[over]
        room = b - (vt[over] > t[over]).sum(axis=1)
        take[over] &= ~eq | (np.cumsum(eq, axis=1) <= room[:, None])  # the first ties only
    cols = np.nonzero(take)[1].reshape(d, b)  # per draw, in position order
    best = np.argsort(-np.take_along_axis(vt, cols, axis=1), axis=1, kind="stable")
    return np.take_along_axis(cols, best, axis=1).T


def _sorted_class(values: np.ndarray, idx: np.ndarray, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``b`` of the rows ``idx`` per column, best first (stable: ties keep the
    candidates' order): their indices (b, D) and the prefix sums (b + 1, D)."""
    d = values.shape[1]
    if b == 0:
        return np.zeros((0, d), dtype=np.int64), np.zeros((1, d))
    sub = values[idx]
    order = top_stable(sub, b)
    top = idx[order]
    tv = np.take_along_axis(sub, order, axis=0)
    return top, np.vstack([np.zeros((1, d)), np.cumsum(tv, axis=0)])


def _choose(n: int, parts: list[np.ndarray], counts: list[np.ndarray]) -> np.ndarray:
    """The (n, D) choice: the first ``counts[c][j]`` rows of ``parts[c]`` in column j."""
    d = len(counts[0]) if counts else 0
    chosen = np.zeros((n, d), dtype=bool)
    for top, k in zip(parts, counts, strict=True):
        if len(top) == 0:
            continue
        rr, cc = np.nonzero(np.arange(len(top))[:, None] < k[None, :])
        chosen[top[rr, cc], cc] = True
    return chosen


def counted(n: int, parts: list[np.ndarray], counts: list[np.ndarray]) -> np.ndarray:
    """Per row, in how many columns :func:`_choose` would choose it."""
    out = np.zeros(n, dtype=np.int64)
    for top, k in zip(parts, counts, strict=True):
        if len(top):
            rr, cc = np.nonzero(np.arange(len(top))[:, None] < k[None, :])
            out += np.bincount(top[rr, cc], minlength=n)
    return out


# -- dynamic programme over capacity units --------------------------------------------------
def capacity_units(hours: np.ndarray, capacity: float) -> tuple[np.ndarray, int] | None:
    """Hours and capacity in units of the hours' greatest common divisor (hours that are
    fractions with a denominator up to 100, e.g. 2.5 or 1/3); None when they are not, or
    when the capacity in units is not a finite number."""
    uniq, inverse = np.unique(hours, return_inverse=True)
    frac = [Fraction(float(h)).limit_denominator(100) for h in uniq]
    if any(abs(float(f) - float(h)) > 1e-9 for f, h in zip(frac, uniq, strict=True)):
        return None
    scale = math.lcm(*(f.denominator for f in frac)) if frac else 1
    ints = [int(f * scale) for f in frac]
    g = math.gcd(*ints) if any(ints) else 1
    units = np.array([i // g for i in ints], dtype=np.int64)[inverse.reshape(-1)]
    cap = capacity * scale / g + 1e-9
    if not math.isfinite(cap):  # beyond any programme (a capacity near 1.8e308 h)
        return None
    return units, int(math.floor(cap))


@dataclass(frozen=True)
class DPPlan:
    """What the programme needs besides the values, the same for every draw: the hour
    classes in capacity units (largest first), each class's rows and how many can fit."""

    n: int
    cap: int
    classes: list[int]
    rows: list[np.ndarray]
    bounds: list[int]
    step: int  # draws per programme evaluation (DP_LIMIT)


def dp_plan(hours: np.ndarray, capacity: float) -> DPPlan:
    """The programme's plan for ``hours`` and ``capacity``; :class:`NotApplicable` when the
    hours are not multiples of a common unit or the programme would be too large."""
    conv = capacity_units(hours, capacity)
    if conv is None:
        raise NotApplicable("hours are not multiples of a common unit")
    units, cap = conv
    classes = sorted(set(np.unique(units).tolist()), reverse=True)
    rows = [np.flatnonzero(units == u) for u in classes]
    bounds = [len(r) if u == 0 else min(len(r), cap // u) for u, r in zip(classes, rows,
              strict=True)]  # fmt: skip
    per_draw = (cap + 1) * max(sum(bounds), 1)
    if per_draw > DP_LIMIT:
        raise NotApplicable("capacity units x accounts too large for the programme")
    return DPPlan(len(hours), cap, classes, rows, bounds, max(1, DP_LIMIT // per_draw))


def dp_many(
    values: np.ndarray, hours: np.ndarray, capacity: float, plan: DPPlan | None = None
) -> np.ndarray:
    """Exact optimum of ``max sum v x`` s.t. ``sum h x <= capacity`` for each column of
    ``values`` (n, D); returns chosen (n, D) bool. Raises :class:`NotApplicable` when the
    hours are not multiples of a common unit or the programme would be too large.
    ``plan``: :func:`dp_plan` of the same hours and capacity, made once for many calls."""
    plan = plan or dp_plan(hours, capacity)
    d = values.shape[1]
    return np.hstack(
        [_choose(plan.n, *_dp_pick(values[:, j : j + plan.step], plan))
         for j in range(0, d, plan.step)] or [np.zeros((plan.n, 0), dtype=bool)]
    )  # fmt: skip


def dp_counts(values: np.ndarray, plan: DPPlan) -> np.ndarray:
    """For each row, in how many columns of ``values`` the optimum chooses it (the
    robustness draws' tally, without the (n, D) choice)."""
    out = np.zeros(plan.n, dtype=np.int64)
    for j in range(0, values.shape[1], plan.step):
        out += counted(plan.n, *_dp_pick(values[:, j : j + plan.step], plan))
    return out


def _dp_pick(values: np.ndarray, plan: DPPlan) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each class's best rows per column and how many of them the optimum takes."""
    d, cap, classes = values.shape[1], plan.cap, plan.classes
    best = np.zeros((cap + 1, d))  # best[c] = best value within c units, classes so far
    parts, args = [], []
    for u, idx, bound in zip(classes, plan.rows, plan.bounds, strict=True):
        top, prefix = _sorted_class(values, idx, bound)
        parts.append(top)
        arg = np.zeros((cap + 1, d), dtype=np.int32)
        if u == 0:  # costs nothing: the best prefix, whatever the capacity
            k = np.argmax(prefix, axis=0)
            best = best + prefix[k, np.arange(d)]
            arg[:] = k
        else:
            new = best.copy()
            for k in range(1, bound + 1):
                s = k * u
                cand = best[: cap + 1 - s] + prefix[k]
                better = cand > new[s:]  # strict: among equal totals, fewer of this class
                new[s:] = np.where(better, cand, new[s:])
                arg[s:] = np.where(better, k, arg[s:])
            best = new
        args.append(arg)
    counts: list[np.ndarray] = [np.zeros(d, dtype=np.int64)] * len(classes)
    c = np.full(d, cap, dtype=np.int64)
    cols = np.arange(d)
    for j in range(len(classes) - 1, -1, -1):
        k = args[j][c, cols].astype(np.int64)
        counts[j] = k
        c = c - k * classes[j]
    return parts, counts


# -- enumeration of the counts ---------------------------------------------------------------
def _class_bound(n_c: int, h_c: float, capacity: float | None, max_count: int | None) -> int:
    b = n_c
    if capacity is not None and h_c > 0:
        with np.errstate(over="ignore"):  # inf: any number fits (a capacity of 1e300 h)
            fit = np.floor(capacity / h_c + 1e-9)  # compared as a float: it may exceed any int
        b = int(fit) if fit < b else b
    if max_count is not None:
        b = min(b, max_count)
    return max(b, 0)


def greedy_many(
    values: np.ndarray, hours: np.ndarray, capacity: float | None, max_count: int | None
) -> np.ndarray:
    """Exact optimum for each column of ``values`` (n, D) under a total-hours capacity and a
    count limit (None: unlimited); returns chosen (n, D) bool. Raises
    :class:`NotApplicable` when the grid of counts is larger than ``GRID_LIMIT``."""
    n, d = values.shape
    hours = hours if capacity is not None else np.zeros(n)
    if (max_count is not None and max_count <= 0) or n == 0:
        return np.zeros((n, d), dtype=bool)
    classes = sorted(np.unique(hours), reverse=True)  # largest hours first, smallest last
    parts, prefixes = [], []
    for h_c in classes:
        idx = np.flatnonzero(hours == h_c)
        top, prefix = _sorted_class(values, idx, _class_bound(len(idx), h_c, capacity, max_count))
        parts.append(top)
        prefixes.append(prefix)
    grid_sizes = [len(pr) for pr in prefixes[:-1]]
    if int(np.prod(grid_sizes, dtype=np.float64)) > GRID_LIMIT:
        raise NotApplicable("too many count combinations")
    grid = np.array(list(product(*[range(s) for s in grid_sizes])), dtype=np.int64)
    grid = grid.reshape(len(grid), len(classes) - 1)
    h_used = grid @ np.array(classes[:-1], dtype=float)
    c_used = grid.sum(axis=1)
    cap = np.inf if capacity is None else capacity
    kmax = np.inf if max_count is None else max_count
    ok = (h_used <= cap + 1e-9) & (c_used <= kmax)
    grid, h_used, c_used = grid[ok], h_used[ok], c_used[ok]
    h_last, pref_last = classes[-1], prefixes[-1]
    k_last = np.full(len(grid), len(pref_last) - 1, dtype=np.int64)
    if h_last > 0 and np.isfinite(cap):
        with np.errstate(over="ignore"):  # inf: any number fits (a capacity of 1e300 h)
            fit = np.floor((cap - h_used) / h_last + 1e-9)  # a float: it may exceed int64
        k_last = np.where(fit < k_last, fit, k_last).astype(np.int64)
    if np.isfinite(kmax):
        k_last = np.minimum(k_last, (kmax - c_used).astype(np.int64))
    runmax = np.maximum.accumulate(pref_last, axis=0)  # best prefix of length <= k
    arg_last = _running_argmax(pref_last)
    total = runmax[k_last]  # (G, D)
    for j, pref in enumerate(prefixes[:-1]):
        total = total + pref[grid[:, j]]
    best = np.argmax(total, axis=0)  # (D,): the first best combination
    counts = [grid[best, j] for j in range(len(classes) - 1)]
    counts.append(arg_last[k_last[best], np.arange(d)])
    return _choose(n, parts, counts)


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

"""Selection and deselection: forced accounts, the optimum with hysteresis, decisions.

The procedure, precisely (``v`` = the objective, ``h`` = the hours of the account's size tier,
``m`` = ``keep_margin``):

1. **Out.** Not selectable (group members), ``never`` rules, overrides "out", accounts not
   assessed on an ``exclude`` criterion, a missing objective, and attractiveness below the
   policy's floor (``min_attractiveness``): never key (an override "in" beats all of these).
2. **Forced in.** Overrides "in" always, counted against every capacity (a warning if they
   alone exceed it). Then the ``must`` accounts if they all fit what is left; if they do not,
   a warning and the best subset of them that fits (by objective) is forced.
3. **One optimisation with hysteresis.** The remaining candidates are chosen by the exact
   optimum of :mod:`keyfolio.selection.optimise` within what is left, on the *adjusted*
   objective ``v' = v + m`` for the previous key accounts (incumbents) and ``v' = v`` for the
   others; the value of an account is ``v' * h`` (``[selection] value = "per_hour"``) or
   ``v'`` (``"per_account"``). Among accounts that need the same hours the chosen ones are
   therefore always the best by ``v'``: an incumbent is never dropped for a worse incumbent,
   a newcomer never for a worse newcomer, and a newcomer replaces an incumbent only when it
   scores more than ``m`` higher. Ties: incumbents first, then account id.
4. **The bar** is the adjusted objective of the *last account in* (the lowest ``v'`` among
   those the optimiser chose; if it chose none, the lowest ``v`` among the forced must
   accounts); the *first account out* is the candidate with the highest ``v'`` that it left
   out. Both are on the adjusted scale, so the last in is key and the first out is not; a
   first out above the bar did not fit (its hours exceed what was left).
5. **Decision.** overridden (an override applies) / selected (key now, not before) / kept (key
   now and before) / deselected (key before, not now) / not selected. An incumbent is *kept
   by hysteresis* when it is key but its own ``v`` is below the bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keyfolio.policy import SelectionPolicy
from keyfolio.selection.optimise import Knapsack, Solution, solve


@dataclass
class Inputs:
    account_id: np.ndarray
    objective: np.ndarray  # float, NaN = missing
    hours: np.ndarray
    group: np.ndarray | None  # capacity_by label per account, or None
    selectable: np.ndarray
    must: np.ndarray
    never: np.ndarray
    not_assessed: np.ndarray
    override_in: np.ndarray
    override_out: np.ndarray
    prev_key: np.ndarray
    below_floor: np.ndarray | None = None  # attractiveness below min_attractiveness

    def floor(self) -> np.ndarray:
        return np.zeros(len(self.objective), bool) if self.below_floor is None else self.below_floor


@dataclass
class Outcome:
    is_key: np.ndarray
    forced_out: np.ndarray
    forced_in: np.ndarray  # overrides in + must accounts that were forced
    must_forced: np.ndarray
    free: np.ndarray  # candidates of the optimiser
    chosen: np.ndarray  # the optimiser's choice among the free candidates
    adjusted: np.ndarray  # the objective with the incumbents' keep_margin
    kept_hyst: np.ndarray  # key incumbents whose own objective is below the bar
    decision: np.ndarray
    bar: float | None
    last_in: int | None
    first_out: int | None
    solution: Solution
    warnings: list[str] = field(default_factory=list)


class _Caps:
    """Remaining capacities while accounts are forced in one by one."""

    def __init__(self, sel: SelectionPolicy, group: np.ndarray | None) -> None:
        self.cap = sel.capacity_hours
        self.count = sel.max_key_accounts
        self.group = group
        self.gcap = dict(sel.capacity) if group is not None else {}

    def copy(self) -> _Caps:
        c = _Caps.__new__(_Caps)
        c.cap, c.count, c.group, c.gcap = self.cap, self.count, self.group, dict(self.gcap)
        return c

    def fits(self, h: float, g: object) -> bool:
        if self.cap is not None and h > self.cap + 1e-9:
            return False
        if self.count is not None and self.count < 1:
            return False
        return not (g in self.gcap and h > self.gcap[str(g)] + 1e-9)

    def take(self, h: float, g: object) -> None:
        if self.cap is not None:
            self.cap -= h
        if self.count is not None:
            self.count -= 1
        if g in self.gcap:
            self.gcap[str(g)] -= h

    def knapsack(
        self,
        value: np.ndarray,
        hours: np.ndarray,
        group: np.ndarray | None,
        rank: np.ndarray | None = None,
    ) -> Knapsack:
        return Knapsack(
            value=value,
            hours=hours,
            capacity=None if self.cap is None else max(self.cap, 0.0),
            max_count=None if self.count is None else max(self.count, 0),
            group=group,
            group_capacity={k: max(v, 0.0) for k, v in self.gcap.items()},
            rank=rank,
        )


def _group_of(inp: Inputs, i: int) -> object:
    return None if inp.group is None else inp.group[i]


def _force(inp: Inputs, caps: _Caps, idx: np.ndarray, *, strict: bool) -> np.ndarray:
    """Force accounts in (best objective first); returns the mask of those forced.
    ``strict=False`` forces even when they do not fit (overrides)."""
    out = np.zeros(len(inp.objective), dtype=bool)
    order = idx[np.argsort(-np.nan_to_num(inp.objective[idx], nan=-np.inf), kind="stable")]
    for i in order:
        g = _group_of(inp, int(i))
        if strict and not caps.fits(float(inp.hours[i]), g):
            continue
        caps.take(float(inp.hours[i]), g)
        out[i] = True
    return out


def tie_rank(account_id: np.ndarray, prev_key: np.ndarray) -> np.ndarray:
    """Rank of every account for breaking ties: incumbents first, then by account id."""
    order = np.lexsort((account_id.astype(str), ~prev_key.astype(bool)))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _solve(
    inp: Inputs, caps: _Caps, free: np.ndarray, score: np.ndarray, sel: SelectionPolicy
) -> tuple[np.ndarray, Solution]:
    idx = np.flatnonzero(free)
    chosen = np.zeros(len(free), dtype=bool)
    grp = None if inp.group is None else inp.group[idx]
    value = score[idx].astype(float)
    if sel.value == "per_hour":
        value = value * inp.hours[idx]
    rank = tie_rank(inp.account_id, inp.prev_key)[idx]
    p = caps.knapsack(value, inp.hours[idx].astype(float), grp, rank)
    sol = solve(p, time_limit=sel.time_limit_s, mip_rel_gap=sel.mip_rel_gap)
    chosen[idx[sol.chosen]] = True
    return chosen, sol


def _forced_sets(inp: Inputs, sel: SelectionPolicy, warnings: list[str]) -> tuple[Any, ...]:
    ov_in = inp.override_in & inp.selectable
    forced_out = ~ov_in & (
        ~inp.selectable | inp.never | inp.override_out | inp.not_assessed
        | np.isnan(inp.objective) | inp.floor()
    )  # fmt: skip
    caps = _Caps(sel, inp.group)
    _force(inp, caps, np.flatnonzero(ov_in), strict=False)
    if (caps.cap is not None and caps.cap < 0) or (caps.count is not None and caps.count < 0):
        warnings.append("overrides 'in' alone exceed the KAM capacity; no other account fits")
    must = inp.must & ~forced_out & ~ov_in
    clash = inp.must & inp.never & ~ov_in
    if clash.any():
        warnings.append(
            f"{int(clash.sum())} account(s) match both a must and a never rule; never wins: "
            + ", ".join(map(str, inp.account_id[clash][:5]))
        )
    trial = caps.copy()
    all_fit = True
    for i in np.flatnonzero(must):
        g = _group_of(inp, int(i))
        all_fit = all_fit and trial.fits(float(inp.hours[i]), g)
        trial.take(float(inp.hours[i]), g)
    if all_fit:
        must_forced = _force(inp, caps, np.flatnonzero(must), strict=False)
    else:
        # the best subset of the must accounts that fits (objective shifted positive)
        v = np.nan_to_num(inp.objective, nan=0.0)
        shifted = np.where(must, v - (v[must].min() if must.any() else 0.0) + 1.0, np.nan)
        best, _ = _solve(inp, caps, must, shifted, sel)
        must_forced = _force(inp, caps, np.flatnonzero(best), strict=False)
        warnings.append(
            f"must rules name {int(must.sum())} accounts needing "
            f"{float(inp.hours[must].sum()):,.0f} h, more than the capacity allows; "
            f"forced the {int(must_forced.sum())} that fit with the best objective"
        )
    return forced_out, ov_in, must_forced, caps


def decide(inp: Inputs, sel: SelectionPolicy) -> Outcome:
    """Run steps 1–5 of the module docstring."""
    warnings: list[str] = []
    forced_out, ov_in, must_forced, caps = _forced_sets(inp, sel, warnings)
    forced_in = ov_in | must_forced
    free = ~forced_out & ~forced_in
    adjusted = inp.objective + np.where(inp.prev_key, sel.keep_margin, 0.0)
    chosen, sol = _solve(inp, caps, free, adjusted, sel)
    if not sol.optimal:
        gap = "unknown" if np.isnan(sol.gap) else f"{sol.gap:.3%}"
        warnings.append(
            f"selection solver stopped with status {sol.status!r} (gap {gap}; {sol.solver}); "
            "the list may not be optimal: raise [selection] time_limit_s or mip_rel_gap"
        )
    bar, last_in, first_out = _bar(inp, adjusted, chosen, free, must_forced)
    is_key = forced_in | chosen
    kept_hyst = chosen & inp.prev_key & (bar is not None) & (inp.objective < (bar or 0.0))
    overridden = inp.selectable & (inp.override_in | inp.override_out)
    decision = np.select(
        [overridden, is_key & inp.prev_key, is_key, inp.prev_key],
        ["overridden", "kept", "selected", "deselected"],
        default="not selected",
    ).astype(object)
    return Outcome(
        is_key=is_key, forced_out=forced_out, forced_in=forced_in, must_forced=must_forced,
        free=free, chosen=chosen, adjusted=adjusted, kept_hyst=kept_hyst, decision=decision,
        bar=bar, last_in=last_in, first_out=first_out, solution=sol, warnings=warnings,
    )  # fmt: skip


def _bar(
    inp: Inputs, adjusted: np.ndarray, chosen: np.ndarray, free: np.ndarray,
    must_forced: np.ndarray,
) -> tuple[float | None, int | None, int | None]:  # fmt: skip
    rank = tie_rank(inp.account_id, inp.prev_key)
    last_in = first_out = None
    scale = adjusted if chosen.any() else inp.objective
    pool = chosen if chosen.any() else must_forced
    if pool.any():
        idx = np.flatnonzero(pool)
        last_in = int(idx[np.lexsort((-rank[idx], scale[idx]))[0]])  # lowest, then last by rank
    out = free & ~chosen
    if out.any():
        idx = np.flatnonzero(out)
        first_out = int(idx[np.lexsort((rank[idx], -adjusted[idx]))[0]])
    bar = None if last_in is None else float(scale[last_in])
    return bar, last_in, first_out


def capacity_report(inp: Inputs, out: Outcome, sel: SelectionPolicy) -> dict[str, dict[str, Any]]:
    """Per constraint: used, available, slack and whether it binds (a left-out candidate
    with a positive objective would break it if added)."""
    key = out.is_key
    left = out.free & ~key & (np.nan_to_num(inp.objective) > 0)
    rep: dict[str, dict[str, Any]] = {}

    def add(name: str, used: float, avail: float, need: np.ndarray) -> None:
        slack = avail - used
        rep[name] = {
            "used": float(used), "available": float(avail), "slack": float(slack),
            "binding": bool(len(need) and (need > slack + 1e-9).any()),
        }  # fmt: skip

    if sel.capacity_hours is not None:
        add("capacity_hours", inp.hours[key].sum(), sel.capacity_hours, inp.hours[left])
    if sel.max_key_accounts is not None:
        add("max_key_accounts", key.sum(), sel.max_key_accounts, np.ones(int(left.sum())))
    if inp.group is not None:
        for g, cap in sel.capacity.items():
            in_g = inp.group == g
            add(f"{sel.capacity_by}:{g}", inp.hours[key & in_g].sum(), cap,
                inp.hours[left & in_g])  # fmt: skip
    return rep

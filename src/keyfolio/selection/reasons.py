"""One-line reasons and "what would flip the decision" for every account.

Reasons follow the decision procedure of :mod:`keyfolio.selection.decide`; scores are
compared with the bar on the adjusted scale (an incumbent's objective plus ``keep_margin``).
The flip text names the smallest change, other things equal, that would turn the decision
around, and only changes that can happen:

* a key account chosen by the optimiser: its objective falling below the first account out
  (or, if it was kept under hysteresis, more than ``keep_margin`` below the bar);
* a candidate left out: its objective rising to the bar; or, if it is at or above the bar
  and did not fit, the KAM capacity growing by the hours it lacks (the hours an account
  needs are its tier's, not something to shrink), or one more key account allowed;
* an account below the floor: its attractiveness rising to the floor;
* forced decisions: the override removed, the rule no longer matching, an assessment made.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from keyfolio.selection.decide import Inputs, Outcome


@dataclass
class Context:
    objective: str
    keep_margin: float
    must_rules: list[list[str]]
    never_rules: list[list[str]]
    quadrant: np.ndarray
    not_assessed_on: list[str]
    override_text: list[str]  # per account: "in by X (2026-01-01): reason" or ""
    group_of: list[str]  # per account: group id of members, "" otherwise
    slack_hours: float  # smallest slack of the binding hour capacities (inf if none)
    count_full: bool  # max_key_accounts is reached
    attractiveness: np.ndarray | None = None  # for the floor
    floor: float | None = None  # min_attractiveness


def _apart(x: float, bar: float) -> tuple[str, str]:
    """Two numbers with one decimal, or as many more as it takes to tell them apart."""
    for digits in (1, 2, 3, 4):
        a, b = f"{x:.{digits}f}", f"{bar:.{digits}f}"
        if a != b or x == bar:
            return a, b
    return a, b


def _pts(objective: str, delta: float) -> str:
    sign = "+" if delta >= 0 else "-"
    unit = " points" if objective in ("attractiveness", "strength") else ""
    return f"{objective} {sign}{abs(delta):.1f}{unit}"


def _score(i: int, v: np.ndarray, inp: Inputs, ctx: Context) -> str:
    """The account's objective, with the incumbent's margin where it has one."""
    text = f"{ctx.objective} {v[i]:.1f}"
    if inp.prev_key[i] and ctx.keep_margin:
        text += f" (+{ctx.keep_margin:g} as a key account)"
    return text


def _flip_out(i: int, adj: np.ndarray, inp: Inputs, out: Outcome, ctx: Context) -> str:
    """For a candidate the optimiser left out."""
    if out.bar is not None and adj[i] < out.bar:
        return _pts(ctx.objective, out.bar - adj[i] + 0.05)
    if np.isfinite(ctx.slack_hours) and inp.hours[i] > ctx.slack_hours:
        return f"{inp.hours[i] - ctx.slack_hours:,.0f} more KAM hours of capacity"
    if ctx.count_full:
        return "one more key account allowed"
    return "more KAM capacity"


def _flip_in(i: int, v: np.ndarray, adj: np.ndarray, out: Outcome, ctx: Context) -> str:
    """For an account the optimiser chose."""
    if out.kept_hyst[i] and out.bar is not None:
        return _pts(ctx.objective, -(v[i] - (out.bar - ctx.keep_margin) + 0.05)) + (
            f" (more than keep_margin {ctx.keep_margin:g} below the bar)"
        )
    if out.first_out is not None:
        fo = adj[out.first_out]
        if adj[i] > fo:
            return _pts(ctx.objective, -(adj[i] - fo + 0.05)) + " (below the first account out)"
        return "any drop in its objective or more hours needed (it is at the margin)"
    return "a tighter capacity or rules (every candidate is key)"


def _reason_key(i: int, v: np.ndarray, inp: Inputs, out: Outcome, ctx: Context) -> tuple[str, str]:
    q = ctx.quadrant[i]
    adj = out.adjusted
    if ctx.override_text[i]:
        return f"override {ctx.override_text[i]}", "removing the override"
    if out.must_forced[i]:
        rules = "; ".join(ctx.must_rules[i])
        return f"{q}; must rule: {rules}", "the must rule no longer matching"
    if out.kept_hyst[i]:
        bar = out.bar if out.bar is not None else float("nan")
        return (
            f"{q}; kept: {ctx.objective} {v[i]:.1f} is {bar - v[i]:.1f} below the bar "
            f"{bar:.1f}, within keep_margin {ctx.keep_margin:g}",
            _flip_in(i, v, adj, out, ctx),
        )
    bar_txt = f" >= bar {out.bar:.1f}" if out.bar is not None else ""
    return (
        f"{q}; {_score(i, v, inp, ctx)}{bar_txt}; needs {inp.hours[i]:,.0f} h",
        _flip_in(i, v, adj, out, ctx),
    )


def _reason_forced_out(i: int, v: np.ndarray, inp: Inputs, ctx: Context) -> tuple[str, str] | None:
    was = "was key; " if inp.prev_key[i] else ""
    if not inp.selectable[i]:
        g = ctx.group_of[i]
        return (f"member of group {g}: selected on the group" if g else "not selectable",
                "not a candidate")  # fmt: skip
    if ctx.override_text[i]:
        return f"override {ctx.override_text[i]}", "removing the override"
    if inp.never[i]:
        rules = "; ".join(ctx.never_rules[i])
        return f"{was}never rule: {rules}", "the never rule no longer matching"
    if inp.not_assessed[i]:
        crits = ctx.not_assessed_on[i].replace(";", ", ")
        return f"{was}not assessed on {crits}", f"an assessment on {crits}"
    if np.isnan(v[i]):
        return f"{was}no {ctx.objective} value", f"a value for {ctx.objective}"
    if inp.floor()[i] and ctx.attractiveness is not None and ctx.floor is not None:
        a = float(ctx.attractiveness[i])
        return (
            f"{ctx.quadrant[i]}; {was}attractiveness {a:.1f} below the floor {ctx.floor:g}",
            _pts("attractiveness", ctx.floor - a + 0.05) + " (to the floor)",
        )
    return None


def _reason_not_key(
    i: int, v: np.ndarray, inp: Inputs, out: Outcome, ctx: Context
) -> tuple[str, str]:
    forced = _reason_forced_out(i, v, inp, ctx)
    if forced is not None:
        return forced
    q = ctx.quadrant[i]
    adj = out.adjusted
    was = "was key; " if inp.prev_key[i] else ""
    flip = _flip_out(i, adj, inp, out, ctx)
    if inp.must[i]:
        return f"{q}; {was}must rule matched but the capacity cannot hold every must account", flip
    if out.bar is None:
        return f"{q}; {was}no capacity for key accounts", flip
    if adj[i] >= out.bar:
        return (
            f"{q}; {was}{_score(i, v, inp, ctx)} is at or above the bar {out.bar:.1f} but its "
            f"{inp.hours[i]:,.0f} h do not fit the remaining capacity",
            flip,
        )
    if inp.prev_key[i]:
        a, b = _apart(adj[i], out.bar)
        return (
            f"{q}; deselected: {ctx.objective} {v[i]:.1f} + keep_margin {ctx.keep_margin:g} "
            f"= {a} is below the bar {b}",
            flip,
        )
    a, b = _apart(v[i], out.bar)
    return f"{q}; {ctx.objective} {a} below the bar {b}", flip


def reasons(inp: Inputs, out: Outcome, ctx: Context) -> tuple[list[str], list[str]]:
    """(reasons, flips) per account: the two common cases (below the floor, below the bar)
    for all their accounts at once, every other account by the procedure above."""
    v = inp.objective.astype(float)
    rs: list[str] = [""] * len(v)
    fs: list[str] = [""] * len(v)
    done = np.zeros(len(v), dtype=bool)
    for rows, texts in _common(v, inp, out, ctx):
        for i, (r, f) in zip(rows.tolist(), texts, strict=True):
            rs[i], fs[i] = r, f
        done[rows] = True
    for i in np.flatnonzero(~done).tolist():
        if out.is_key[i]:
            rs[i], fs[i] = _reason_key(i, v, inp, out, ctx)
        else:
            rs[i], fs[i] = _reason_not_key(i, v, inp, out, ctx)
    return rs, fs


def _common(
    v: np.ndarray, inp: Inputs, out: Outcome, ctx: Context
) -> list[tuple[np.ndarray, Iterator[tuple[str, str]]]]:
    """The rows :func:`_reason_not_key` would send to "below the floor" or (a newcomer) to
    "below the bar", with the same texts; a million accounts take seconds, not minutes."""
    free = (
        ~out.is_key & inp.selectable & ~inp.never & ~inp.not_assessed & ~np.isnan(v)
        & (np.array(ctx.override_text, dtype=object) == "")
    )  # fmt: skip
    was = np.where(inp.prev_key, "was key; ", "").tolist()
    q = ctx.quadrant
    out_rows: list[tuple[np.ndarray, Iterator[tuple[str, str]]]] = []
    floor = np.zeros(len(v), dtype=bool)
    if ctx.attractiveness is not None and ctx.floor is not None:
        floor = free & inp.floor()
        fl, att = ctx.floor, ctx.attractiveness
        rows = np.flatnonzero(floor)
        out_rows.append((rows, (
            (f"{q[i]}; {was[i]}attractiveness {att[i]:.1f} below the floor {fl:g}",
             _pts("attractiveness", fl - float(att[i]) + 0.05) + " (to the floor)")
            for i in rows.tolist()
        )))  # fmt: skip
    if out.bar is not None:
        bar, adj = out.bar, out.adjusted
        rows = np.flatnonzero(free & ~floor & ~inp.must & ~inp.prev_key & (adj < bar))
        out_rows.append((rows, (
            (f"{q[i]}; {ctx.objective} {' below the bar '.join(_apart(v[i], bar))}",
             _pts(ctx.objective, bar - adj[i] + 0.05))
            for i in rows.tolist()
        )))  # fmt: skip
    return out_rows


def slack_summary(capacity: dict[str, dict[str, Any]]) -> tuple[float, bool]:
    """Smallest slack among binding hour constraints; whether the account count is full."""
    hour_slacks = [
        c["slack"] for name, c in capacity.items() if name != "max_key_accounts" and c["binding"]
    ]
    count = capacity.get("max_key_accounts")
    return (
        min(hour_slacks) if hour_slacks else float("inf"),
        bool(count and count["slack"] < 1),
    )

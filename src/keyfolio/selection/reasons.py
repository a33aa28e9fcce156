"""One-line reasons and "what would flip the decision" for every account.

Reasons follow the decision procedure of :mod:`keyfolio.selection.decide`. The flip text
names the smallest change, other things equal, that would turn the decision around:

* a key account chosen by the optimiser: its objective falling below the first account out
  (or, if it was kept under hysteresis, more than ``keep_margin`` below the bar);
* a candidate left out: its objective rising to the bar, or — if it is above the bar and did
  not fit — the hours it needs shrinking to the slack of the binding capacity ("120 fewer KAM
  hours needed"), or one more key account allowed;
* forced decisions: the override removed, the rule no longer matching, an assessment made.
"""

from __future__ import annotations

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


def _pts(objective: str, delta: float) -> str:
    sign = "+" if delta >= 0 else "-"
    unit = " points" if objective in ("attractiveness", "strength") else ""
    return f"{objective} {sign}{abs(delta):.1f}{unit}"


def _flip_out(i: int, v: np.ndarray, inp: Inputs, out: Outcome, ctx: Context) -> str:
    """For a candidate left out."""
    parts: list[str] = []
    if out.bar is not None and v[i] < out.bar:
        parts.append(_pts(ctx.objective, out.bar - v[i] + 0.05))
    if np.isfinite(ctx.slack_hours) and inp.hours[i] > ctx.slack_hours:
        parts.append(f"{inp.hours[i] - ctx.slack_hours:,.0f} fewer KAM hours needed")
    elif ctx.count_full:
        parts.append("one more key account allowed")
    return " or ".join(parts) if parts else "more KAM capacity"


def _flip_in(i: int, v: np.ndarray, out: Outcome, ctx: Context) -> str:
    """For an account the optimiser chose (or hysteresis kept)."""
    if out.kept_hyst[i] and out.bar is not None:
        return _pts(ctx.objective, -(v[i] - (out.bar - ctx.keep_margin) + 0.05)) + (
            f" (more than keep_margin {ctx.keep_margin:g} below the bar)"
        )
    if out.first_out is not None:
        fo = v[out.first_out]
        if v[i] > fo:
            return _pts(ctx.objective, -(v[i] - fo + 0.05)) + " (below the first account out)"
        return "any drop in its objective or more hours needed (it is at the margin)"
    return "a tighter capacity or rules (every candidate is key)"


def _reason_key(i: int, v: np.ndarray, inp: Inputs, out: Outcome, ctx: Context) -> tuple[str, str]:
    q = ctx.quadrant[i]
    if ctx.override_text[i]:
        return f"override {ctx.override_text[i]}", "removing the override"
    if out.must_forced[i]:
        rules = "; ".join(ctx.must_rules[i])
        return f"{q}; must rule: {rules}", "the must rule no longer matching"
    obj = f"{ctx.objective} {v[i]:.1f}"
    if out.kept_hyst[i]:
        bar = out.bar if out.bar is not None else float("nan")
        return (
            f"{q}; kept: {obj} is {bar - v[i]:.1f} below the bar {bar:.1f}, "
            f"within keep_margin {ctx.keep_margin:g}",
            _flip_in(i, v, out, ctx),
        )
    bar_txt = f" >= bar {out.bar:.1f}" if out.bar is not None else ""
    return f"{q}; {obj}{bar_txt}; needs {inp.hours[i]:,.0f} h", _flip_in(i, v, out, ctx)


def _reason_not_key(
    i: int, v: np.ndarray, inp: Inputs, out: Outcome, ctx: Context
) -> tuple[str, str]:
    q = ctx.quadrant[i]
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
    obj = f"{ctx.objective} {v[i]:.1f}"
    flip = _flip_out(i, v, inp, out, ctx)
    if out.kept_no_room[i]:
        return f"{q}; {was}within keep_margin but no capacity left after forced accounts", flip
    if out.displaced[i]:
        return f"{q}; {obj} made the bar but was displaced by accounts kept (hysteresis)", flip
    if inp.must[i]:
        return f"{q}; {was}must rule matched but the capacity cannot hold every must account", flip
    if out.bar is None:
        return f"{q}; {was}no capacity for key accounts", flip
    if v[i] >= out.bar:
        return (
            f"{q}; {was}{obj} is above the bar {out.bar:.1f} but its {inp.hours[i]:,.0f} h "
            "do not fit the remaining capacity",
            flip,
        )
    if inp.prev_key[i]:
        return (
            f"{q}; deselected: {obj} is {out.bar - v[i]:.1f} below the bar {out.bar:.1f}, "
            f"more than keep_margin {ctx.keep_margin:g}",
            flip,
        )
    return f"{q}; {obj} below the bar {out.bar:.1f}", flip


def reasons(inp: Inputs, out: Outcome, ctx: Context) -> tuple[list[str], list[str]]:
    """(reasons, flips) per account."""
    v = inp.objective.astype(float)
    rs: list[str] = []
    fs: list[str] = []
    for i in range(len(v)):
        if out.is_key[i]:
            r, f = _reason_key(i, v, inp, out, ctx)
        else:
            r, f = _reason_not_key(i, v, inp, out, ctx)
        rs.append(r)
        fs.append(f)
    return rs, fs


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

"""Selection of the key accounts on a scored, segmented portfolio: rules → optimum under
capacity → decisions with hysteresis → reasons → robustness → reconciliation, in one
function (:func:`select`). The result (:class:`Definition`) is what the run writes as
``portfolio.parquet`` (the columns added here), ``contributions.parquet``,
``selection.json`` and ``reconciliation.parquet``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from keyfolio.errors import PolicyError
from keyfolio.ids import isin
from keyfolio.overrides import Override
from keyfolio.policy import Policy
from keyfolio.scoring import Scores
from keyfolio.selection import reasons as reasons_mod
from keyfolio.selection.decide import Inputs, Outcome, _Caps, capacity_report, decide
from keyfolio.selection.reconcile import Reconciliation, reconcile
from keyfolio.selection.robustness import Robustness, robustness
from keyfolio.selection.rules import evaluate_rules


@dataclass
class Definition:
    portfolio: pd.DataFrame
    scores: Scores
    selection: dict[str, Any]  # selection.json: objective, status, capacity, bar, ...
    reconciliation: Reconciliation
    contested: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def contributions(self) -> pd.DataFrame:
        """Per account and criterion: raw, score, weight, contribution (built on demand: at
        1M accounts x 17 criteria it is gigabytes, so it is not kept: the run streams
        :meth:`Scores.contribution_tables` to disk)."""
        return self.scores.contributions()

    @property
    def key_accounts(self) -> pd.DataFrame:
        return self.portfolio[self.portfolio["is_key"]]


def _overrides(
    pf: pd.DataFrame, overrides: Sequence[Override], selectable: np.ndarray, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str], list[dict[str, Any]]]:
    ids = pf["account_id"].astype(str).to_numpy()
    pos = {a: i for i, a in enumerate(ids)}
    n = len(ids)
    o_in, o_out = np.zeros(n, bool), np.zeros(n, bool)
    text = [""] * n
    listed: list[dict[str, Any]] = []
    for o in overrides:
        i = pos.get(str(o.account_id))
        if i is None:
            warnings.append(f"override {o.direction} for unknown account {o.account_id!r} ignored")
            continue
        if not selectable[i]:
            warnings.append(
                f"override {o.direction} for {o.account_id!r} ignored: not selectable "
                "(a group member; override its group)"
            )
            continue
        o_in[i], o_out[i] = o.direction == "in", o.direction == "out"
        when = o.at.date().isoformat() if hasattr(o.at, "date") else str(o.at)
        text[i] = f"{o.direction} by {o.who} ({when}): {o.reason}"
        listed.append({"account_id": str(o.account_id), "direction": o.direction,
                       "reason": o.reason, "who": o.who, "at": str(o.at)})  # fmt: skip
    return o_in, o_out, text, listed


def _prepare(portfolio: pd.DataFrame, policy: Policy, warnings: list[str]) -> pd.DataFrame:
    pf = portfolio.reset_index(drop=True)  # a new frame already (copy-on-write in pandas 3)
    pf["account_id"] = pf["account_id"].astype(str)
    if "selectable" not in pf.columns:
        pf["selectable"] = True
    pf["selectable"] = pf["selectable"].fillna(False).astype(bool)
    hours = policy.selection.hours
    tier = pf["size_tier"] if "size_tier" in pf.columns else pd.Series([None] * len(pf))
    unknown = pf["selectable"] & ~tier.isin(list(hours))
    if unknown.any():
        warnings.append(
            f"{int(unknown.sum())} account(s) without a size tier in [selection] hours; "
            "counted as 'small'"
        )
    pf["hours_needed"] = tier.map(hours).fillna(hours.get("small", 0.0)).astype(float).to_numpy()
    return pf


def _numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s)) and not pd.api.types.is_bool_dtype(s)


def _objective(pf: pd.DataFrame, name: str) -> np.ndarray:
    if name not in pf.columns:
        raise PolicyError(
            f"[selection] objective: no portfolio column {name!r}; use 'attractiveness' or one "
            "of: " + ", ".join(sorted(c for c in pf.columns if _numeric(pf[c])))
        )
    if not pd.api.types.is_numeric_dtype(pf[name]) or pd.api.types.is_bool_dtype(pf[name]):
        raise PolicyError(f"[selection] objective: column {name!r} is not numeric")
    return pf[name].astype(float).to_numpy()


def _prev_key(pf: pd.DataFrame, previous: pd.DataFrame | None) -> np.ndarray:
    if previous is None or not len(previous) or "is_key" not in previous.columns:
        return np.zeros(len(pf), dtype=bool)
    prev = previous.assign(account_id=previous["account_id"].astype(str))
    keys = set(prev.loc[prev["is_key"].fillna(False).astype(bool), "account_id"])
    return isin(pf["account_id"], keys)


def select(
    portfolio: pd.DataFrame,
    scores: Scores,
    *,
    policy: Policy,
    declared: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
    overrides: Sequence[Override] = (),
) -> Definition:
    """The key accounts of a portfolio that carries its scores (attractiveness, strength,
    not_assessed) and matrix segments (quadrant), under the policy's ``[selection]``.

    ``previous``: the previous run's account_id and is_key (hysteresis); ``declared``: the
    lists people carry (reconciliation); ``overrides``: the active overrides.
    """
    t0 = time.perf_counter()
    sel = policy.selection
    warnings = list(scores.warnings)
    pf = _prepare(portfolio, policy, warnings)
    objective = _objective(pf, sel.objective)
    must, must_rules = evaluate_rules(pf, sel.must, kind="must rule", key="selection.must")
    never, never_rules = evaluate_rules(pf, sel.never, kind="never rule", key="selection.never")
    group = None
    if sel.capacity_by is not None:
        if sel.capacity_by not in pf.columns:
            raise PolicyError(f"[selection] capacity_by: no portfolio column {sel.capacity_by!r}")
        group = pf[sel.capacity_by].astype(object).where(pf[sel.capacity_by].notna(), "")
        group = group.astype(str).to_numpy(dtype=object)
    selectable = pf["selectable"].to_numpy()
    o_in, o_out, o_text, o_list = _overrides(pf, overrides, selectable, warnings)
    attractiveness = pf["attractiveness"].to_numpy(dtype=float)
    floor = sel.min_attractiveness
    below = selectable & (attractiveness < floor) if floor is not None else None
    inp = Inputs(
        account_id=pf["account_id"].to_numpy(dtype=object), objective=objective,
        hours=pf["hours_needed"].to_numpy(dtype=float), group=group, selectable=selectable,
        must=must & selectable, never=never & selectable, not_assessed=scores.not_assessed,
        override_in=o_in, override_out=o_out, prev_key=_prev_key(pf, previous),
        below_floor=below,
    )  # fmt: skip
    out = decide(inp, sel)
    warnings.extend(out.warnings)
    cap = capacity_report(inp, out, sel)
    rob = _robustness(scores, inp, out, policy)
    warnings.extend(rob.warnings)
    _annotate(pf, inp, out, cap, rob, must_rules, never_rules, o_text, scores, sel)
    warnings.extend(_share_warning(pf, out))
    selection = _summary(inp, out, cap, rob, policy, o_list, time.perf_counter() - t0)
    contested = pf.loc[pf["contested"], ["account_id", "name", "p_key", "is_key", "decision",
                                         "quadrant", sel.objective]]  # fmt: skip
    contested = contested.sort_values("p_key", ascending=False, ignore_index=True)
    return Definition(
        portfolio=pf,
        scores=scores,
        selection=selection,
        reconciliation=reconcile(pf, declared),
        contested=contested.loc[:, ~contested.columns.duplicated()],
        warnings=warnings,
    )


def _robustness(scores: Scores, inp: Inputs, out: Outcome, policy: Policy) -> Robustness:
    caps = _Caps(policy.selection, inp.group)
    for i in np.flatnonzero(out.forced_in):
        caps.take(float(inp.hours[i]), None if inp.group is None else inp.group[i])
    remaining = caps.knapsack(np.zeros(0), np.zeros(0), None)
    return robustness(
        scores, policy.selection.objective, free=out.free, forced_in=out.forced_in,
        candidate=inp.selectable, is_key=out.is_key, hours=inp.hours, group=inp.group,
        remaining=remaining, sel=policy.selection, rob=policy.robustness,
    )  # fmt: skip


def _annotate(
    pf: pd.DataFrame, inp: Inputs, out: Outcome, cap: dict[str, Any], rob: Robustness,
    must_rules: list[list[str]], never_rules: list[list[str]], o_text: list[str],
    scores: Scores, sel: Any,
) -> None:  # fmt: skip
    slack, count_full = reasons_mod.slack_summary(cap)
    group_of = (
        pf["group_id"].astype(object).where(pf["group_id"].notna(), "").astype(str).tolist()
        if "group_id" in pf.columns
        else [""] * len(pf)
    )
    ctx = reasons_mod.Context(
        objective=sel.objective, keep_margin=sel.keep_margin, must_rules=must_rules,
        never_rules=never_rules, quadrant=pf["quadrant"].to_numpy(),
        not_assessed_on=scores.not_assessed_on, override_text=o_text, group_of=group_of,
        slack_hours=slack, count_full=count_full,
        attractiveness=pf["attractiveness"].to_numpy(dtype=float), floor=sel.min_attractiveness,
    )  # fmt: skip
    rs, fs = reasons_mod.reasons(inp, out, ctx)
    pf["is_key"] = out.is_key
    pf["decision"] = out.decision
    pf["reasons"] = rs
    pf["flip"] = fs
    pf["rules"] = [
        "; ".join([*(f"must: {r}" for r in m), *(f"never: {r}" for r in nv)]) if m or nv else ""
        for m, nv in zip(must_rules, never_rules, strict=True)
    ]
    pf["override"] = o_text
    pf["was_key"] = inp.prev_key
    pf["p_key"] = rob.p_key
    pf["contested"] = rob.contested


KEY_SHARE = 0.25


def _share_warning(pf: pd.DataFrame, out: Outcome) -> list[str]:
    """Key accounts are the few that deserve dedicated management: a warning when they are
    more than a quarter of the customers that bought."""
    buying = pf["selectable"].to_numpy() & (
        pf["has_orders"].fillna(False).astype(bool).to_numpy()
        if "has_orders" in pf.columns
        else np.ones(len(pf), dtype=bool)
    )
    n_key, n_buying = int(out.is_key.sum()), int(buying.sum())
    if not n_buying or n_key / n_buying <= KEY_SHARE:
        return []
    return [
        f"{n_key:,} key accounts are {n_key / n_buying:.0%} of the {n_buying:,} customers that "
        "bought: more than a quarter; size [selection] capacity_hours (key-account managers x "
        "the hours a year each gives key accounts) and set min_attractiveness"
    ]


def limited_by(inp: Inputs, out: Outcome, cap: dict[str, Any]) -> str:
    """What decides the size of the list, in one line a lead can check: a binding capacity,
    or (capacity being a ceiling, not a target) the floor and the rules."""
    binding = [k for k, c in cap.items() if c["binding"]]
    if binding:
        return "capacity: " + ", ".join(binding) + " binding"
    hours = cap.get("capacity_hours")
    used = f"{hours['used']:,.0f} of {hours['available']:,.0f} h used" if hours else "no cap"
    why = []
    n_floor = int((inp.floor() & ~inp.override_in).sum())
    if n_floor:
        why.append(f"{n_floor:,} below the attractiveness floor")
    n_rules = int((inp.selectable & inp.never & ~inp.override_in).sum())
    if n_rules:
        why.append(f"{n_rules:,} kept out by never rules")
    left = int((out.free & ~out.is_key).sum())
    if left:
        why.append(f"{left:,} with no value to add")
    return f"capacity not binding: {used}" + (f"; {', '.join(why)}" if why else "")


def _acct(inp: Inputs, out: Outcome, i: int | None) -> dict[str, Any] | None:
    """An account as the summary states it: its score on the adjusted scale (the objective
    plus keep_margin for a previous key account), its own objective and its hours."""
    if i is None:
        return None
    return {"account_id": str(inp.account_id[i]), "score": float(out.adjusted[i]),
            "objective": float(inp.objective[i]), "was_key": bool(inp.prev_key[i]),
            "hours": float(inp.hours[i])}  # fmt: skip


def _summary(
    inp: Inputs, out: Outcome, cap: dict[str, Any], rob: Robustness, policy: Policy,
    o_list: list[dict[str, Any]], seconds: float,
) -> dict[str, Any]:  # fmt: skip
    sel = policy.selection
    li, fo = _acct(inp, out, out.last_in), _acct(inp, out, out.first_out)

    return {
        "objective": sel.objective,
        "objective_value": float(np.nansum(inp.objective[out.is_key])),
        "status": out.solution.status,
        "gap": out.solution.gap,
        "binding": [k for k, c in cap.items() if c["binding"]],
        "limited_by": limited_by(inp, out, cap),
        "capacity": cap,
        "n_candidates": int(inp.selectable.sum()),
        "n_key": int(out.is_key.sum()),
        "n_forced_in": int(out.forced_in.sum()),
        "n_kept_by_hysteresis": int(out.kept_hyst.sum()),
        "n_below_floor": int(inp.floor().sum()),
        "min_attractiveness": sel.min_attractiveness,
        "n_deselected": int((out.decision == "deselected").sum()),
        "decisions": {str(k): int(v) for k, v in
                      zip(*np.unique(out.decision.astype(str), return_counts=True), strict=True)},
        "last_in": li,
        "first_out": fo,
        "margin": (li["score"] - fo["score"]) if li and fo else None,
        "bar": out.bar,
        "keep_margin": sel.keep_margin,
        "solver": f"{out.solution.solver} (highspy {version('highspy')})"
        if out.solution.solver == "HiGHS MIP" else out.solution.solver,
        "solver_seconds": out.solution.seconds,
        "robustness": {"draws": rob.draws, "solver": rob.solver, "seconds": rob.seconds,
                       "n_contested": int(rob.contested.sum()),
                       "concentration": policy.robustness.concentration,
                       "seed": policy.robustness.seed},
        "overrides": o_list,
        "seconds": seconds,
    }  # fmt: skip

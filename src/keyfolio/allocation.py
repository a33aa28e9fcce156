"""Allocation: the KAM workload that the key-account list creates, per tier and per manager.

A key account needs the KAM hours of its size tier (``[selection] hours``; the portfolio's
``hours_needed`` column when the definition stage wrote it). :func:`workload_by_tier` sets the
sum against the programme's ``[selection] capacity_hours``; :func:`workload_by_manager` groups
the key accounts by ``owner`` and joins the ``team`` table (``manager_id``, ``name``,
``capacity_hours``) when there is one. :func:`team_sizing` says how many managers of the
team's typical capacity the list needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from keyfolio.policy import TIERS, Policy
from keyfolio.ratios import per

UNASSIGNED = "(no owner)"


def hours_needed(portfolio: pd.DataFrame, policy: Policy) -> pd.Series:
    """KAM hours a year each account would need as a key account.

    The portfolio's ``hours_needed`` where present, else the policy's hours of the account's
    size tier (accounts without a known tier count as ``small``, as the selection does).
    """
    hours = {str(k): float(v) for k, v in policy.selection.hours.items()}
    tier = portfolio.get("size_tier", pd.Series([None] * len(portfolio), index=portfolio.index))
    by_tier = tier.astype(object).map(hours).astype(float).fillna(hours.get("small", 0.0))
    if "hours_needed" in portfolio.columns:
        given = pd.to_numeric(portfolio["hours_needed"], errors="coerce").astype(float)
        return given.fillna(by_tier)
    return by_tier


def _key_mask(portfolio: pd.DataFrame) -> pd.Series:
    if "is_key" not in portfolio.columns:
        return pd.Series(False, index=portfolio.index)
    return portfolio["is_key"].fillna(False).astype(bool)


def workload_by_tier(portfolio: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """One row per size tier (large, medium, small, then any other tier found) and a
    ``total`` row: key_accounts, hours_per_account (policy), hours_needed, capacity_hours
    (total row only; NaN without a capacity), share_of_capacity."""
    key = _key_mask(portfolio)
    hours = hours_needed(portfolio, policy)[key]
    tier = portfolio.loc[key, "size_tier"].astype(object).fillna("small").astype(str)
    found = [*TIERS, *sorted(set(tier) - set(TIERS))]
    cap = policy.selection.capacity_hours
    per_tier = {str(k): float(v) for k, v in policy.selection.hours.items()}
    rows = []
    for t in found:
        m = (tier == t).to_numpy()
        policy_hours = per_tier.get(t) if t in TIERS else None
        rows.append(
            {
                "tier": t,
                "key_accounts": int(m.sum()),
                "hours_per_account": float(policy_hours) if policy_hours is not None else np.nan,
                "hours_needed": float(hours.to_numpy()[m].sum()),
            }
        )
    out = pd.DataFrame(rows)
    total = {
        "tier": "total",
        "key_accounts": int(out["key_accounts"].sum()),
        "hours_per_account": np.nan,
        "hours_needed": float(out["hours_needed"].sum()),
    }
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out["capacity_hours"] = np.nan
    out.loc[out["tier"] == "total", "capacity_hours"] = np.nan if cap is None else float(cap)
    out["share_of_capacity"] = per(out["hours_needed"], np.nan if cap is None else float(cap))
    return out


def workload_by_manager(
    portfolio: pd.DataFrame, policy: Policy, team: pd.DataFrame | None = None
) -> pd.DataFrame | None:
    """Per owner of key accounts: manager_id, name, key_accounts, hours_needed,
    capacity_hours, utilisation (hours / capacity) and over_capacity.

    Managers of the ``team`` table without key accounts are listed with zero hours.
    None when the portfolio has no ``owner`` column or no account has an owner.
    """
    if "owner" not in portfolio.columns or not portfolio["owner"].notna().any():
        return None
    key = _key_mask(portfolio)
    owner = portfolio.loc[key, "owner"].astype(object)
    owner = owner.where(owner.notna() & (owner.astype(str).str.strip() != ""), UNASSIGNED)
    hours = hours_needed(portfolio, policy)[key]
    grouped = (
        pd.DataFrame({"manager_id": owner.astype(str).to_numpy(), "hours": hours.to_numpy()})
        .groupby("manager_id", sort=True)["hours"]
        .agg(key_accounts="size", hours_needed="sum")
        .reset_index()
    )
    if team is not None and "manager_id" in team.columns:
        t = pd.DataFrame({"manager_id": team["manager_id"].astype(str)})
        t["name"] = team["name"].astype(object) if "name" in team.columns else None
        t["capacity_hours"] = (
            pd.to_numeric(team["capacity_hours"], errors="coerce").astype(float)
            if "capacity_hours" in team.columns
            else np.nan
        )
        t = t.drop_duplicates("manager_id")
        out = t.merge(grouped, on="manager_id", how="outer")
    else:
        out = grouped.assign(name=None, capacity_hours=np.nan)
    out["key_accounts"] = out["key_accounts"].fillna(0).astype(int)
    out["hours_needed"] = out["hours_needed"].fillna(0.0).astype(float)
    cap = out["capacity_hours"].astype(float)
    out["utilisation"] = per(out["hours_needed"], cap)
    out["over_capacity"] = (out["hours_needed"] > cap).fillna(False).astype(bool)
    out["known"] = out["capacity_hours"].notna()
    out = out.sort_values(["hours_needed", "manager_id"], ascending=[False, True])
    cols = [
        "manager_id",
        "name",
        "key_accounts",
        "hours_needed",
        "capacity_hours",
        "utilisation",
        "over_capacity",
        "known",
    ]
    return out[cols].reset_index(drop=True)


@dataclass(frozen=True)
class TeamSizing:
    hours_needed: float
    team_capacity_hours: float | None  # sum of the team's capacity_hours
    typical_capacity_hours: float | None  # median capacity of one manager
    managers_in_team: int
    managers_needed: int | None  # ceil(hours needed / typical capacity)


def team_sizing(
    portfolio: pd.DataFrame, policy: Policy, team: pd.DataFrame | None = None
) -> TeamSizing:
    """How many managers of the team's median capacity the key-account list needs."""
    total = float(hours_needed(portfolio, policy)[_key_mask(portfolio)].sum())
    caps = (
        pd.to_numeric(team["capacity_hours"], errors="coerce").dropna()
        if team is not None and "capacity_hours" in team.columns
        else pd.Series(dtype=float)
    )
    caps = caps[caps > 0]
    if caps.empty:
        return TeamSizing(total, None, None, 0 if team is None else len(team), None)
    typical = float(caps.median())
    return TeamSizing(
        hours_needed=total,
        team_capacity_hours=float(caps.sum()),
        typical_capacity_hours=typical,
        managers_in_team=len(team) if team is not None else 0,
        managers_needed=int(math.ceil(total / typical - 1e-9)),
    )

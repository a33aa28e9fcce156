"""Workload per tier and per manager (keyfolio.allocation), on hand-made portfolios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from keyfolio.allocation import (
    UNASSIGNED,
    hours_needed,
    team_sizing,
    workload_by_manager,
    workload_by_tier,
)
from keyfolio.policy import parse_policy

POLICY = parse_policy(
    "[selection]\ncapacity_hours = 1000\nhours = { large = 400, medium = 250, small = 100 }\n"
)


def _pf() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e", "f"],
            "size_tier": ["large", "large", "medium", "small", None, "small"],
            "is_key": [True, True, True, False, True, True],
            "owner": ["m1", "m1", "m2", "m2", None, "m9"],
        }
    )


def test_hours_from_tier_or_the_portfolio_column() -> None:
    pf = _pf()
    assert hours_needed(pf, POLICY).tolist() == [400, 400, 250, 100, 100, 100]
    pf["hours_needed"] = [10.0, np.nan, 30.0, 40.0, 50.0, 60.0]
    assert hours_needed(pf, POLICY).tolist() == [10, 400, 30, 40, 50, 60]


def test_workload_by_tier_against_capacity() -> None:
    t = workload_by_tier(_pf(), POLICY).set_index("tier")
    assert t.loc["large", "key_accounts"] == 2 and t.loc["large", "hours_needed"] == 800
    assert t.loc["medium", "hours_needed"] == 250
    assert t.loc["small", "key_accounts"] == 2  # the account without a tier counts as small
    assert t.loc["small", "hours_per_account"] == 100
    assert t.loc["total", "hours_needed"] == 1250
    assert t.loc["total", "capacity_hours"] == 1000
    assert t.loc["total", "share_of_capacity"] == pytest.approx(1.25)
    assert math.isnan(t.loc["large", "capacity_hours"])


def test_workload_by_manager_joins_the_team() -> None:
    team = pd.DataFrame(
        {"manager_id": ["m1", "m2", "m3"], "name": ["Ann", "Bo", "Cy"],
         "capacity_hours": [600.0, 300.0, 500.0]}
    )  # fmt: skip
    m = workload_by_manager(_pf(), POLICY, team).set_index("manager_id")
    assert m.loc["m1", "hours_needed"] == 800 and bool(m.loc["m1", "over_capacity"])
    assert m.loc["m1", "utilisation"] == pytest.approx(800 / 600)
    assert m.loc["m2", "key_accounts"] == 1 and not bool(m.loc["m2", "over_capacity"])
    assert m.loc["m3", "key_accounts"] == 0 and m.loc["m3", "hours_needed"] == 0  # idle manager
    assert m.loc["m9", "known"] == False and math.isnan(m.loc["m9", "capacity_hours"])  # noqa: E712
    assert m.loc[UNASSIGNED, "hours_needed"] == 100
    assert m["hours_needed"].sum() == 1250


def test_workload_by_manager_without_owners_or_team() -> None:
    pf = _pf().assign(owner=None)
    assert workload_by_manager(pf, POLICY) is None
    m = workload_by_manager(_pf(), POLICY)
    assert m is not None and m["capacity_hours"].isna().all()


def test_team_sizing() -> None:
    team = pd.DataFrame({"manager_id": ["m1", "m2", "m3"], "capacity_hours": [400, 500, 600]})
    ts = team_sizing(_pf(), POLICY, team)
    assert ts.hours_needed == 1250 and ts.typical_capacity_hours == 500
    assert ts.managers_needed == 3 and ts.team_capacity_hours == 1500
    assert team_sizing(_pf(), POLICY).managers_needed is None

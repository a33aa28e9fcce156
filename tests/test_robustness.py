"""Robustness: reproducible under a seed; p_key 1 far above the bar, 0 far below."""

from __future__ import annotations

import numpy as np
import pandas as pd

from keyfolio.policy import parse_policy
from synthetic import ROBUSTNESS_POLICY, define_key_accounts, make_portfolio

POLICY = (
    ROBUSTNESS_POLICY
    + """{hours}
[robustness]
draws = 300
seed = 7
concentration = 20
"""
)


def assessments(pf: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ids = pf["account_id"].tolist()
    first = rng.integers(1, 6, len(ids))
    second = np.clip(first + rng.integers(-1, 2, len(ids)), 1, 5)  # assessors differ by <= 1
    return pd.DataFrame(
        {
            "account_id": ids * 2,
            "criterion": "fit",
            "score": np.concatenate([first, second]).astype(float),
            "assessor": ["p"] * len(ids) + ["q"] * len(ids),
        }
    )


def test_reproducible_and_extremes() -> None:
    pf = make_portfolio(300, seed=2)
    ass = assessments(pf)
    equal = POLICY.replace("{hours}", "hours = { large = 250, medium = 250, small = 250 }")
    pol = parse_policy(equal)
    a = define_key_accounts(pf, policy=pol, assessments=ass)
    b = define_key_accounts(pf, policy=pol, assessments=ass)
    np.testing.assert_array_equal(a.portfolio["p_key"], b.portfolio["p_key"])
    c = define_key_accounts(
        pf, policy=parse_policy(equal.replace("seed = 7", "seed = 8")), assessments=ass
    )
    assert not np.array_equal(a.portfolio["p_key"], c.portfolio["p_key"])
    p = a.portfolio
    assert p["p_key"].between(0, 1).all()
    bar = a.selection["bar"]
    far_above = p["attractiveness"] > bar + 12
    # no weighting can lift an account whose best criterion score (assessment + its spread,
    # assessors differ by <= 1 point = 25 on 0-100) stays under the bar
    best = a.contributions.groupby("account_id")["score"].max()
    far_below = (best.reindex(p["account_id"]).to_numpy() + 25) < bar
    assert far_above.any() and far_below.any()
    assert (p.loc[far_above, "p_key"] == 1.0).all()
    assert (p.loc[far_below, "p_key"] == 0.0).all()
    contested = p["p_key"].between(0.2, 0.8)
    assert contested.any()
    assert set(a.contested["account_id"]) == set(p.loc[contested, "account_id"])
    assert a.selection["robustness"]["solver"].startswith("exact")
    # expected number of key accounts per draw is close to the run's
    assert abs(p["p_key"].sum() - p["is_key"].sum()) < 0.25 * p["is_key"].sum()


def test_group_caps_use_highs_per_draw_and_non_score_objective_is_degenerate() -> None:
    pf = make_portfolio(60, seed=4)
    text = (
        POLICY.replace("{hours}", "")
        .replace(
            "capacity_hours = 5000",
            'capacity_hours = 3000\ncapacity_by = "region"\ncapacity = { EMEA = 800 }',
        )
        .replace("draws = 300", "draws = 20")
    )
    d = define_key_accounts(pf, policy=parse_policy(text))
    assert d.selection["robustness"]["solver"] == "HiGHS MIP per draw"
    p = d.portfolio
    assert p.loc[p["is_key"] & (p["region"] == "EMEA"), "hours_needed"].sum() <= 800
    assert "region:EMEA" in d.selection["capacity"]
    obj = POLICY.replace("{hours}", "").replace(
        "[selection]", '[selection]\nobjective = "net_contribution"\nvalue = "per_account"'
    )
    d = define_key_accounts(pf, policy=parse_policy(obj))
    assert (d.portfolio["p_key"] == d.portfolio["is_key"].astype(float)).all()
    assert any("does not depend on the criteria weights" in w for w in d.warnings)


def test_every_draw_runs_at_20k_accounts() -> None:
    # speed is measured in benchmarks/bench_select.py, not asserted here (no timed tests)
    pf = make_portfolio(20_000, seed=5)
    text = POLICY.replace("{hours}", "").replace("capacity_hours = 5000", "capacity_hours = 60000")
    pol = parse_policy(
        text.replace("concentration = 20", "concentration = 20\ntime_limit_s = 3600")
    )
    d = define_key_accounts(pf, policy=pol, assessments=assessments(pf))
    assert d.selection["robustness"]["draws"] == 300

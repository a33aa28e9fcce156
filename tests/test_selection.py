"""The key-account definition end to end on synthetic portfolios with planted truth."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keyfolio.analysis.diff import diff_runs
from keyfolio.analysis.explain import explain_account
from keyfolio.errors import PolicyError
from keyfolio.overrides import Override
from keyfolio.policy import parse_policy
from synthetic import define_key_accounts, make_portfolio, write_definition

BASE = """
[[attractiveness]]
name = "contribution"
source = "metric:net_contribution"
weight = 3

[[attractiveness]]
name = "growth"
source = "metric:revenue_growth"
weight = 2

[[attractiveness]]
name = "margin"
source = "metric:cm_pct"
weight = 1

[[strength]]
name = "wallet"
source = "metric:share_of_wallet"
scale = "minmax"

[selection]
capacity_hours = 4000
never = ["status = 'closed'"]

[robustness]
draws = 200
"""


def policy(extra: str = "", base: str = BASE):  # type: ignore[no-untyped-def]
    return parse_policy(base + extra)


@pytest.fixture(scope="module")
def pf() -> pd.DataFrame:
    return make_portfolio(400, seed=1)


@pytest.fixture(scope="module")
def defn(pf: pd.DataFrame):  # type: ignore[no-untyped-def]
    return define_key_accounts(pf, policy=policy())


def test_planted_truth(defn) -> None:  # type: ignore[no-untyped-def]
    p = defn.portfolio
    assert p.loc[p["planted"] == "star", "is_key"].all()
    assert not p.loc[p["planted"] == "destroyer", "is_key"].any()
    assert (p.loc[p["planted"] == "destroyer", "quadrant"] != "strategic").all()
    assert not p.loc[p["status"] == "closed", "is_key"].any()


def test_capacity_holds_and_binds(defn) -> None:  # type: ignore[no-untyped-def]
    p = defn.portfolio
    used = p.loc[p["is_key"], "hours_needed"].sum()
    cap = defn.selection["capacity"]["capacity_hours"]
    assert used <= 4000 and cap["used"] == used and cap["available"] == 4000
    # binding: no left-out candidate would fit in the slack
    left = p[~p["is_key"] & (p["status"] != "closed")]
    assert (left["hours_needed"] > 4000 - used).all() == cap["binding"]
    assert defn.selection["status"] == "Optimal"
    assert defn.selection["n_key"] == int(p["is_key"].sum())
    assert defn.selection["solver"].startswith("exact")


def test_summary_names_last_in_and_first_out(defn) -> None:  # type: ignore[no-untyped-def]
    s = defn.selection
    p = defn.portfolio.set_index("account_id")
    li, fo = s["last_in"], s["first_out"]
    assert p.at[li["account_id"], "is_key"] and not p.at[fo["account_id"], "is_key"]
    assert s["margin"] == pytest.approx(li["score"] - fo["score"])
    key = p[p["is_key"]]
    assert li["score"] == pytest.approx(key["attractiveness"].min())
    json.dumps(s)  # serialisable


def test_override_in_counts_against_capacity(pf: pd.DataFrame) -> None:
    dest = pf.loc[pf["planted"] == "destroyer", "account_id"].iloc[0]
    star = pf.loc[pf["planted"] == "star", "account_id"].iloc[0]
    ovs = [
        Override(dest, "in", "strategic reference customer", "ceo", datetime(2026, 1, 5)),
        Override(star, "out", "in litigation", "legal", datetime(2026, 1, 6)),
    ]
    d = define_key_accounts(pf, policy=policy(), overrides=ovs)
    p = d.portfolio.set_index("account_id")
    assert p.at[dest, "is_key"] and p.at[dest, "decision"] == "overridden"
    assert not p.at[star, "is_key"] and p.at[star, "decision"] == "overridden"
    assert "strategic reference customer" in p.at[dest, "reasons"]
    assert p.loc[p["is_key"], "hours_needed"].sum() <= 4000
    assert p.at[dest, "p_key"] == 1.0 and p.at[star, "p_key"] == 0.0
    assert len(d.selection["overrides"]) == 2


def test_weight_change_moves_the_right_accounts(pf: pd.DataFrame) -> None:
    one = """
[[attractiveness]]
name = "m"
source = "metric:{col}"
[selection]
capacity_hours = 1000
hours = {{ large = 100, medium = 100, small = 100 }}
never = ["status = 'closed'"]
[robustness]
draws = 0
"""
    open_ = pf[pf["status"] != "closed"]
    for col in ("revenue_growth", "net_contribution"):
        d = define_key_accounts(pf, policy=parse_policy(one.format(col=col)))
        key = set(d.portfolio.loc[d.portfolio["is_key"], "account_id"])
        assert key == set(open_.nlargest(10, col)["account_id"])


def test_unknown_column_is_a_policy_error_but_value_metrics_degrade(pf: pd.DataFrame) -> None:
    bad = '[[attractiveness]]\nname = "x"\nsource = "metric:turnover"\n'
    with pytest.raises(PolicyError, match=r"criterion 'x'.*'turnover'.*available columns"):
        define_key_accounts(pf, policy=parse_policy(bad))
    ok = '[[attractiveness]]\nname = "pp"\nsource = "metric:clv"\n'
    d = define_key_accounts(pf, policy=parse_policy(ok + "[robustness]\ndraws = 0\n"))
    assert any("pp" in w and "value stage" in w for w in d.warnings)
    assert (d.portfolio["attractiveness"] == 50).all()


def test_must_forced_in_and_infeasible_must_warns(pf: pd.DataFrame) -> None:
    low = pf.loc[pf["planted"] == "destroyer", "account_id"].iloc[0]
    d = define_key_accounts(pf, policy=policy(), declared=None)
    assert not d.portfolio.set_index("account_id").at[low, "is_key"]
    extra = BASE.replace("[selection]", f"[selection]\nmust = [\"account_id = '{low}'\"]")
    d = define_key_accounts(pf, policy=parse_policy(extra))
    p = d.portfolio.set_index("account_id")
    assert p.at[low, "is_key"] and "must rule" in p.at[low, "reasons"]
    every = BASE.replace("[selection]", '[selection]\nmust = ["revenue > 0"]')
    d = define_key_accounts(pf, policy=parse_policy(every))
    assert any("must rules name" in w for w in d.warnings)
    assert d.portfolio.loc[d.portfolio["is_key"], "hours_needed"].sum() <= 4000


def test_not_assessed_excludes_with_reason(pf: pd.DataFrame) -> None:
    extra = """
[[attractiveness]]
name = "fit"
source = "assessment:aligned_strategy"
scale = "direct"
missing = "exclude"
"""
    stars = pf.loc[pf["planted"] == "star", "account_id"].tolist()
    assessed = [a for a in pf["account_id"] if a != stars[0]]
    ass = pd.DataFrame(
        {"account_id": assessed * 2, "criterion": "aligned_strategy",
         "score": [4.0] * len(assessed) + [5.0] * len(assessed), "assessor": "x"}
    )  # fmt: skip
    ass.loc[0, "score"] = 1.0  # assessors disagree on the first account (1 vs 5)
    d = define_key_accounts(pf, policy=policy(extra), assessments=ass)
    p = d.portfolio.set_index("account_id")
    assert p.at[stars[0], "not_assessed"] and not p.at[stars[0], "is_key"]
    assert "not assessed on fit" in p.at[stars[0], "reasons"]
    assert p.at[assessed[0], "assessors_disagree"]
    assert p["assessors_disagree"].sum() == 1


def hyst_portfolio(scores: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": list(scores),
            "name": [f"Account {a}" for a in scores],
            "selectable": True,
            "status": "active",
            "size_tier": "small",
            "revenue_growth": 0.0,
            "score": list(scores.values()),
        }
    )


HYST = """
[[attractiveness]]
name = "s"
source = "metric:score"
scale = "direct"
[selection]
capacity_hours = 600
hours = { large = 150, medium = 150, small = 150 }
keep_margin = 5
[robustness]
draws = 100
"""


def test_hysteresis_and_diff(tmp_path: Path) -> None:
    pol = parse_policy(HYST)
    run1 = define_key_accounts(
        hyst_portfolio({"A": 90, "B": 85, "C": 80, "D": 78, "E": 60, "F": 50}), policy=pol
    )
    assert set(run1.portfolio.loc[run1.portfolio["is_key"], "account_id"]) == set("ABCD")
    assert (run1.portfolio.loc[run1.portfolio["is_key"], "decision"] == "selected").all()
    run2 = define_key_accounts(
        hyst_portfolio({"A": 90, "B": 85, "C": 77, "D": 60, "E": 79, "F": 78}),
        policy=pol, previous=run1.portfolio,
    )  # fmt: skip
    p = run2.portfolio.set_index("account_id")
    # incumbents count 5 more: A 95, B 90, C 82, D 65 against E 79, F 78; room for four
    assert run2.selection["bar"] == 79  # E, the last in
    assert run2.selection["last_in"]["account_id"] == "E"
    assert run2.selection["first_out"]["account_id"] == "F"
    assert p["decision"].to_dict() == {
        "A": "kept", "B": "kept", "C": "kept", "D": "deselected",
        "E": "selected", "F": "not selected",
    }  # fmt: skip
    assert "within keep_margin" in p.at["C", "reasons"]  # its own 77 is below the bar
    assert "below the bar" in p.at["D", "reasons"] and "keep_margin" in p.at["D", "reasons"]
    assert "below the bar 79.0" in p.at["F", "reasons"]
    assert p.loc[p["is_key"], "hours_needed"].sum() <= 600
    r1 = write_definition(run1, tmp_path / "r1")
    r2 = write_definition(run2, tmp_path / "r2")
    diff = diff_runs(r1, r2).changes.set_index("account_id")
    assert diff["change"].to_dict() == {"E": "entered", "D": "left"}
    assert "below the bar" in diff.at["D", "why"]
    assert diff.at["D", "decision"] == "deselected"


def test_explain_contributions_add_up(defn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = write_definition(defn, tmp_path)
    sel = json.loads((tmp_path / "selection.json").read_text())
    assert sel["n_key"] == defn.selection["n_key"]
    p = defn.portfolio.set_index("account_id")
    for acc in [p.index[0], p.index[17], defn.selection["last_in"]["account_id"]]:
        e = explain_account(run, acc)
        by = e.contributions.groupby("group")["contribution"].sum()
        assert by["attractiveness"] == pytest.approx(p.at[acc, "attractiveness"])
        assert by["strength"] == pytest.approx(p.at[acc, "strength"])
        assert e.account["decision"] == p.at[acc, "decision"]
        assert e.account["flip"]
        json.dumps(e.to_dict())
    c = defn.contributions
    sums = c.groupby(["account_id", "group"])["contribution"].sum().unstack()
    np.testing.assert_allclose(sums.loc[p.index, "attractiveness"], p["attractiveness"])


def test_flip_text_for_a_left_out_account(defn) -> None:  # type: ignore[no-untyped-def]
    p = defn.portfolio.set_index("account_id")
    bar = defn.selection["bar"]
    out = p[~p["is_key"] & (p["attractiveness"] < bar) & (p["status"] != "closed")]
    acc = out["attractiveness"].idxmax()
    delta = bar - out.at[acc, "attractiveness"]
    assert f"attractiveness +{delta + 0.05:.1f} points" in p.at[acc, "flip"]


def test_members_are_not_selected_groups_are() -> None:
    pf = make_portfolio(30, seed=3)
    pf.loc[0:2, ["group_id", "in_group", "selectable"]] = ["A000029", True, False]
    d = define_key_accounts(pf, policy=policy())
    m = d.portfolio.iloc[0:3]
    assert not m["is_key"].any() and m["reasons"].str.contains("member of group A000029").all()
    assert m["p_key"].isna().all()

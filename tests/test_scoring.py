"""Criteria scales, missing rules, assessments and contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keyfolio.errors import PolicyError
from keyfolio.policy import parse_policy
from keyfolio.scoring import score_portfolio


def pf() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "x": [10.0, 20.0, 20.0, 40.0, np.nan],
            "leader": [True, False, None, True, False],
            "country": ["DE", "FR", "DE", "US", "XX"],
            "cts_share": [0.1, 0.2, 0.3, 0.4, 0.5],
        }
    )


def crit(body: str, extra: str = "") -> str:
    return f'[[attractiveness]]\nname = "c"\n{body}\n' + extra


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('source = "metric:x"', [0, 50, 50, 100, 50]),  # percentile, ties share, NaN neutral
        ('source = "metric:x"\nscale = "minmax"', [0, 100 / 3, 100 / 3, 100, 50]),
        ('source = "metric:x"\nscale = "bands"\nbands = [15, 30]', [0, 50, 50, 100, 50]),
        ('source = "metric:x"\nscale = "direct"\nrange = [0, 40]', [25, 50, 50, 100, 50]),
        ('source = "attribute:leader"\nscale = "map"\nmap = { true = 100, false = 20 }',
         [100, 20, 50, 100, 20]),
        ('source = "attribute:country"\nscale = "map"\nmap = { de = 80, FR = 40, US = 10 }',
         [80, 40, 80, 10, 50]),
        ('source = "metric:cts_share"\nscale = "minmax"\ninvert = true', [100, 75, 50, 25, 0]),
        ('source = "metric:x"\nscale = "minmax"\nmissing = "median"',
         [0, 100 / 3, 100 / 3, 100, 100 / 3]),
    ],
)  # fmt: skip
def test_scales(body: str, expected: list[float]) -> None:
    s = score_portfolio(pf(), parse_policy(crit(body)))
    np.testing.assert_allclose(s.criteria[0].score, expected, atol=1e-9)
    np.testing.assert_allclose(s.attractiveness, expected, atol=1e-9)


def test_weights_are_normalised_and_contributions_add_up() -> None:
    text = crit('source = "metric:x"\nweight = 3') + (
        '[[attractiveness]]\nname = "d"\nsource = "metric:cts_share"\nweight = 1\n'
        '[[strength]]\nname = "s"\nsource = "metric:x"\nscale = "minmax"\n'
    )
    s = score_portfolio(pf(), parse_policy(text))
    assert s.weights("attractiveness").tolist() == [0.75, 0.25]
    c = s.contributions()
    sums = c.groupby(["account_id", "group"])["contribution"].sum().unstack()
    np.testing.assert_allclose(sums.loc[list("abcde"), "attractiveness"], s.attractiveness)
    np.testing.assert_allclose(sums.loc[list("abcde"), "strength"], s.strength)
    assert c.loc[(c["account_id"] == "e") & (c["criterion"] == "c"), "missing"].item() == "neutral"


def test_assessments_mean_spread_disagreement_and_exclude() -> None:
    ass = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "b", "c"],
            "criterion": "fit",
            "score": [1.0, 5.0, 4.0, 4.0, 3.0],
            "assessor": ["p", "q", "p", "q", "p"],
        }
    )
    text = crit(
        'source = "assessment:fit"\nscale = "direct"', "[assessments]\nmissing = 'exclude'\n"
    )
    s = score_portfolio(pf(), parse_policy(text), assessments=ass)
    c = s.criteria[0]
    np.testing.assert_allclose(c.score[:3], [50, 75, 50])  # mean 3, 4, 3 on 1..5
    assert c.n_assessors is not None and c.n_assessors.tolist() == [2, 2, 1, 0, 0]
    assert c.spread_lo is not None and c.spread_hi is not None
    assert (c.spread_lo[0], c.spread_hi[0]) == (0.0, 100.0)
    assert s.assessors_disagree.tolist() == [True, False, False, False, False]
    assert s.not_assessed.tolist() == [False, False, False, True, True]
    assert s.not_assessed_on[3] == "c"


def test_missing_sources() -> None:
    text = crit('source = "assessment:brand_value"\nscale = "direct"')
    s = score_portfolio(pf(), parse_policy(text), assessments=None)
    assert s.warnings[0] == (
        "criterion c: no assessments on 'brand_value' in this workspace; scored neutral"
    )
    assert (s.attractiveness == 50).all()
    with pytest.raises(PolicyError, match="criterion 'c'.*'nope'.*available columns: account_id"):
        score_portfolio(pf(), parse_policy(crit('source = "attribute:nope"')))
    with pytest.raises(PolicyError, match="needs numbers.*scale = 'map'"):
        score_portfolio(pf(), parse_policy(crit('source = "attribute:country"')))


def test_feedback_uses_latest_value() -> None:
    fb = pd.DataFrame(
        {
            "account_id": ["a", "a", "b"],
            "metric": "supplier_rating",
            "value": [2.0, 4.0, 5.0],
            "date": pd.to_datetime(["2025-01-01", "2025-06-01", "2025-01-01"]),
        }
    )
    text = crit('source = "feedback:supplier_rating"\nscale = "direct"\nrange = [1, 5]')
    s = score_portfolio(pf(), parse_policy(text), feedback=fb)
    np.testing.assert_allclose(s.attractiveness, [75, 100, 50, 50, 50])


def test_scales_are_fitted_on_the_candidates_only() -> None:
    """Adding a group head and its three members (not candidates themselves) must not move a
    stand-alone candidate's score; the members are scored on the candidates' scale."""
    base = pd.DataFrame({"account_id": ["a", "b", "c"], "x": [10.0, 20.0, 30.0],
                         "selectable": True})  # fmt: skip
    members = pd.DataFrame({"account_id": ["m1", "m2", "m3"], "x": [1.0, 2.0, 3.0],
                            "selectable": False})  # fmt: skip
    policy = parse_policy(crit('source = "metric:x"'))
    alone = score_portfolio(base, policy).attractiveness
    both = score_portfolio(pd.concat([base, members], ignore_index=True), policy).attractiveness
    np.testing.assert_allclose(both[:3], alone)  # 0, 50, 100 both times
    np.testing.assert_allclose(both[3:], 0.0)  # below every candidate
    minmax = parse_policy(crit('source = "metric:x"\nscale = "minmax"'))
    both = score_portfolio(pd.concat([base, members], ignore_index=True), minmax).attractiveness
    np.testing.assert_allclose(both[:3], [0.0, 50.0, 100.0])


def test_lowest_missing_rule_and_a_flat_score_is_said() -> None:
    df = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "g": [0.1, -0.2, np.nan, 0.3],
                       "one": 1.0})  # fmt: skip
    text = crit('source = "metric:g"\nmissing = "lowest"') + (
        '[[strength]]\nname = "s"\nsource = "metric:one"\nscale = "minmax"\n'
    )
    s = score_portfolio(df, parse_policy(text))
    assert s.attractiveness[2] == 0.0  # a missing growth never beats a real bad one
    assert s.uninformative == ["strength"]
    assert any("strength has no informative data" in w for w in s.warnings)

"""Rules a programme lead can state about selection with hysteresis, checked on random
portfolios, capacities and previous lists (hypothesis):

(a) among previous key accounts (incumbents) that need the same hours, a key one is never
    worse than one left out;
(b) the same among newcomers;
(c) a newcomer is key over an incumbent with the same hours only if it scores more than
    ``keep_margin`` higher;
(d) the same data give the same list, in any row order;
(e) the stated last in is key and the stated first out is not;
and the capacity-cut scenario: cutting the capacity keeps the best of the previous list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyfolio.policy import SelectionPolicy, parse_policy
from keyfolio.selection.decide import Inputs, decide
from synthetic import define_key_accounts

HOURS = (150.0, 250.0, 400.0)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Inputs, SelectionPolicy]:
    n = draw(st.integers(1, 40))
    # scores on a coarse grid, so that ties and exact keep_margin distances happen
    score = np.array(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), float) * 2.5
    hours = np.array(draw(st.lists(st.sampled_from(HOURS), min_size=n, max_size=n)))
    prev = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    sel = SelectionPolicy(
        capacity_hours=float(draw(st.integers(0, 60)) * 50),
        keep_margin=draw(st.sampled_from([0.0, 2.5, 5.0, 10.0])),
        value=draw(st.sampled_from(["per_hour", "per_account"])),
        max_key_accounts=draw(st.one_of(st.none(), st.integers(0, 12))),
    )
    no = np.zeros(n, dtype=bool)
    inp = Inputs(
        account_id=np.array([f"A{i:03d}" for i in range(n)], dtype=object), objective=score,
        hours=hours, group=None, selectable=np.ones(n, bool), must=no, never=no,
        not_assessed=no, override_in=no, override_out=no, prev_key=prev,
    )  # fmt: skip
    return inp, sel


def _same_hours_pairs(inp: Inputs, mask_i: np.ndarray, mask_j: np.ndarray):  # type: ignore[no-untyped-def]
    for i in np.flatnonzero(mask_i):
        for j in np.flatnonzero(mask_j):
            if i != j and inp.hours[i] == inp.hours[j]:
                yield int(i), int(j)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_order_within_incumbents_and_within_newcomers(case) -> None:  # type: ignore[no-untyped-def]
    inp, sel = case
    key = decide(inp, sel).is_key
    v = inp.objective
    for group in (inp.prev_key, ~inp.prev_key):  # (a) incumbents, (b) newcomers
        for i, j in _same_hours_pairs(inp, group & key, group & ~key):
            assert v[i] >= v[j], (inp.account_id[i], inp.account_id[j])


@SETTINGS
@given(cases())
def test_a_newcomer_replaces_an_incumbent_only_by_more_than_keep_margin(case) -> None:  # type: ignore[no-untyped-def]
    inp, sel = case
    key = decide(inp, sel).is_key
    v = inp.objective
    for new, old in _same_hours_pairs(inp, ~inp.prev_key & key, inp.prev_key & ~key):
        assert v[new] > v[old] + sel.keep_margin  # (c)


@SETTINGS
@given(cases(), st.randoms(use_true_random=False))
def test_same_data_same_list_in_any_order(case, rnd) -> None:  # type: ignore[no-untyped-def]
    inp, sel = case
    first = decide(inp, sel)
    again = decide(inp, sel)
    assert first.is_key.tolist() == again.is_key.tolist()  # (d)
    perm = np.array(rnd.sample(range(len(inp.objective)), len(inp.objective)))
    shuffled = Inputs(**{k: (v[perm] if isinstance(v, np.ndarray) else v)
                         for k, v in inp.__dict__.items()})  # fmt: skip
    other = decide(shuffled, sel)
    assert set(shuffled.account_id[other.is_key]) == set(inp.account_id[first.is_key])


@SETTINGS
@given(cases())
def test_the_stated_last_in_is_key_and_first_out_is_not(case) -> None:  # type: ignore[no-untyped-def]
    inp, sel = case
    out = decide(inp, sel)
    if out.last_in is not None:
        assert out.is_key[out.last_in]  # (e)
        assert out.bar == out.adjusted[out.last_in]
    if out.first_out is not None:
        assert not out.is_key[out.first_out]
    chosen = np.flatnonzero(out.chosen)
    if len(chosen) and out.bar is not None:
        assert out.adjusted[chosen].min() == out.bar  # the bar is the lowest of the chosen
    assert inp.hours[out.is_key].sum() <= (sel.capacity_hours or 0) + 1e-9


POLICY = """
[[attractiveness]]
name = "contribution"
source = "metric:net_contribution"
[[attractiveness]]
name = "growth"
source = "metric:revenue_growth"
[selection]
capacity_hours = {cap}
keep_margin = 5
[robustness]
draws = 0
"""


def test_a_capacity_cut_keeps_the_best_of_the_previous_list() -> None:
    """Run, cut the capacity to a third, run again on the same data: the key accounts of the
    second run are the best of the first run's (per hours), and a third identical run keeps
    the same list."""
    from synthetic import make_portfolio

    pf = make_portfolio(300, seed=8)
    first = define_key_accounts(pf, policy=parse_policy(POLICY.format(cap=12000)))
    cut = parse_policy(POLICY.format(cap=4000))
    second = define_key_accounts(pf, policy=cut, previous=first.portfolio)
    third = define_key_accounts(pf, policy=cut, previous=second.portfolio)
    a, b = first.portfolio.set_index("account_id"), second.portfolio.set_index("account_id")
    was = a.index[a["is_key"]]
    now = b.index[b["is_key"]]
    assert len(was) > len(now) > 0 and set(now) <= set(was)  # nobody new at a third of it
    for hours, grp in b.loc[was].groupby("hours_needed"):
        kept = grp[grp["is_key"]]
        dropped = grp[~grp["is_key"]]
        if len(kept) and len(dropped):
            assert kept["attractiveness"].min() >= dropped["attractiveness"].max(), hours
    assert (b.loc[now, "decision"] == "kept").all()
    assert set(third.portfolio.loc[third.portfolio["is_key"], "account_id"]) == set(now)
    sel = second.selection
    assert sel["last_in"]["account_id"] in set(now)
    assert sel["first_out"]["account_id"] not in set(now)


def test_hysteresis_is_not_a_cage() -> None:
    """An incumbent that falls more than keep_margin below a newcomer with the same hours is
    replaced; one within keep_margin stays."""
    pf = pd.DataFrame({
        "account_id": ["OLD", "NEW"], "name": ["old", "new"], "selectable": True,
        "status": "active", "size_tier": "small", "revenue_growth": 0.0, "score": [70.0, 74.0],
    })  # fmt: skip
    text = """
[[attractiveness]]
name = "s"
source = "metric:score"
scale = "direct"
[selection]
capacity_hours = 150
keep_margin = {m}
[robustness]
draws = 0
"""
    prev = pd.DataFrame({"account_id": ["OLD", "NEW"], "is_key": [True, False]})
    for margin, key in ((5, "OLD"), (3, "NEW")):
        d = define_key_accounts(pf, policy=parse_policy(text.format(m=margin)), previous=prev)
        assert d.portfolio.loc[d.portfolio["is_key"], "account_id"].tolist() == [key], margin

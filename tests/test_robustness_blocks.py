"""The robustness draws' fast path (issue 13, item 5) gives the exact selection, and blocking
the draws changes nothing:

(a) the partition-based choice of a class's best ``b`` accounts is the stable sort's first
    ``b`` (ties in candidate order, -0.0 = 0.0, NaN last) on random value matrices;
(b) on random portfolios, every draw's selection of :func:`optimise.many` is feasible and as
    good as the best of all subsets (enumerated), and a draw's selection does not depend on
    which other draws share its block;
(c) p_key is the same whether the draws run in one block or in blocks of 7 (no assessor
    spread: the random stream is the weight draws alone), and, with assessors who differ,
    equals draw-by-draw selections by the run's own exact solver on the same random stream.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyfolio.policy import parse_policy
from keyfolio.selection import robustness as robustness_mod
from keyfolio.selection.exact import top_stable
from keyfolio.selection.optimise import Knapsack, many, solve_exact
from synthetic import ROBUSTNESS_POLICY, define_key_accounts, make_portfolio

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOURS = (150.0, 250.0, 400.0)


@st.composite
def value_matrices(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    m = draw(st.integers(1, 30))
    d = draw(st.integers(1, 4))
    grid = st.sampled_from([-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, np.inf, -np.inf, np.nan])
    cells = draw(st.lists(st.one_of(grid, st.floats(-5, 5)), min_size=m * d, max_size=m * d))
    return np.array(cells, dtype=float).reshape(m, d), draw(st.integers(0, m))


@SETTINGS
@given(value_matrices())
def test_top_b_is_the_stable_sort(case: tuple[np.ndarray, int]) -> None:
    values, b = case
    expected = np.argsort(-values, axis=0, kind="stable")[:b]
    np.testing.assert_array_equal(top_stable(values, b), expected)


@st.composite
def knapsacks(draw: st.DrawFn) -> tuple[Knapsack, np.ndarray]:
    n = draw(st.integers(1, 11))
    d = draw(st.integers(1, 5))
    hours = np.array(draw(st.lists(st.sampled_from(HOURS), min_size=n, max_size=n)))
    # values on a coarse grid (ties), some not positive
    cells = draw(st.lists(st.integers(-2, 12), min_size=n * d, max_size=n * d))
    values = np.array(cells, dtype=float).reshape(n, d) * 2.5
    capacity = float(draw(st.integers(0, 40)) * 50)
    max_count = draw(st.one_of(st.none(), st.integers(0, 6)))
    return Knapsack(np.zeros(n), hours, capacity, max_count), values


def _best(values: np.ndarray, k: Knapsack) -> float:
    """The optimum by enumerating every subset."""
    subsets = np.array(list(product([False, True], repeat=len(values))), dtype=bool)
    ok = subsets @ k.hours <= (k.capacity or 0.0) + 1e-9
    if k.max_count is not None:
        ok &= subsets.sum(axis=1) <= k.max_count
    return float((subsets[ok] @ values).max())


@SETTINGS
@given(knapsacks())
def test_each_draw_is_the_exact_optimum_whatever_its_block(
    case: tuple[Knapsack, np.ndarray],
) -> None:
    k, values = case
    chosen = many(k, values)
    for j in range(values.shape[1]):
        pick = chosen[:, j]
        assert k.hours[pick].sum() <= (k.capacity or 0.0) + 1e-9
        assert k.max_count is None or pick.sum() <= k.max_count
        assert values[pick, j].sum() == pytest.approx(_best(values[:, j], k), abs=1e-9)
        np.testing.assert_array_equal(many(k, values[:, [j]])[:, 0], pick)


POLICY = (
    ROBUSTNESS_POLICY
    + """[robustness]
draws = 60
seed = 11
concentration = 20
time_limit_s = 3600
"""
)


def _assessments(pf: pd.DataFrame, spread: bool) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ids = pf["account_id"].tolist()
    first = rng.integers(1, 6, len(ids))
    if not spread:
        return pd.DataFrame({"account_id": ids, "criterion": "fit", "score": first.astype(float),
                             "assessor": "p"})  # fmt: skip
    second = np.clip(first + rng.integers(-1, 2, len(ids)), 1, 5)
    return pd.DataFrame(
        {
            "account_id": ids * 2,
            "criterion": "fit",
            "score": np.concatenate([first, second]).astype(float),
            "assessor": ["p"] * len(ids) + ["q"] * len(ids),
        }
    )


def test_blocks_of_draws_give_the_same_p_key(monkeypatch: pytest.MonkeyPatch) -> None:
    pf = make_portfolio(300, seed=6)
    pol = parse_policy(POLICY)
    ass = _assessments(pf, spread=False)
    one = define_key_accounts(pf, policy=pol, assessments=ass)
    monkeypatch.setattr(robustness_mod, "BLOCK_ELEMENTS", 300 * 7)  # blocks of 7 draws
    blocked = define_key_accounts(pf, policy=pol, assessments=ass)
    assert one.selection["robustness"]["draws"] == blocked.selection["robustness"]["draws"] == 60
    np.testing.assert_array_equal(one.portfolio["p_key"], blocked.portfolio["p_key"])
    assert 0 < (one.portfolio["p_key"].between(0.01, 0.99)).sum()  # the draws do vary


def _draw_by_draw(defn, pol, block: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """p_key from one exact solve per draw, on the stream the run draws from: the Dirichlet
    weights for all draws, then per block of draws one (spread rows, block) array of
    uniforms per criterion whose assessors differ."""
    scores, rob = defn.scores, pol.robustness
    crits = scores.group("attractiveness")
    w = scores.weights("attractiveness")
    rng = np.random.default_rng(rob.seed)
    w_all = rng.dirichlet(rob.concentration * w, size=rob.draws).T
    s = np.column_stack([c.score for c in crits])
    hours = defn.portfolio["hours_needed"].to_numpy(dtype=float)
    counts = np.zeros(len(s))
    for start in range(0, rob.draws, block):
        wd = w_all[:, start : start + block]
        draws = np.repeat(s[:, :, None], wd.shape[1], axis=2)  # (n, criteria, draws)
        for j, c in enumerate(crits):
            if c.spread_lo is None or c.spread_hi is None:
                continue
            at = np.flatnonzero(c.spread_hi - c.spread_lo > 1e-12)
            if len(at):
                u = rng.random((len(at), wd.shape[1]))
                width = (c.spread_hi - c.spread_lo)[at, None]
                draws[at, j, :] = c.spread_lo[at, None] + u * width
        for d in range(wd.shape[1]):
            value = draws[:, :, d] @ wd[:, d] * hours  # value per hour of KAM time (default)
            k = Knapsack(value, hours, pol.selection.capacity_hours)
            counts += solve_exact(k).chosen
    return counts / rob.draws


@pytest.mark.parametrize("block_elements", [4_000_000, 300 * 9])
def test_draws_with_assessor_spread_equal_draw_by_draw_selection(
    monkeypatch: pytest.MonkeyPatch, block_elements: int
) -> None:
    pf = make_portfolio(300, seed=6)
    pol = parse_policy(POLICY)
    monkeypatch.setattr(robustness_mod, "BLOCK_ELEMENTS", block_elements)
    defn = define_key_accounts(pf, policy=pol, assessments=_assessments(pf, spread=True))
    block = min(60, block_elements // 300)
    expected = _draw_by_draw(defn, pol, block)
    np.testing.assert_allclose(defn.portfolio["p_key"].to_numpy(), expected, rtol=0, atol=0)

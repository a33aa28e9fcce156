"""Optimality: HiGHS and the exact greedy equal brute force on small random instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from keyfolio.selection.exact import NotApplicable, capacity_units, dp_many, greedy_many
from keyfolio.selection.optimise import (
    Knapsack,
    canonical,
    heuristic,
    many,
    solve,
    solve_exact,
    solve_mip,
)


def brute_force(p: Knapsack) -> tuple[float, np.ndarray]:
    n = len(p.value)
    best, best_x = 0.0, np.zeros(n, dtype=bool)
    for bits in itertools.product([False, True], repeat=n):
        x = np.array(bits, dtype=bool)
        if p.capacity is not None and p.hours[x].sum() > p.capacity + 1e-9:
            continue
        if p.max_count is not None and x.sum() > p.max_count:
            continue
        if p.group is not None and any(
            p.hours[x & (p.group == g)].sum() > c + 1e-9 for g, c in p.group_capacity.items()
        ):
            continue
        if p.value[x].sum() > best + 1e-12:
            best, best_x = float(p.value[x].sum()), x
    return best, best_x


def random_instance(rng: np.random.Generator, *, groups: bool) -> Knapsack:
    n = int(rng.integers(1, 12))
    value = rng.normal(20, 30, n)  # some negative: never worth choosing
    hours = rng.choice([150.0, 250.0, 400.0], n)
    cap = float(rng.integers(0, 1600)) if rng.random() < 0.85 else None
    k = int(rng.integers(0, 6)) if rng.random() < 0.5 else None
    if groups:
        grp = rng.choice(np.array(["EMEA", "APAC"], dtype=object), n)
        return Knapsack(value, hours, cap, k, grp, {"EMEA": float(rng.integers(0, 900))})
    return Knapsack(value, hours, cap, k)


@pytest.mark.parametrize("groups", [False, True])
def test_mip_equals_brute_force(groups: bool) -> None:
    rng = np.random.default_rng(7 if groups else 3)
    for _ in range(120):
        p = random_instance(rng, groups=groups)
        best, best_x = brute_force(p)
        sol = solve_mip(p, mip_rel_gap=0.0)
        assert sol.objective == pytest.approx(best, abs=1e-6)
        assert sol.chosen.tolist() == best_x.tolist()  # continuous values: unique optimum
        assert sol.gap == 0.0 or np.isnan(sol.gap) or sol.gap < 1e-9


def test_exact_methods_equal_brute_force() -> None:
    """The programme over capacity units (no count limit) and the enumeration of counts
    (with one) both find the brute-force optimum."""
    rng = np.random.default_rng(11)
    used = set()
    for _ in range(300):
        p = random_instance(rng, groups=False)
        best, best_x = brute_force(p)
        sol = solve_exact(p)
        used.add(sol.solver)
        assert sol.objective == pytest.approx(best, abs=1e-6)
        assert sol.chosen.tolist() == best_x.tolist()
    assert {"exact dynamic programme (capacity units)", "exact greedy (tier prefix sums)"} <= used


def test_dp_and_greedy_solve_each_column() -> None:
    rng = np.random.default_rng(5)
    hours = rng.choice([150.0, 250.0, 400.0], 10)
    values = rng.uniform(0.5, 30, (10, 25))
    for chosen, k in ((dp_many(values, hours, 1000.0), None),
                      (greedy_many(values, hours, 1000.0, 4), 4)):  # fmt: skip
        for d in range(values.shape[1]):
            best, best_x = brute_force(Knapsack(values[:, d], hours, 1000.0, k))
            assert chosen[:, d].tolist() == best_x.tolist()


def test_capacity_units_are_the_hours_greatest_common_divisor() -> None:
    units, cap = capacity_units(np.array([400.0, 250.0, 150.0, 400.0]), 12_000.0)  # type: ignore[misc]
    assert units.tolist() == [8, 5, 3, 8] and cap == 240  # 50-hour units
    units, cap = capacity_units(np.array([7.5, 2.5]), 11.0)  # type: ignore[misc]
    assert units.tolist() == [3, 1] and cap == 4
    units, cap = capacity_units(np.array([1 / 3, 1.0]), 2.0)  # type: ignore[misc]
    assert units.tolist() == [1, 3] and cap == 6
    assert capacity_units(np.array([np.pi, 1.0]), 10.0) is None  # no common unit


def test_exact_methods_refuse_group_caps() -> None:
    p = Knapsack(np.ones(2), np.ones(2), 1.0, None, np.array(["a", "b"]), {"a": 1.0})
    with pytest.raises(NotApplicable):
        solve_exact(p)
    with pytest.raises(NotApplicable):
        many(p, np.ones((2, 1)))


def test_ties_are_broken_by_rank_whichever_solver_runs() -> None:
    """Six equal accounts, room for three: the three with the lowest rank, from the exact
    methods and from HiGHS (with a group cap that does not bind) alike."""
    value, hours = np.full(6, 10.0), np.full(6, 100.0)
    rank = np.array([5, 3, 0, 4, 1, 2])
    expected = (rank < 3).tolist()
    assert solve(Knapsack(value, hours, 300.0, rank=rank)).chosen.tolist() == expected
    grp = np.array(["a"] * 6, dtype=object)
    p = Knapsack(value, hours, 300.0, None, grp, {"a": 1000.0}, rank=rank)
    assert solve(p).chosen.tolist() == expected
    # canonical keeps the count per hours and group, and takes the best values
    p = Knapsack(np.array([1.0, 5.0, 3.0, 5.0]), np.full(4, 10.0), 20.0)
    assert canonical(p, np.array([True, False, True, False])).tolist() == [False, True, False, True]


def test_mip_never_returns_less_than_the_heuristic_and_respects_caps() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    grp = rng.choice(np.array(["EMEA", "APAC"], dtype=object), n)
    p = Knapsack(rng.uniform(1, 100, n), rng.choice([150.0, 250.0, 400.0], n), 20_000.0, 90,
                 grp, {"EMEA": 9000.0})  # fmt: skip
    seed = heuristic(p)
    sol = solve_mip(p, time_limit=20, mip_rel_gap=1e-6)
    assert p.hours[sol.chosen].sum() <= 20_000.0 and sol.chosen.sum() <= 90
    assert p.hours[sol.chosen & (grp == "EMEA")].sum() <= 9000.0
    assert sol.objective >= p.value[seed].sum() - 1e-9
    # a tiny time limit: at least the heuristic's solution, never an empty list
    quick = solve_mip(p, time_limit=1e-6)
    assert quick.chosen.sum() > 0 and quick.objective >= p.value[seed].sum() - 1e-9


def test_the_mip_solver_writes_nothing_on_stdout() -> None:
    """``--json`` output must stay parseable: HiGHS' banner and log never reach stdout."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from keyfolio.selection.optimise import Knapsack, solve_mip\n"
        "p = Knapsack(value=np.array([3.0, 2.0, 4.0]), hours=np.array([2.0, 1.0, 3.0]),\n"
        "             capacity=3.0, group=np.array(['a', 'a', 'b']), group_capacity={'a': 2.0})\n"
        "s = solve_mip(p)\n"
        "assert s.solver == 'HiGHS MIP' and s.chosen.tolist() == [False, False, True], s\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout == ""

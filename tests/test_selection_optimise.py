"""Optimality: HiGHS and the exact greedy equal brute force on small random instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from keyfolio.selection.optimise import (
    GreedyNotApplicable,
    Knapsack,
    greedy_many,
    solve_greedy,
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


def test_greedy_equals_brute_force() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        p = random_instance(rng, groups=False)
        best, best_x = brute_force(p)
        sol = solve_greedy(p)
        assert sol.objective == pytest.approx(best, abs=1e-6)
        assert sol.chosen.tolist() == best_x.tolist()


def test_greedy_many_solves_each_column() -> None:
    rng = np.random.default_rng(5)
    p = Knapsack(np.zeros(10), rng.choice([150.0, 250.0, 400.0], 10), 1000.0, 4)
    values = rng.normal(10, 20, (10, 25))
    chosen = greedy_many(p, values)
    for d in range(values.shape[1]):
        best, best_x = brute_force(Knapsack(values[:, d], p.hours, p.capacity, p.max_count))
        assert chosen[:, d].tolist() == best_x.tolist()


def test_greedy_refuses_group_caps() -> None:
    p = Knapsack(np.ones(2), np.ones(2), 1.0, None, np.array(["a", "b"]), {"a": 1.0})
    with pytest.raises(GreedyNotApplicable):
        greedy_many(p, np.ones((2, 1)))


def test_mip_respects_capacity_exactly_on_a_larger_instance() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    p = Knapsack(rng.uniform(1, 100, n), rng.choice([150.0, 250.0, 400.0], n), 20_000.0, 90)
    sol = solve_mip(p, time_limit=20, mip_rel_gap=1e-6)
    assert p.hours[sol.chosen].sum() <= 20_000.0
    assert sol.chosen.sum() <= 90
    greedy = solve_greedy(p)
    assert sol.objective == pytest.approx(greedy.objective, rel=1e-5)


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

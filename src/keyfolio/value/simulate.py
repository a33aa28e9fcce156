"""Draw customers from the BG/NBD and Gamma-Gamma generative processes (vectorised, seeded).

Used by the tests (parameter recovery) and the benchmark. Each customer's first purchase is at
time 0; repeat purchases follow a Poisson process with rate ``lambda ~ Gamma(r, rate alpha)``
and the customer drops out right after each repeat purchase with probability
``p ~ Beta(a, b)``. So the number of repeat purchases in ``(0, T]`` is ``min(N, J)`` with
``N ~ Poisson(lambda T)`` (events of the uninterrupted process) and ``J ~ Geometric(p)`` (the
purchase after which it drops out); the time of the x-th of the N uniform event times is
``T · Beta(x, N - x + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from keyfolio.value._math import FloatArray


@dataclass(frozen=True)
class SimulatedCustomers:
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray  # mean value of the repeat purchases, 0 when frequency = 0


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def simulate_bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: Any,
    seed: int | np.random.Generator | None = None,
    time_step: float | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(frequency, recency, T) of ``n`` simulated customers.

    ``T`` is a scalar or ``n`` observation lengths. ``time_step`` (e.g. 1/7 for days when the
    unit is weeks) rounds T and the last purchase time down to that grid (at least one step for
    repeat buyers), which creates the ties of dated order data so that many rows repeat; it
    does not merge purchases on the same grid point, so it is an approximation of daily data.
    """
    rng = _rng(seed)
    t_obs = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    events = rng.poisson(lam * t_obs)
    drop_at = rng.geometric(np.clip(p, 1e-300, 1.0))
    x = np.minimum(events, drop_at).astype(float)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = t_obs[pos] * rng.beta(x[pos], events[pos] - x[pos] + 1.0)
    if time_step is not None:
        t_obs = np.floor(t_obs / time_step + 1e-9) * time_step
        tx = np.minimum(np.floor(tx / time_step) * time_step, t_obs)
        tx[pos] = np.maximum(tx[pos], time_step)
        tx = np.minimum(tx, t_obs)
    return x, tx, t_obs


def simulate_gamma_gamma(
    frequency: Any,
    *,
    p: float,
    q: float,
    v: float,
    seed: int | np.random.Generator | None = None,
) -> FloatArray:
    """Mean repeat-purchase value per customer (0 where frequency = 0)."""
    rng = _rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / v, size=x.shape)
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = rng.gamma(p * x[pos], 1.0 / nu[pos]) / x[pos]
    return out


def simulate_customers(
    n: int,
    *,
    bgnbd: dict[str, float],
    gamma_gamma: dict[str, float],
    T: Any,
    seed: int | None = None,
    time_step: float | None = None,
) -> SimulatedCustomers:
    """Customers with purchase history from BG/NBD and spend from Gamma-Gamma."""
    rng = np.random.default_rng(seed)
    x, tx, t_obs = simulate_bgnbd(n, T=T, seed=rng, time_step=time_step, **bgnbd)
    m = simulate_gamma_gamma(x, seed=rng, **gamma_gamma)
    return SimulatedCustomers(x, tx, t_obs, m)

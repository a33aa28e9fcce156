"""BG/NBD and Gamma-Gamma: gradients, parameter recovery, numerical stability, input errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.optimize import approx_fprime, check_grad
from scipy.special import betaln, hyp2f1

from keyfolio.errors import ModelError
from keyfolio.value import BetaGeo, GammaGamma, simulate_bgnbd, simulate_customers
from keyfolio.value.bgnbd import bgnbd_loglik
from keyfolio.value.gamma_gamma import gamma_gamma_loglik

TRUE_BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 6.0, "q": 3.8, "v": 15.0}


@pytest.fixture(scope="module")
def sim():
    t_obs = np.random.default_rng(7).uniform(26.0, 52.0, 20_000)
    return simulate_customers(20_000, bgnbd=TRUE_BG, gamma_gamma=TRUE_GG, T=t_obs, seed=11)


def fitted(r=0.25, alpha=4.0, a=0.8, b=2.5) -> BetaGeo:
    m = BetaGeo()
    m.r_, m.alpha_, m.a_, m.b_ = r, alpha, a, b
    return m


def _std_errors(grad_fn, theta: np.ndarray) -> np.ndarray:
    """Standard errors from the observed information (finite-difference Hessian of the score)."""
    h = np.empty((len(theta), len(theta)))
    for i in range(len(theta)):
        e = np.zeros(len(theta))
        e[i] = 1e-5 * theta[i]
        h[i] = (grad_fn(theta + e) - grad_fn(theta - e)) / (2 * e[i])
    return np.sqrt(np.diag(np.linalg.inv(-(h + h.T) / 2)))


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("params", [(0.25, 4.0, 0.8, 2.5), (2.0, 0.3, 3.0, 0.7)])
def test_bgnbd_gradient_matches_finite_differences(sim, params):
    x, tx, t_obs = sim.frequency[:500], sim.recency[:500], sim.T[:500]

    def f(p):
        return float(bgnbd_loglik(p, x, tx, t_obs)[0].sum())

    def g(p):
        return bgnbd_loglik(p, x, tx, t_obs)[1].sum(axis=1)

    p0 = np.array(params)
    err = check_grad(f, g, p0, epsilon=1e-7)
    assert err < 1e-4 * max(1.0, np.abs(g(p0)).max())
    fd = approx_fprime(p0, f, 1e-7)
    np.testing.assert_allclose(g(p0), fd, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("params", [(6.0, 3.8, 15.0), (0.7, 1.5, 2.0)])
def test_gamma_gamma_gradient_matches_finite_differences(sim, params):
    pos = sim.frequency > 0
    x, m = sim.frequency[pos][:500], sim.monetary_value[pos][:500]

    def f(p):
        return float(gamma_gamma_loglik(p, x, m)[0].sum())

    def g(p):
        return gamma_gamma_loglik(p, x, m)[1].sum(axis=1)

    p0 = np.array(params)
    fd = approx_fprime(p0, f, 1e-7)
    np.testing.assert_allclose(g(p0), fd, rtol=1e-4, atol=1e-3)


def test_bgnbd_loglik_matches_closed_form():
    x = np.array([0.0, 1.0, 5.0])
    tx = np.array([0.0, 3.0, 20.0])
    t_obs = np.array([30.0, 30.0, 30.0])
    r, al, a, b = 0.3, 5.0, 0.9, 2.0
    ll, _ = bgnbd_loglik(np.array([r, al, a, b]), x, tx, t_obs)
    from scipy.special import gamma as G

    for i in range(3):
        xi, txi, ti = x[i], tx[i], t_obs[i]
        base = G(r + xi) * al**r / G(r)
        l1 = np.exp(betaln(a, b + xi) - betaln(a, b)) * base / (al + ti) ** (r + xi)
        l2 = 0.0
        if xi > 0:
            l2 = np.exp(betaln(a + 1, b + xi - 1) - betaln(a, b)) * base / (al + txi) ** (r + xi)
        assert ll[i] == pytest.approx(np.log(l1 + l2), rel=1e-12)


def test_fast_weighted_sums_equal_per_customer_sums(sim):
    from keyfolio.value import bgnbd, gamma_gamma

    rng = np.random.default_rng(0)
    x, tx, t_obs = sim.frequency[:3000], sim.recency[:3000], sim.T[:3000]
    w = rng.integers(1, 5, len(x)).astype(float)
    p0 = np.array([0.4, 3.0, 1.3, 2.0])
    ll, g = bgnbd_loglik(p0, x, tx, t_obs)
    tot, grad = bgnbd._weighted(p0, bgnbd._Design(x, tx, t_obs, w))
    assert tot == pytest.approx(w @ ll, rel=1e-12)
    np.testing.assert_allclose(grad, g @ w, rtol=1e-9)
    pos = x > 0
    q0 = np.array([5.0, 3.0, 12.0])
    ll, g = gamma_gamma_loglik(q0, x[pos], sim.monetary_value[:3000][pos])
    d = gamma_gamma._Design(x[pos], sim.monetary_value[:3000][pos], w[pos])
    tot, grad = gamma_gamma._weighted(q0, d)
    assert tot == pytest.approx(w[pos] @ ll, rel=1e-12)
    np.testing.assert_allclose(grad, g @ w[pos], rtol=1e-9)


# ---------------------------------------------------------- parameter recovery
def test_bgnbd_recovers_parameters_within_sampling_error(sim):
    m = BetaGeo().fit(sim.frequency, sim.recency, sim.T)
    assert m.converged_ and m.n_iter_ > 0 and np.isfinite(m.loglik_)
    est = np.array([m.r_, m.alpha_, m.a_, m.b_])

    def score(p):
        return bgnbd_loglik(p, sim.frequency, sim.recency, sim.T)[1].sum(axis=1)

    se = _std_errors(score, est)
    truth = np.array(list(TRUE_BG.values()))
    z = (est - truth) / se
    assert np.all(np.abs(z) < 4), (est, se)
    # the score is ~0 at the optimum (converged for real)
    assert np.abs(score(est) * est).max() < 1e-3 * len(sim.frequency) ** 0.5


def test_gamma_gamma_recovers_parameters_within_sampling_error(sim):
    g = GammaGamma().fit(sim.frequency, sim.monetary_value)
    assert g.converged_
    est = np.array([g.p_, g.q_, g.v_])
    pos = sim.frequency > 0

    def score(p):
        return gamma_gamma_loglik(p, sim.frequency[pos], sim.monetary_value[pos])[1].sum(axis=1)

    se = _std_errors(score, est)
    z = (est - np.array(list(TRUE_GG.values()))) / se
    assert np.all(np.abs(z) < 4), (est, se)


def test_weights_equal_repeated_rows():
    x = np.array([0, 1, 2, 5, 0, 3])
    tx = np.array([0, 5, 10, 30, 0, 12.0])
    t_obs = np.array([40, 40, 38, 39, 20, 35.0])
    w = np.array([50, 20, 10, 3, 30, 7])
    a = BetaGeo().fit(x, tx, t_obs, weights=w)
    b = BetaGeo().fit(np.repeat(x, w), np.repeat(tx, w), np.repeat(t_obs, w))
    np.testing.assert_allclose(list(a.params_.values()), list(b.params_.values()), rtol=1e-5)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-9)


# --------------------------------------------------------------- predictions
def test_conditional_expectation_matches_scipy_where_scipy_is_fine(sim):
    m = fitted()
    x, tx, t_obs = sim.frequency[:2000], sim.recency[:2000], sim.T[:2000]
    t = 26.0
    r, al, a, b = 0.25, 4.0, 0.8, 2.5
    z = t / (al + t_obs + t)
    ref = (a + b + x - 1) / (a - 1)
    ref *= 1 - ((al + t_obs) / (al + t_obs + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    ref /= 1 + (x > 0) * a / (b + x - 1) * ((al + t_obs) / (al + tx)) ** (r + x)
    np.testing.assert_allclose(m.expected_purchases(t, x, tx, t_obs), ref, rtol=1e-9)
    new = m.expected_purchases_new([t])[0]
    ref_new = (
        (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * hyp2f1(r, b, a + b - 1, t / (al + t)))
    )
    assert new == pytest.approx(ref_new, rel=1e-10)


def _alive_expectation_by_quadrature(m, t, x, t_obs):
    """E[X(t) | active, x, T] = E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p], p ~ Beta(a, b+x)."""
    lb = betaln(m.a_, m.b_ + x)

    def f(p):
        dens = np.exp((m.a_ - 1) * np.log(p) + (m.b_ + x - 1) * np.log1p(-p) - lb)
        return dens * -np.expm1(-(m.r_ + x) * np.log1p(p * t / (m.alpha_ + t_obs))) / p

    scale = (m.a_ + 1) / (m.a_ + m.b_ + x)
    pts = [scale * k for k in (0.1, 1, 5, 20) if scale * k < 1]
    val, _ = integrate.quad(f, 0, 1, points=pts, limit=500, epsabs=0, epsrel=1e-11)
    return val


@pytest.mark.parametrize("x", [0.0, 1.0, 40.0, 1500.0, 5000.0])
def test_conditional_expectation_matches_quadrature_including_heavy_buyers(x):
    m = fitted(r=1.5, alpha=0.5, a=0.8, b=2.5)
    t_obs, t = 260.0, 104.0
    tx = t_obs  # bought at the end: alive for sure
    got = m.expected_purchases(t, [x], [tx], [t_obs])[0]
    ref = _alive_expectation_by_quadrature(m, t, x, t_obs) * m.p_alive([x], [tx], [t_obs])[0]
    assert np.isfinite(got)
    assert got == pytest.approx(ref, rel=1e-7)


def test_survival_matches_quadrature_and_starts_at_p_alive():
    m = fitted(r=1.5, alpha=0.5, a=0.8, b=2.5)
    for x in (0.0, 3.0, 2000.0):
        t_obs, t = 150.0, 52.0
        lb = betaln(m.a_, m.b_ + x)

        def f(p, x=x, t_obs=t_obs, t=t, lb=lb):
            dens = np.exp((m.a_ - 1) * np.log(p) + (m.b_ + x - 1) * np.log1p(-p) - lb)
            return dens * np.exp(-(m.r_ + x) * np.log1p(p * t / (m.alpha_ + t_obs)))

        scale = (m.a_ + 1) / (m.a_ + m.b_ + x)
        pts = [scale * k for k in (0.1, 1, 5, 20) if scale * k < 1]
        ref, _ = integrate.quad(f, 0, 1, points=pts, limit=500, epsabs=0, epsrel=1e-11)
        got = m.survival(t, [x], [t_obs], [t_obs])[0]
        assert got == pytest.approx(ref * m.p_alive([x], [t_obs], [t_obs])[0], rel=1e-7)
        assert m.survival(0.0, [x], [100.0], [t_obs])[0] == pytest.approx(
            m.p_alive([x], [100.0], [t_obs])[0], rel=1e-12
        )


def test_stable_for_frequencies_in_the_thousands():
    x = np.array([1000.0, 3000.0, 8000.0, 3000.0, 2.0])
    t_obs = np.array([260.0, 260.0, 260.0, 260.0, 260.0])
    tx = np.array([259.0, 259.9, 260.0, 200.0, 100.0])
    params = np.array([1.2, 0.3, 0.5, 3.0])
    ll, g = bgnbd_loglik(params, x, tx, t_obs)
    assert np.all(np.isfinite(ll)) and np.all(np.isfinite(g))
    m = fitted(*params)
    pa = m.p_alive(x, tx, t_obs)
    assert np.all((pa >= 0) & (pa <= 1))
    assert pa[:3].min() > 0.95  # heavy buyers who just bought are alive
    assert pa[3] < 1e-6  # bought ~11/week, then 60 weeks of silence: gone
    e = m.expected_purchases(52.0, x, tx, t_obs)
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    # an active heavy buyer keeps roughly its rate (x / T per week) over the next 52 weeks
    rate = x[:3] / t_obs[:3]
    assert np.all(e[:3] > 0.5 * rate * 52) and np.all(e[:3] < 1.5 * rate * 52)
    assert e[3] < 1e-3


def test_fit_with_heavy_buyers_is_finite():
    sim = simulate_customers(
        5000,
        bgnbd={"r": 3.0, "alpha": 0.2, "a": 0.5, "b": 30.0},
        gamma_gamma=TRUE_GG,
        T=260.0,
        seed=5,
    )
    assert sim.frequency.max() > 1000
    m = BetaGeo().fit(sim.frequency, sim.recency, sim.T)
    assert np.isfinite(m.loglik_) and all(np.isfinite(list(m.params_.values())))
    assert m.r_ == pytest.approx(3.0, rel=0.15) and m.alpha_ == pytest.approx(0.2, rel=0.2)
    e = m.expected_purchases(52.0, sim.frequency, sim.recency, sim.T)
    assert np.all(np.isfinite(e))


def test_a_equal_to_one_is_continuous():
    x, tx, t_obs = [0.0, 4.0], [0.0, 20.0], [30.0, 30.0]
    vals = [fitted(a=a).expected_purchases(39.0, x, tx, t_obs) for a in (1 - 1e-7, 1.0, 1 + 1e-7)]
    np.testing.assert_allclose(vals[0], vals[1], rtol=1e-6)
    np.testing.assert_allclose(vals[2], vals[1], rtol=1e-6)


def test_gamma_gamma_expected_spend():
    g = GammaGamma()
    g.p_, g.q_, g.v_ = 6.0, 4.0, 15.0
    got = g.expected_spend([0, 1, 10], [0.0, 20.0, 50.0])
    assert got[0] == pytest.approx(6 * 15 / 3)
    assert got[1] == pytest.approx(6 * (15 + 20) / (6 + 4 - 1))
    assert got[2] == pytest.approx(6 * (15 + 500) / (60 + 4 - 1))
    # shrinks toward the population mean, more so for few orders
    assert abs(got[2] - 50) < abs(got[1] - 20)


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1, 2], [1.0], [3.0, 3.0]), "same length"),
        (([1, -1], [1.0, 0.0], [3.0, 3.0]), "expected values >= 0"),
        (([1, 2], [1.0, 5.0], [3.0, 3.0]), "recency <= T"),
        (([1.5, 2], [1.0, 2.0], [3.0, 3.0]), "whole numbers"),
        (([1, np.nan], [1.0, 2.0], [3.0, 3.0]), "finite"),
        (([], [], []), "at least one"),
    ],
)
def test_bgnbd_bad_input(args, message):
    with pytest.raises(ModelError, match=message):
        BetaGeo().fit(*args)


def test_bad_weights_and_not_fitted():
    with pytest.raises(ModelError, match="weights: expected length 2"):
        BetaGeo().fit([1, 2], [1, 2], [3, 3], weights=[1, 2, 3])
    with pytest.raises(ModelError, match="not fitted"):
        BetaGeo().p_alive([1], [1], [2])
    with pytest.raises(ModelError, match="not fitted"):
        GammaGamma().expected_spend([1], [10.0])
    with pytest.raises(ModelError, match="t: expected a scalar or 2"):
        fitted().expected_purchases([1, 2, 3], [1, 2], [1, 2], [3, 3])


def test_gamma_gamma_bad_input():
    with pytest.raises(ModelError, match=r"monetary_value: expected > 0"):
        GammaGamma().fit([1, 2, 0], [10.0, 0.0, 0.0])
    with pytest.raises(ModelError, match="same length"):
        GammaGamma().fit([1, 2], [10.0])
    with pytest.raises(ModelError, match="at least 2 customers"):
        GammaGamma().fit([0, 0, 3], [0.0, 0.0, 4.0])


@pytest.mark.parametrize("a", [0.3, 3.0])
def test_long_horizon_for_a_new_customer_matches_quadrature(a):
    # z = t / (alpha + T + t) = 0.996: the series needs thousands of terms
    m = fitted(r=1.0, alpha=0.5, a=a, b=3.0)
    x, t_obs, t = 1.0, 1 / 7, 156.0
    ref = _alive_expectation_by_quadrature(m, t, x, t_obs)
    assert m.expected_purchases_if_active(t, [x], [t_obs])[0] == pytest.approx(ref, rel=1e-9)
    lb = betaln(a, m.b_ + x)

    def f(p):
        dens = np.exp((a - 1) * np.log(p) + (m.b_ + x - 1) * np.log1p(-p) - lb)
        return dens * np.exp(-(m.r_ + x) * np.log1p(p * t / (m.alpha_ + t_obs)))

    pts = [1e-4, 1e-3, 1e-2, 0.1]
    surv, _ = integrate.quad(f, 0, 1, points=pts, limit=500, epsabs=0, epsrel=1e-12)
    assert m.survival_if_active(t, [x], [t_obs])[0] == pytest.approx(surv, rel=1e-9)


# ------------------------------------ concentrated drop-out (B2B demo: a, b very large)
DEMO_BG = {"r": 10.89, "alpha": 49.85, "a": 1.432e8, "b": 7.2e10}  # fit on the 2,000-account demo


def _posterior_quadrature(m, t, x, t_obs):
    """(E[X(t) | active], P(no drop-out in t | active)) by quadrature over p ~ Beta(a, b+x).

    The density is normalised numerically (betaln loses ~1e-4 at arguments ~1e10) and the
    range is cut at 40 standard deviations of the (very concentrated) posterior of p."""
    a, bx, n, u = m.a_, m.b_ + x, m.r_ + x, t / (m.alpha_ + t_obs)
    mode = (a - 1) / (a + bx - 2)
    ref = (a - 1) * np.log(mode) + (bx - 1) * np.log1p(-mode)

    def dens(p):
        return np.exp((a - 1) * np.log(p) + (bx - 1) * np.log1p(-p) - ref)

    mean = a / (a + bx)
    sd = np.sqrt(mean * (1 - mean) / (a + bx + 1))
    lo, hi = max(0.0, mean - 40 * sd), min(1.0, mean + 40 * sd)
    opts = dict(points=[mean - sd, mean, mean + sd], limit=200, epsabs=0, epsrel=1e-10)
    norm = integrate.quad(dens, lo, hi, **opts)[0]
    e = integrate.quad(lambda p: dens(p) * -np.expm1(-n * np.log1p(p * u)) / p, lo, hi, **opts)
    s = integrate.quad(lambda p: dens(p) * np.exp(-n * np.log1p(p * u)), lo, hi, **opts)
    return e[0] / norm, s[0] / norm


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("params", [DEMO_BG, {"r": 10.6, "alpha": 49.0, "a": 4.2e5, "b": 2.1e8}])
@pytest.mark.parametrize("x", [0.0, 1.0, 30.0, 300.0, 3000.0])
def test_concentrated_dropout_matches_quadrature_on_long_horizons(params, x):
    # the old series in a needed ~a z / (1-z) terms (1e7+) and overflowed
    m = fitted(**params)
    for t_obs, t in ((156.0, 156.0), (20.0, 156.0), (150.0, 4.35), (156.0, 520.0)):
        e_ref, s_ref = _posterior_quadrature(m, t, x, t_obs)
        with np.errstate(all="raise"):
            e = m.expected_purchases_if_active(t, [x], [t_obs])[0]
            s = m.survival_if_active(t, [x], [t_obs])[0]
        assert e == pytest.approx(e_ref, rel=1e-9), (t_obs, t)
        assert s == pytest.approx(s_ref, rel=1e-9), (t_obs, t)


def test_both_series_forms_agree_where_both_apply(monkeypatch):
    from keyfolio.value import bgnbd

    rng = np.random.default_rng(3)
    x = rng.integers(0, 80, 200).astype(float)
    t_obs, t = rng.uniform(5, 150, 200), rng.uniform(0, 200, 200)
    for _ in range(10):
        r, alpha, a, b = np.exp(rng.uniform(-2, 3, 4))
        if a + b < 1.1:
            continue
        m = fitted(r, alpha, a, b)
        got = []
        for use_a in (True, False):
            monkeypatch.setattr(
                bgnbd, "_use_a_form", lambda a_, n, lz, f=use_a: np.full(np.shape(n), f)
            )
            got.append((m._alive_expectation(t, x, t_obs), m._log_survival_active(t, x, t_obs)))
        np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-11)
        np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-11, atol=1e-11)


def test_heavy_b2b_buyers_with_demo_parameters_are_finite():
    # the old series never finished here; its speed is not asserted (no timed tests)
    m = fitted(**DEMO_BG)
    rng = np.random.default_rng(1)
    x = rng.integers(300, 3001, 2000).astype(float)
    t_obs = rng.uniform(150.0, 157.0, 2000)
    tx = t_obs - rng.exponential(2.0, 2000).clip(0, 100)
    tt = np.repeat(np.arange(1, 37) * 365.25 / 12 / 7, 2000)  # 36 monthly steps, 3 years
    with np.errstate(all="raise"):
        e = m.expected_purchases_if_active(tt, np.tile(x, 36), np.tile(t_obs, 36))
        s = m.survival_if_active(tt, np.tile(x, 36), np.tile(t_obs, 36))
        pa = m.p_alive(x, tx, t_obs)
    assert np.all(np.isfinite(e) & (e > 0)) and np.all(np.isfinite(s) & (s > 0) & (s <= 1))
    assert np.all(np.isfinite(pa) & (pa >= 0) & (pa <= 1))
    # an active buyer orders at its posterior rate (r+x)/(alpha+T) until it drops out, which
    # takes ~1/p = (a+b+x-1)/(a-1) ~ 503 orders (p ~ 0.002 per order)
    e3 = e.reshape(36, 2000)[-1]
    rate = (m.r_ + x) / (m.alpha_ + t_obs) * 36 * 365.25 / 12 / 7
    cap = (m.a_ + m.b_ + x - 1) / (m.a_ - 1)
    assert np.all(e3 < np.minimum(rate, cap)) and np.all(e3 > 0.5 * np.minimum(rate, cap))
    assert np.all(np.diff(e.reshape(36, 2000), axis=0) > 0)
    assert np.all(np.diff(s.reshape(36, 2000), axis=0) < 0)


def test_runaway_dropout_uses_the_limiting_model_and_is_reproducible() -> None:
    """Customers who all drop out with the same probability (p = 0.002 after each repeat
    purchase): a and b run away together, so the fit's own a and b mean nothing. The limiting
    model is used (a + b fixed, p kept), it is said, and the same data in another row order
    give the same estimates, bit for bit."""
    from keyfolio.value.bgnbd import LIMIT_SCALE

    x, tx, t = simulate_bgnbd(5000, r=10.0, alpha=1.0, a=2e6, b=998e6, T=156.0, seed=1)
    bg = BetaGeo().fit(x, tx, t)  # B2B-like: weekly buyers over three years, p = 0.2%
    assert bg.homogeneous_dropout_
    assert bg.a_ + bg.b_ == pytest.approx(LIMIT_SCALE)
    assert bg.dropout_probability == pytest.approx(0.002, rel=0.1)
    perm = np.random.default_rng(0).permutation(len(x))
    again = BetaGeo().fit(x[perm], tx[perm], t[perm])
    assert again.params_ == bg.params_
    # heterogeneous dropout is left alone
    x, tx, t = simulate_bgnbd(4000, r=3.0, alpha=20.0, a=1.0, b=3.0, T=100.0, seed=3)
    assert not BetaGeo().fit(x, tx, t).homogeneous_dropout_

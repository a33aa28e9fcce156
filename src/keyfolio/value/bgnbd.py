"""BG/NBD model of repeat buying (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While active, a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each repeat
purchase it drops out with probability ``p ~ Beta(a, b)``. Data per customer: ``frequency`` x
(repeat purchases), ``recency`` t_x (time of the last purchase since the first) and ``T`` (time
since the first purchase), all in one time unit.

The log-likelihood and its analytic gradient are vectorised and evaluated in log space
(gammaln / betaln / logaddexp); the fit maximises it over log-parameters with L-BFGS-B on the
unique (x, t_x, T) rows weighted by their counts. Predictions use a transformed hypergeometric
series (see ``_math.hyp2f1_tail``) that stays finite and accurate for frequencies in the thousands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln

from keyfolio.errors import ModelError
from keyfolio.value._math import (
    FloatArray,
    Levels,
    as_vector,
    check_integer,
    check_nonnegative,
    check_same_length,
    check_weights,
    compress_rows,
    dot,
    expm1_over,
    hyp2f1_tail,
    log1p_over,
    log_series,
    on_unique_rows,
)

_LOG_BOUND = 25.0  # log-parameters are kept in [-25, 25]
LIMIT_SCALE = 1e8  # a + b of the limiting model (homogeneous dropout)


def validate_rft(frequency: Any, recency: Any, T: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Checked float vectors (frequency, recency, T); ModelError naming what is wrong."""
    x = as_vector("frequency", frequency)
    tx = as_vector("recency", recency)
    t_obs = as_vector("T", T)
    check_same_length(frequency=x, recency=tx, T=t_obs)
    for name, arr in (("frequency", x), ("recency", tx), ("T", t_obs)):
        check_nonnegative(name, arr)
    check_integer("frequency", x)
    over = tx > t_obs * (1 + 1e-9) + 1e-12
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise ModelError(
            f"recency: expected recency <= T (last purchase inside the observation window), "
            f"found recency {tx[i]:g} > T {t_obs[i]:g} at position {i} ({int(over.sum())} rows)"
        )
    return x, np.minimum(tx, t_obs), t_obs


class _Design:
    """Rows of a fit, the distinct values of x, T and t_x, and parameter-free weighted sums."""

    def __init__(
        self, x: FloatArray, tx: FloatArray, t_obs: FloatArray, w: FloatArray | None = None
    ) -> None:
        self.x, self.tx, self.T = x, tx, t_obs
        self.lx, self.lT, self.ltx = Levels(x), Levels(t_obs), Levels(tx)
        self.w = np.ones(len(x)) if w is None else w
        self.W = float(self.w.sum())
        self.W_x = np.bincount(self.lx.index, weights=self.w, minlength=len(self.lx.values))
        nT = len(self.lT.values)
        self.W_T = np.bincount(self.lT.index, weights=self.w, minlength=nT)
        self.WX_T = np.bincount(self.lT.index, weights=self.w * x, minlength=nT)


def _x_terms(r: float, a: float, b: float, xu: FloatArray) -> dict[str, FloatArray]:
    """Terms that depend on x only (evaluated on its distinct values); 0 / -inf at x = 0."""
    pu = xu > 0
    lab = betaln(a, b)
    psi_abx = digamma(a + b + xu)
    b2 = np.full_like(xu, -np.inf)
    b2[pu] = betaln(a + 1.0, b + xu[pu] - 1.0) - lab
    d2a = np.zeros_like(xu)
    d2a[pu] = digamma(a + 1.0) - psi_abx[pu]
    d2b = np.zeros_like(xu)
    d2b[pu] = digamma(b + xu[pu] - 1.0) - psi_abx[pu]
    return {
        "b1": betaln(a, b + xu) - lab,
        "b2": b2,
        "c": gammaln(r + xu) - gammaln(r),
        "psi_rx": digamma(r + xu) - digamma(r),
        "d1a": digamma(a) - psi_abx,
        "d2a": d2a,
        "d1b": digamma(b + xu) - psi_abx,
        "d2b": d2b,
    }


def _weighted(params: FloatArray, d: _Design) -> tuple[float, FloatArray]:
    """Σ w·loglik and its gradient (r, alpha, a, b), using w1 = 1 - w2 and per-level sums."""
    r, alpha, a, b = (float(v) for v in params)
    xt = _x_terms(r, a, b, d.lx.values)
    ix, iT, itx = d.lx.index, d.lT.index, d.ltx.index
    logaT_u, logat_u = np.log(alpha + d.lT.values), np.log(alpha + d.ltx.values)
    iaT_u, iat_u = 1.0 / (alpha + d.lT.values), 1.0 / (alpha + d.ltx.values)
    LaT, Lat = logaT_u[iT], logat_u[itx]
    rx = r + d.x
    l1 = xt["b1"][ix] - rx * LaT
    l2 = xt["b2"][ix] - rx * Lat
    lse = np.logaddexp(l1, l2)
    ww2 = d.w * np.exp(l2 - lse)  # w * P(dropped-out branch)
    V = np.bincount(ix, weights=ww2, minlength=len(d.lx.values))
    W, W_x = d.W, d.W_x
    ll = dot(W_x, xt["c"]) + W * r * np.log(alpha) + dot(d.w, lse)
    # Σ w (w1 log(α+T) + w2 log(α+t_x)) and Σ w (r+x) (w1/(α+T) + w2/(α+t_x))
    s_log = dot(d.W_T, logaT_u) - dot(ww2, LaT - Lat)
    s_inv = r * dot(d.W_T, iaT_u) + dot(d.WX_T, iaT_u) - dot(ww2 * rx, iaT_u[iT] - iat_u[itx])
    psi_ab = digamma(a + b)
    g = np.array(
        [
            dot(W_x, xt["psi_rx"]) + W * np.log(alpha) - s_log,
            W * r / alpha - s_inv,
            -W * (digamma(a) - psi_ab) + dot(W_x, xt["d1a"]) + dot(V, xt["d2a"] - xt["d1a"]),
            -W * (digamma(b) - psi_ab) + dot(W_x, xt["d1b"]) + dot(V, xt["d2b"] - xt["d1b"]),
        ]
    )
    return float(ll), g


def bgnbd_loglik(
    params: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its gradient w.r.t. (r, alpha, a, b), shape (4, n)."""
    return _loglik(
        params, _Design(np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float))
    )


def _loglik(params: FloatArray, d: _Design) -> tuple[FloatArray, FloatArray]:
    r, alpha, a, b = (float(v) for v in params)
    xt = _x_terms(r, a, b, d.lx.values)
    ix = d.lx.index
    log_aT = np.log(alpha + d.lT.values)[d.lT.index]
    log_atx = np.log(alpha + d.ltx.values)[d.ltx.index]
    rx = r + d.x
    l1 = xt["b1"][ix] - rx * log_aT
    l2 = xt["b2"][ix] - rx * log_atx
    lse = np.logaddexp(l1, l2)
    ll = xt["c"][ix] + r * np.log(alpha) + lse
    w1 = np.exp(l1 - lse)
    w2 = np.exp(l2 - lse)
    g = np.empty((4, len(d.x)))
    g[0] = xt["psi_rx"][ix] + np.log(alpha) - w1 * log_aT - w2 * log_atx
    g[1] = r / alpha - rx * (w1 / (alpha + d.T) + w2 / (alpha + d.tx))
    psi_ab = digamma(a + b)
    g[2] = -(digamma(a) - psi_ab) + w1 * xt["d1a"][ix] + w2 * xt["d2a"][ix]
    g[3] = -(digamma(b) - psi_ab) + w1 * xt["d1b"][ix] + w2 * xt["d2b"][ix]
    return ll, g


class BetaGeo:
    """BG/NBD model, scikit-learn style.

    Parameters
    ----------
    penalizer:
        L2 penalty ``penalizer * sum(params**2)`` added to the mean negative log-likelihood
        (same convention as ``lifetimes``); 0 gives plain maximum likelihood.
    tol:
        ``ftol`` of L-BFGS-B on the mean negative log-likelihood.
    max_iter:
        Maximum number of L-BFGS-B iterations.

    Fitted attributes: ``r_``, ``alpha_``, ``a_``, ``b_``, ``loglik_`` (total weighted
    log-likelihood), ``n_iter_``, ``converged_``.
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-13, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # ------------------------------------------------------------------ fit
    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> BetaGeo:
        """Maximum-likelihood fit; ``weights`` counts identical rows (default 1 each)."""
        if self.penalizer < 0:
            raise ModelError(f"penalizer: expected >= 0, found {self.penalizer}")
        x, tx, t_obs = validate_rft(frequency, recency, T)
        w = check_weights(weights, len(x))
        (x, tx, t_obs), w = compress_rows([x, tx, t_obs], w)
        wsum = w.sum()
        design = _Design(x, tx, t_obs, w)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(theta)
            ll, g = _weighted(params, design)
            f = -ll / wsum + self.penalizer * float(params @ params)
            grad = (-g / wsum + 2.0 * self.penalizer * params) * params
            return float(f), grad

        start = np.log([1.0, max(float(np.average(t_obs, weights=w)), 1e-3) / 4.0, 1.0, 1.0])
        res = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-10, "maxcor": 20},
        )
        self.r_, self.alpha_, self.a_, self.b_ = (float(v) for v in np.exp(res.x))
        self.loglik_ = _weighted(np.exp(res.x), design)[0]
        self.n_iter_ = int(res.nit)
        self.converged_ = bool(res.success)
        self.n_customers_ = float(wsum)
        self.homogeneous_dropout_ = False
        self._limit(design)
        return self

    def _limit(self, design: _Design) -> None:
        """When a and b run away together (the likelihood keeps rising towards a, b -> inf with
        a / (a + b) fixed: every customer drops out with the same probability p), the fit
        stops anywhere on that ridge, and a and b mean nothing on their own. If the data
        cannot tell the fit from the limit (log-likelihood within 0.5), the limiting model is
        used: p fixed, a + b = ``LIMIT_SCALE`` (p's spread across customers then negligible;
        larger values lose precision in the likelihood)."""
        total = self.a_ + self.b_
        p = self.a_ / total
        limit = np.array([self.r_, self.alpha_, p * LIMIT_SCALE, (1 - p) * LIMIT_SCALE])
        ll = _weighted(limit, design)[0]
        if total > LIMIT_SCALE or ll >= self.loglik_ - 0.5:
            self.a_, self.b_ = float(limit[2]), float(limit[3])
            self.loglik_ = ll
            self.homogeneous_dropout_ = True

    @property
    def dropout_probability(self) -> float:
        """The mean probability of dropping out after a repeat purchase, a / (a + b)."""
        self._check_fitted()
        return self.a_ / (self.a_ + self.b_)

    # ------------------------------------------------------------ predict
    @property
    def params_(self) -> dict[str, float]:
        self._check_fitted()
        return {"r": self.r_, "alpha": self.alpha_, "a": self.a_, "b": self.b_}

    def _check_fitted(self) -> None:
        if not hasattr(self, "r_"):
            raise ModelError("BetaGeo is not fitted: call fit(frequency, recency, T) first")

    def _log_odds_dead(self, x: FloatArray, tx: FloatArray, t_obs: FloatArray) -> FloatArray:
        """log of ``a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)`` (−inf when x = 0)."""
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        out = np.full_like(x, -np.inf)
        pos = x > 0
        xp = x[pos]
        out[pos] = (
            np.log(a)
            - np.log(b + xp - 1.0)
            + (r + xp) * (np.log(alpha + t_obs[pos]) - np.log(alpha + tx[pos]))
        )
        return out

    def p_alive(self, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """P(customer still active at T | x, t_x, T)."""
        self._check_fitted()
        x, tx, t_obs = validate_rft(frequency, recency, T)
        return np.exp(-np.logaddexp(0.0, self._log_odds_dead(x, tx, t_obs)))

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """E[X(T, T+t] | x, t_x, T]: expected repeat purchases in the next ``t`` time units."""
        self._check_fitted()
        x, tx, t_obs = validate_rft(frequency, recency, T)
        tt = self._horizon(t, len(x))
        log_p_alive = -np.logaddexp(0.0, self._log_odds_dead(x, tx, t_obs))
        alive = on_unique_rows(self._alive_expectation, tt, x, t_obs)
        return alive * np.exp(log_p_alive)

    def expected_purchases_new(self, t: Any) -> FloatArray:
        """Unconditional E[X(t)] for a customer who has just made a first purchase."""
        self._check_fitted()
        tt = np.atleast_1d(as_vector("t", t))
        check_nonnegative("t", tt)
        zeros = np.zeros_like(tt)
        return self._alive_expectation(tt, zeros, zeros)

    def survival(self, t: Any, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """P(still active at T + t | x, t_x, T) = p_alive × P(no drop-out in (T, T+t] | active)."""
        self._check_fitted()
        x, tx, t_obs = validate_rft(frequency, recency, T)
        tt = self._horizon(t, len(x))
        log_surv = on_unique_rows(self._log_survival_active, tt, x, t_obs)
        return np.exp(log_surv - np.logaddexp(0.0, self._log_odds_dead(x, tx, t_obs)))

    def expected_purchases_if_active(self, t: Any, frequency: Any, T: Any) -> FloatArray:
        """E[X(T, T+t] | x, T, still active at T] (multiply by p_alive for the expectation).

        ``t``: a scalar or one horizon per customer."""
        self._check_fitted()
        x, t_obs = as_vector("frequency", frequency), as_vector("T", T)
        check_same_length(frequency=x, T=t_obs)
        return self._alive_expectation(self._horizon(t, len(x)), x, t_obs)

    def survival_if_active(self, t: Any, frequency: Any, T: Any) -> FloatArray:
        """P(no drop-out in (T, T+t] | x, T, still active at T); ``t`` scalar or per customer."""
        self._check_fitted()
        x, t_obs = as_vector("frequency", frequency), as_vector("T", T)
        check_same_length(frequency=x, T=t_obs)
        return np.exp(self._log_survival_active(self._horizon(t, len(x)), x, t_obs))

    def _log_survival_active(self, t: FloatArray, x: FloatArray, t_obs: FloatArray) -> FloatArray:
        """log E[exp(-lambda p t)] over the posterior of an active customer,
        ``(1+u)^-(r+x) 2F1(r+x, a; a+b+x; -u)`` with ``u = t / (alpha + T)``, by whichever of
        its two Pfaff forms (``z = t / (alpha + T + t)``) has the shorter series:
        ``(1-z)^a 2F1(a, a+b-r; a+b+x; z)`` (short when ``a`` is small) or
        ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x; z)`` (short when ``r + x`` is small)."""
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        t, x, t_obs = np.broadcast_arrays(t, x, t_obs)
        z = t / (alpha + t_obs + t)
        log1mz = np.log1p(-z)
        p1 = _use_a_form(a, r + x, log1mz)
        out = np.empty(z.shape)
        if p1.any():
            zp = z[p1]
            s = hyp2f1_tail(a + b - r, a, a + b + x[p1], zp)
            out[p1] = a * log1mz[p1] + np.log1p(a * s)
        p2 = ~p1
        if p2.any():
            n = r + x[p2]
            out[p2] = n * log1mz[p2] + log_series(n, b + x[p2], a + b + x[p2], z[p2])
        return out

    @staticmethod
    def _horizon(t: Any, n: int) -> FloatArray:
        tt = as_vector("t", t)
        check_nonnegative("t", tt)
        if len(tt) == 1:
            return np.full(n, tt[0])
        if len(tt) != n:
            raise ModelError(
                f"t: expected a scalar or {n} values (one per customer), found {len(tt)}"
            )
        return tt

    def _alive_expectation(self, t: FloatArray, x: FloatArray, t_obs: FloatArray) -> FloatArray:
        """(a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)].

        When ``a`` is small, Euler's transformation turns the bracket into ``1 - (1-z)^(a-1)
        F'`` with ``F' = 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose series converges fast for
        large x; writing ``F' = 1 + (a-1) S`` keeps the ratio finite and accurate near
        ``a = 1``. Otherwise (large ``a``, e.g. a concentrated drop-out probability) the
        bracket divided by ``a-1`` is expanded as ``(1-z)^(r+x) sum_k z^k (r+x)_k / k! *
        (1 - (b+x)_k / (a+b+x-1)_k) / (a-1)``: positive terms, no cancellation, the series
        length growing with ``r + x`` only (see :func:`log_series`).
        """
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        t, x, t_obs = np.broadcast_arrays(t, x, t_obs)
        z = t / (alpha + t_obs + t)
        log1mz = np.log1p(-z)
        c = a + b + x - 1.0
        p1 = _use_a_form(a, r + x, log1mz) | (c <= 0)
        out = np.empty(z.shape)
        if p1.any():
            zp, bb = z[p1], a - 1.0
            s = hyp2f1_tail(a + b - 1.0 - r, bb, c[p1], zp)
            v = log1mz[p1] + s * log1p_over(bb * s)  # = log((1-z)^(a-1) F') / (a-1)
            out[p1] = c[p1] * (-expm1_over(bb * v) * v)
        p2 = ~p1
        if p2.any():
            n = r + x[p2]
            log_sum = log_series(n, 1.0, 1.0, z[p2], weight=(b + x[p2], a - 1.0))
            out[p2] = c[p2] * np.exp(n * log1mz[p2] + log_sum)
        return out


def _use_a_form(a: float, n: FloatArray, log1mz: FloatArray) -> npt.NDArray[np.bool_]:
    """Where the series in ``a`` is the one to sum: its length ~ ``a z / (1-z)`` is at most
    that of the series in ``n = r + x`` and its terms (up to ``(1-z)^-a``) cannot overflow."""
    return (a <= n) & (a * -log1mz < 300.0)

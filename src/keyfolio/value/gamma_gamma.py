"""Gamma-Gamma model of average transaction value (Fader & Hardie 2013).

Each transaction value of a customer is ``Gamma(p, nu)``; across customers ``nu ~ Gamma(q, v)``
(``v`` is the paper's gamma). For a customer with ``x`` repeat transactions of mean ``m`` the
likelihood of ``m`` is

    Γ(px+q) / (Γ(px) Γ(q)) · v^q · m^(px-1) · x^(px) / (v + x m)^(px+q)

The fit maximises it (vectorised, analytic gradient, log-parameters, L-BFGS-B) over the
customers with ``x > 0``, on unique (x, m) rows weighted by their counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

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
    matvec,
)

_LOG_BOUND = 25.0


def validate_fm(frequency: Any, monetary_value: Any) -> tuple[FloatArray, FloatArray]:
    """Checked (frequency, monetary_value); monetary must be > 0 where frequency > 0."""
    x = as_vector("frequency", frequency)
    m = as_vector("monetary_value", monetary_value)
    check_same_length(frequency=x, monetary_value=m)
    check_nonnegative("frequency", x)
    check_integer("frequency", x)
    bad = (x > 0) & (m <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ModelError(
            "monetary_value: expected > 0 (mean value of the repeat orders) where frequency > 0, "
            f"found {m[i]:g} at position {i} ({int(bad.sum())} rows); drop or fix those rows"
        )
    return x, m


def gamma_gamma_loglik(
    params: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood (x > 0) and gradient w.r.t. (p, q, v), shape (3, n)."""
    return _loglik(params, _Design(np.asarray(x, float), np.asarray(m, float)))


class _Design:
    """Rows of a fit and the weighted sums that do not depend on the parameters."""

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray | None = None) -> None:
        self.x, self.lx = x, Levels(x)
        self.xm = x * m
        self.log_m, self.log_x, self.log_xm = np.log(m), np.log(x), np.log(x * m)
        w = np.ones(len(x)) if w is None else w
        self.W = float(w.sum())
        self.W_u = np.bincount(self.lx.index, weights=w, minlength=len(self.lx.values))
        self.M = np.vstack([w, w * x])  # rows: w, w x
        self.s_logm, self.s_xlogm = matvec(self.M, self.log_m)
        self.s_xlogx = dot(self.M[1], self.log_x)


def _weighted(params: FloatArray, d: _Design) -> tuple[float, FloatArray]:
    """Σ w·loglik and its gradient, from the sufficient sums (two passes over the rows)."""
    p, q, v = (float(t) for t in params)
    xu, W_u, W = d.lx.values, d.W_u, d.W
    pxu = p * xu
    psi_pxq = digamma(pxu + q)
    s_w_L, s_wx_L = matvec(d.M, np.log(d.xm + v))
    s_w_R, s_wx_R = matvec(d.M, 1.0 / (d.xm + v))
    ll = (
        dot(W_u, gammaln(pxu + q) - gammaln(pxu))
        + W * (q * np.log(v) - gammaln(q))
        + p * (d.s_xlogm + d.s_xlogx)
        - d.s_logm
        - p * s_wx_L
        - q * s_w_L
    )
    g = np.array(
        [
            dot(W_u * xu, psi_pxq - digamma(pxu)) + d.s_xlogm + d.s_xlogx - s_wx_L,
            dot(W_u, psi_pxq) + W * (np.log(v) - digamma(q)) - s_w_L,
            W * q / v - p * s_wx_R - q * s_w_R,
        ]
    )
    return float(ll), g


def _loglik(params: FloatArray, d: _Design) -> tuple[FloatArray, FloatArray]:
    p, q, v = (float(t) for t in params)
    xu, ix = d.lx.values, d.lx.index
    pxu = p * xu
    psi_pxq = digamma(pxu + q)[ix]
    px = p * d.x
    log_xm_v = np.log(d.xm + v)
    ll = (
        (gammaln(pxu + q) - gammaln(pxu))[ix]
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * d.log_m
        + px * d.log_x
        - (px + q) * log_xm_v
    )
    g = np.empty((3, len(d.x)))
    g[0] = d.x * (psi_pxq - digamma(pxu)[ix] + d.log_xm - log_xm_v)
    g[1] = psi_pxq - digamma(q) + np.log(v) - log_xm_v
    g[2] = q / v - (px + q) / (d.xm + v)
    return ll, g


class GammaGamma:
    """Gamma-Gamma spend model, scikit-learn style.

    Fitted attributes: ``p_``, ``q_``, ``v_`` (the paper's gamma), ``loglik_``, ``n_iter_``,
    ``converged_``. ``penalizer`` adds ``penalizer * sum(params**2)`` to the mean negative
    log-likelihood.
    """

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-13, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, frequency: Any, monetary_value: Any, weights: Any = None) -> GammaGamma:
        """Maximum-likelihood fit on the customers with frequency > 0 (others are ignored)."""
        if self.penalizer < 0:
            raise ModelError(f"penalizer: expected >= 0, found {self.penalizer}")
        x, m = validate_fm(frequency, monetary_value)
        w = check_weights(weights, len(x))
        keep = (x > 0) & (w > 0)
        if keep.sum() < 2:
            raise ModelError(
                "GammaGamma: expected at least 2 customers with frequency > 0, "
                f"found {int(keep.sum())}"
            )
        (x, m), w = compress_rows([x[keep], m[keep]], w[keep])
        wsum = w.sum()
        design = _Design(x, m, w)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(theta)
            ll, g = _weighted(params, design)
            f = -ll / wsum + self.penalizer * float(params @ params)
            grad = (-g / wsum + 2.0 * self.penalizer * params) * params
            return float(f), grad

        mean_m = float(np.average(m, weights=w))
        start = np.log([1.0, 2.0, mean_m])  # E[value] = p v / (q - 1) = mean at the start
        res = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-10, "maxcor": 20},
        )
        self.p_, self.q_, self.v_ = (float(t) for t in np.exp(res.x))
        self.loglik_ = _weighted(np.exp(res.x), design)[0]
        self.n_iter_ = int(res.nit)
        self.converged_ = bool(res.success)
        return self

    @property
    def params_(self) -> dict[str, float]:
        self._check_fitted()
        return {"p": self.p_, "q": self.q_, "v": self.v_}

    def _check_fitted(self) -> None:
        if not hasattr(self, "p_"):
            raise ModelError("GammaGamma is not fitted: call fit(frequency, monetary_value) first")

    def population_mean(self) -> float:
        """E[average value] of a customer with no repeat history: p v / (q - 1)."""
        self._check_fitted()
        if self.q_ <= 1.0:
            raise ModelError(
                f"GammaGamma: population mean spend is infinite (q = {self.q_:.4g} <= 1); "
                "the values are too heavy-tailed for this model"
            )
        return self.p_ * self.v_ / (self.q_ - 1.0)

    def expected_spend(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """E[average value | x, m] = p (v + x m) / (p x + q - 1); population mean when x = 0."""
        self._check_fitted()
        x, m = validate_fm(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        denom = self.p_ * x + self.q_ - 1.0
        if np.any(denom <= 0):
            self.population_mean()  # raises the explanatory error for q <= 1
        return self.p_ * (self.v_ + x * m) / denom

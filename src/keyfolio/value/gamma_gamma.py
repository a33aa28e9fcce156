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
    as_vector,
    check_integer,
    check_nonnegative,
    check_same_length,
    check_weights,
    compress_rows,
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
    p, q, v = (float(t) for t in params)
    px = p * x
    log_xm_v = np.log(x * m + v)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_xm_v
    )
    psi = digamma(px + q)
    g = np.empty((3, len(x)))
    g[0] = x * (psi - digamma(px) + np.log(x * m) - log_xm_v)
    g[1] = psi - digamma(q) + np.log(v) - log_xm_v
    g[2] = q / v - (px + q) / (x * m + v)
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

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(theta)
            ll, g = gamma_gamma_loglik(params, x, m)
            f = -(w @ ll) / wsum + self.penalizer * float(params @ params)
            grad = (-(g @ w) / wsum + 2.0 * self.penalizer * params) * params
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
        ll, _ = gamma_gamma_loglik(np.exp(res.x), x, m)
        self.loglik_ = float(w @ ll)
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

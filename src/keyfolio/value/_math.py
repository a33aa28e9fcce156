"""Numerical helpers for the value models: input checks and a stable Gauss hypergeometric series.

The BG/NBD conditional expectation and survival need ``2F1(A, B; C; z)`` for ``0 <= z < 1``
with parameters that grow with a customer's frequency (thousands for frequent B2B buyers).
``scipy.special.hyp2f1`` overflows or loses accuracy there, so the model code first applies an
Euler/Pfaff transformation that makes ``C`` the only parameter growing with the frequency (the
series then converges fast) and evaluates the series here, vectorised, with an active set so
that each customer stops as soon as its own tail is negligible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from keyfolio.errors import ModelError

FloatArray = npt.NDArray[np.float64]

_MAX_TERMS = 1_000_000


def hyp2f1_tail(
    A: Any, B: Any, C: Any, z: Any, *, rtol: float = 1e-15, max_terms: int = _MAX_TERMS
) -> FloatArray:
    """Return ``S`` with ``2F1(A, B; C; z) = 1 + B * S`` for ``0 <= z < 1`` (broadcast).

    ``S = sum_{k>=1} z^k (A)_k (B+1)_{k-1} / ((C)_k k!)``. Factoring ``B`` out lets callers
    divide by ``B`` without cancellation when ``B`` is near 0. Terms are summed until the
    geometric bound of the remaining tail is below ``rtol`` times the partial sum.
    """
    A_, B_, C_, z_ = np.broadcast_arrays(
        np.asarray(A, float), np.asarray(B, float), np.asarray(C, float), np.asarray(z, float)
    )
    shape = z_.shape
    Av, Bv, Cv, zv = (np.ravel(v).copy() for v in (A_, B_, C_, z_))
    if np.any((zv < 0) | (zv >= 1)) or not np.all(np.isfinite(zv)):
        raise ValueError("hyp2f1_tail needs 0 <= z < 1")
    term = zv * Av / Cv
    total = term.copy()
    idx = np.flatnonzero(term != 0)
    term, Av, Bv, Cv, zv = term[idx], Av[idx], Bv[idx], Cv[idx], zv[idx]
    s = total[idx]
    k = 1.0
    while idx.size:
        if k > max_terms:
            raise ModelError(
                f"hypergeometric series did not converge in {max_terms} terms "
                f"(z up to {zv.max():.6f}); shorten the prediction horizon"
            )
        ratio = zv * (Av + k) * (Bv + k) / ((Cv + k) * (k + 1.0))
        term = term * ratio
        s = s + term
        k += 1.0
        m = np.maximum(np.abs(ratio), zv)
        with np.errstate(divide="ignore", invalid="ignore"):
            done = (term == 0) | ((m < 1) & (np.abs(term) * m / (1 - m) <= rtol * np.abs(s)))
        if done.any():
            total[idx[done]] = s[done]
            keep = ~done
            idx, term, s = idx[keep], term[keep], s[keep]
            Av, Bv, Cv, zv = Av[keep], Bv[keep], Cv[keep], zv[keep]
    return total.reshape(shape)


def log1p_over(y: FloatArray) -> FloatArray:
    """``log1p(y) / y`` with the limit 1 at ``y = 0`` (accurate for tiny ``y``)."""
    y = np.asarray(y, float)
    small = np.abs(y) < 1e-8
    safe = np.where(small, 1.0, y)
    return np.where(small, 1.0 - y / 2.0, np.log1p(safe) / safe)


def expm1_over(u: FloatArray) -> FloatArray:
    """``expm1(u) / u`` with the limit 1 at ``u = 0``."""
    u = np.asarray(u, float)
    small = np.abs(u) < 1e-8
    safe = np.where(small, 1.0, u)
    return np.where(small, 1.0 + u / 2.0, np.expm1(safe) / safe)


def as_vector(name: str, values: Any) -> FloatArray:
    """A 1-D finite float vector, or a ModelError naming ``name``."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{name}: expected numbers, found {type(values).__name__}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ModelError(f"{name}: expected a 1-D array, found shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ModelError(
            f"{name}: expected finite numbers, found {int(bad.sum())} NaN/inf value(s) "
            f"(first at position {int(np.flatnonzero(bad)[0])})"
        )
    return arr


def check_same_length(**arrays: FloatArray) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ModelError(f"expected inputs of the same length, found lengths {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ModelError("expected at least one customer, found empty input")
    return n


def check_nonnegative(name: str, arr: FloatArray) -> None:
    neg = arr < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ModelError(
            f"{name}: expected values >= 0, found {int(neg.sum())} negative value(s) "
            f"(first {arr[i]:g} at position {i})"
        )


def check_integer(name: str, arr: FloatArray) -> None:
    frac = arr != np.round(arr)
    if frac.any():
        i = int(np.flatnonzero(frac)[0])
        raise ModelError(
            f"{name}: expected whole numbers (counts of repeat order days), found "
            f"{arr[i]:g} at position {i}"
        )


def check_weights(weights: Any, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = as_vector("weights", weights)
    if len(w) != n:
        raise ModelError(f"weights: expected length {n} (one per row), found length {len(w)}")
    check_nonnegative("weights", w)
    if w.sum() <= 0:
        raise ModelError("weights: expected a positive total, found all zero")
    return w


def compress_rows(
    columns: list[FloatArray], weights: FloatArray
) -> tuple[list[FloatArray], FloatArray]:
    """Aggregate identical rows: unique rows of the stacked columns with summed weights."""
    stacked = np.column_stack(columns)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq)).astype(float)
    keep = w > 0
    return [uniq[keep, j].copy() for j in range(uniq.shape[1])], w[keep]

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
import pandas as pd

from keyfolio.errors import ModelError

FloatArray = npt.NDArray[np.float64]

_MAX_TERMS = 1_000_000


def hyp2f1_tail(
    A: Any, B: Any, C: Any, z: Any, *, rtol: float = 1e-15, max_terms: int = _MAX_TERMS
) -> FloatArray:
    """Return ``S`` with ``2F1(A, B; C; z) = 1 + B * S`` for ``0 <= z < 1`` (broadcast).

    ``S = sum_{k>=1} z^k (A)_k (B+1)_{k-1} / ((C)_k k!)``. Factoring ``B`` out lets callers
    divide by ``B`` without cancellation when ``B`` is near 0. Terms are summed until the
    geometric bound of the remaining tail is below ``rtol`` times the partial sum; the check
    (and dropping finished entries) runs every few terms, extra terms being negligible.
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
    idx = np.arange(len(zv))
    s = total.copy()
    ratio = np.empty_like(zv)
    tmp = np.empty_like(zv)
    k = 1.0
    while idx.size:
        if k > max_terms:
            raise ModelError(
                f"hypergeometric series did not converge in {max_terms} terms "
                f"(z up to {zv.max():.6f}); shorten the prediction horizon"
            )
        # ratio = z (A + k)(B + k) / ((C + k)(k + 1))
        np.add(Av, k, out=ratio)
        np.add(Bv, k, out=tmp)
        ratio *= tmp
        ratio *= zv
        np.add(Cv, k, out=tmp)
        tmp *= k + 1.0
        ratio /= tmp
        term *= ratio
        s += term
        k += 1.0
        if k % 8 != 0 and k > 3:
            continue
        m = np.maximum(np.abs(ratio), zv)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            done = (term == 0) | ((m < 1) & (np.abs(term) * m / (1 - m) <= rtol * np.abs(s)))
        if done.any():
            total[idx[done]] = s[done]
            keep = ~done
            idx, term, s = idx[keep], term[keep], s[keep]
            Av, Bv, Cv, zv = Av[keep], Bv[keep], Cv[keep], zv[keep]
            ratio, tmp = ratio[keep], tmp[keep]
    return total.reshape(shape)


def log_series(
    A: Any,
    B: Any,
    C: Any,
    z: Any,
    *,
    weight: tuple[Any, Any] | None = None,
    rtol: float = 1e-15,
    max_terms: int = _MAX_TERMS,
) -> FloatArray:
    """``log sum_k t_k w_k`` for the positive series ``t_k = z^k (A)_k (B)_k / ((C)_k k!)``.

    Needs ``A, B, C > 0`` and ``0 <= z < 1`` (broadcast). Without ``weight``, ``w_k = 1``
    (the result is ``log 2F1(A, B; C; z)``). With ``weight = (beta, d)``, ``w_k =
    (1 - (beta)_k / (beta + d)_k) / d`` (the limit ``sum_{j<k} 1 / (beta + j)`` at ``d = 0``),
    computed without cancellation as ``H_k expm1(-d H_k) / (-d H_k)`` with ``H_k = sum_{j<k}
    log1p(-d / (beta + d + j)) / -d``; ``w_0 = 0``, so the result is ``-inf`` at ``z = 0``.

    The sum is kept scaled (the partial sum is divided by 1e150 whenever it exceeds it and
    the log of the scale is accumulated), so terms as large as ``(1 - z)^-A`` never
    overflow. Terms are added until the geometric bound of the tail is below ``rtol``
    times the partial sum; finished entries leave the active set.
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(v, float) for v in (A, B, C, z)),
        *(np.asarray(v, float) for v in (weight or (0.0, 0.0))),
    )
    shape = arrays[0].shape
    Av, Bv, Cv, zv, gb, gd = (np.ravel(v).copy() for v in arrays)
    if np.any((zv < 0) | (zv >= 1)) or not np.all(np.isfinite(zv)):
        raise ValueError("log_series needs 0 <= z < 1")
    weighted = weight is not None
    out = np.full(zv.shape, -np.inf if weighted else 0.0)
    idx = np.flatnonzero(zv > 0)
    Av, Bv, Cv, zv, gb, gd = (v[idx] for v in (Av, Bv, Cv, zv, gb, gd))
    gc = gb + gd
    dz = gd == 0
    gd_safe = np.where(dz, 1.0, gd)
    term = np.ones(idx.size)
    s = np.zeros(idx.size) if weighted else np.ones(idx.size)
    scale = np.zeros(idx.size)
    H = np.zeros(idx.size)
    k = 0.0
    big, log_big = 1e150, 150.0 * np.log(10.0)
    while idx.size:
        if k > max_terms:
            raise ModelError(
                f"hypergeometric series did not converge in {max_terms} terms "
                f"(z up to {zv.max():.6f}); shorten the prediction horizon"
            )
        ratio = zv * (Av + k) * (Bv + k) / ((Cv + k) * (k + 1.0))
        term *= ratio
        if weighted:
            y = -gd_safe / (gc + k)
            H += np.where(dz, 1.0 / (gc + k), np.log1p(y) / -gd_safe)
            contrib = term * H * expm1_over(-gd * H)
        else:
            contrib = term
        s += contrib
        k += 1.0
        if k % 4 != 0 and k > 3:
            continue
        m = np.maximum(ratio, zv)
        tail = contrib * m / (1.0 - m)
        if weighted:
            tail *= 1.0 + 1.0 / (k * (1.0 - m))
        done = (contrib == 0) & (term == 0) | ((ratio < 1) & (tail <= rtol * s))
        if done.any():
            out[idx[done]] = np.log(s[done]) + scale[done]
            keep = ~done
            idx, term, s, scale, H = idx[keep], term[keep], s[keep], scale[keep], H[keep]
            Av, Bv, Cv, zv, gb, gc, gd, gd_safe, dz = (
                v[keep] for v in (Av, Bv, Cv, zv, gb, gc, gd, gd_safe, dz)
            )
        over = s > big
        if over.any():
            s[over] /= big
            term[over] /= big
            scale[over] += log_big
    return out.reshape(shape)


def factorize_rows(columns: list[FloatArray]) -> tuple[list[FloatArray], npt.NDArray[np.intp]]:
    """Unique rows of equal-length columns (any order) and each row's index into them.

    Hash-based (pandas.factorize per column, combined codes re-factorized), O(n).
    """
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        codes, uniq = pd.factorize(col)
        key, _ = pd.factorize(key * len(uniq) + codes)
        key = key.astype(np.int64)
    inverse = key.astype(np.intp)
    k = int(inverse.max()) + 1 if n else 0
    reps = []
    for col in columns:
        rep = np.empty(k, dtype=float)
        rep[inverse] = col  # every row of a group has the same value
        reps.append(rep)
    return reps, inverse


def on_unique_rows(func: Any, *columns: FloatArray) -> FloatArray:
    """``func(*columns)`` evaluated once per distinct row and spread back."""
    reps, inverse = factorize_rows(list(columns))
    if len(reps[0]) > 0.8 * len(columns[0]):
        return np.asarray(func(*columns), dtype=float)
    return np.asarray(func(*reps), dtype=float)[inverse]


def dot(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """Inner product without BLAS: OpenBLAS threads that spin after a call slow down the
    rest of a fit on a busy machine, and these vectors are only touched once."""
    return float(np.einsum("i,i->", a, b))


def matvec(m: npt.NDArray[Any], v: npt.NDArray[Any]) -> FloatArray:
    """``m @ v`` without BLAS (see :func:`dot`)."""
    return np.einsum("ij,j->i", m, v)


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
    """Aggregate identical rows: unique rows of the columns with summed weights, in the
    order of their values (so that a fit over them does not depend on the input's order)."""
    reps, inverse = factorize_rows(columns)
    w = np.bincount(inverse, weights=weights, minlength=len(reps[0])).astype(float)
    order = np.lexsort(reps[::-1]) if reps and len(reps[0]) else np.arange(len(w))
    keep = order[w[order] > 0]
    return [r[keep] for r in reps], w[keep]


class Levels:
    """Distinct values of a column and each row's index into them (for per-value terms)."""

    def __init__(self, values: FloatArray) -> None:
        codes, uniq = pd.factorize(values)
        self.values = np.asarray(uniq, dtype=float)
        self.index = codes.astype(np.intp)

"""The one safe ratio: ``numerator / denominator`` where the denominator is positive, NaN
otherwise (no revenue, no base period, no capacity). Used for every margin, share and
utilisation, so that "no denominator" means the same everywhere."""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import pandas as pd


@overload
def per(numerator: float, denominator: float) -> float: ...
@overload
def per(numerator: pd.Series, denominator: pd.Series | float) -> pd.Series: ...
def per(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator where the denominator is positive, else NaN (Series, arrays
    or plain numbers)."""
    if isinstance(denominator, pd.Series | np.ndarray):
        den = denominator.astype("float64")
        den = den.where(den > 0) if isinstance(den, pd.Series) else np.where(den > 0, den, np.nan)
        return _as_float(numerator) / den
    d = float(denominator)
    if d > 0:
        return _as_float(numerator) / d
    return _as_float(numerator) * np.nan


def _as_float(x: Any) -> Any:
    return x.astype("float64") if isinstance(x, pd.Series | np.ndarray) else float(x)

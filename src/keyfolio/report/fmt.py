"""Number formatting shared by the report's tables, prose and chart labels."""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(math.isnan(float(x)))
    except (TypeError, ValueError):
        return False


def num(x: Any, digits: int = 0) -> str:
    """1234567.8 -> '1,234,568'; missing -> '—'."""
    if _missing(x):
        return DASH
    return f"{float(x):,.{digits}f}"


def money(x: Any, currency: str | None = None, digits: int = 0) -> str:
    """An amount with thousands separators, optionally followed by the currency code."""
    text = num(x, digits)
    return f"{text} {currency}" if currency and text != DASH else text


def short_money(x: Any, currency: str) -> str:
    """Compact amounts for prose: 'EUR 1.2 m', 'EUR 830 k', 'EUR 950'."""
    if _missing(x):
        return DASH
    v = float(x)
    a = abs(v)
    if a >= 1e9:
        return f"{currency} {v / 1e9:,.1f} bn"
    if a >= 1e6:
        return f"{currency} {v / 1e6:,.1f} m"
    if a >= 1e4:
        return f"{currency} {v / 1e3:,.0f} k"
    return f"{currency} {v:,.0f}"


def pct(x: Any, digits: int = 1) -> str:
    """0.2412 -> '24.1%'."""
    if _missing(x):
        return DASH
    return f"{float(x) * 100:,.{digits}f}%"


def hours(x: Any) -> str:
    return DASH if _missing(x) else f"{float(x):,.0f} h"


def text(x: Any) -> str:
    """Plain text for a cell; missing values as '—'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    try:
        import pandas as pd

        if x is pd.NA:
            return DASH
    except ImportError:  # pragma: no cover
        pass
    return str(x)

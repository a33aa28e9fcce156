"""The one number formatter: every figure a person reads (CLI tables, the report, the web
app) is written by these functions, with the same dash for a missing value, the same
thousands separators and the currency code in front of an amount.

* :func:`num` ``1,234,568``; :func:`money` ``EUR 1,234``; :func:`pct` ``24.1%``;
  :func:`hours` ``400 h``;
* :func:`short_money` for prose: ``EUR 1.2 m``, ``EUR 830 k``;
* :func:`compact` for narrow tables: ``1.23M``, ``12.3k``, ``950`` (the currency goes in
  the table's title);
* :func:`text` a cell's text; a missing value is :data:`DASH` everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

DASH = "—"


def missing(x: Any) -> bool:
    """None, NaN and pandas' NA (numbers that cannot be shown)."""
    if x is None:
        return True
    try:
        return bool(math.isnan(float(x)))
    except (TypeError, ValueError):
        return False


def num(x: Any, digits: int = 0) -> str:
    """1234567.8 -> '1,234,568'; missing -> '—'."""
    if missing(x):
        return DASH
    return f"{float(x):,.{digits}f}"


def money(x: Any, currency: str | None = None, digits: int = 0) -> str:
    """An amount with thousands separators, after the currency code when one is given."""
    text_ = num(x, digits)
    return f"{currency} {text_}" if currency and text_ != DASH else text_


def short_money(x: Any, currency: str) -> str:
    """Compact amounts for prose: 'EUR 1.2 m', 'EUR 830 k', 'EUR 950'."""
    if missing(x):
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


def compact(x: Any) -> str:
    """Amounts in narrow tables: '-1.23M', '12.3k', '950'."""
    if missing(x):
        return DASH
    v = float(x)
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e9:
        s = f"{a / 1e9:,.2f}B"
    elif a >= 1e6:
        s = f"{a / 1e6:,.2f}M"
    elif a >= 1e4:
        s = f"{a / 1e3:,.1f}k"
    else:
        s = f"{a:,.0f}"
    return sign + s


def pct(x: Any, digits: int = 1) -> str:
    """0.2412 -> '24.1%'."""
    if missing(x):
        return DASH
    return f"{float(x) * 100:,.{digits}f}%"


def signed_pct(x: Any, digits: int = 1) -> str:
    """0.05 -> '+5.0%' (a change or an error)."""
    if missing(x):
        return DASH
    return f"{float(x) * 100:+,.{digits}f}%"


def hours(x: Any) -> str:
    return DASH if missing(x) else f"{float(x):,.0f} h"


def score(x: Any, digits: int = 1) -> str:
    """A 0-100 score or another plain number with one decimal."""
    return DASH if missing(x) else f"{float(x):.{digits}f}"


def text(x: Any) -> str:
    """Plain text for a cell; missing values as '—'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    if x is pd.NA:
        return DASH
    return str(x)

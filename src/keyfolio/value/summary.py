"""Per-account RFM summary (frequency, recency, T, monetary) from order lines, in Ibis.

Order lines may be 100M rows, so everything here stays a lazy Ibis expression executed by the
backend (DuckDB by default); nothing goes through pandas. An *order* is an account's order day:
all lines of an account on one date count as one purchase, as in the BG/NBD literature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir

from keyfolio.errors import ModelError, WorkspaceError

EXACT = "decimal(38, 9)"  # money summed exactly: the same data gives the same figures
# The largest amount (a line, a day, an account's total) that Keyfolio sums: EXACT holds
# less than 1e29; the rest is headroom for the sums.
MAX_AMOUNT = 1e27


@contextmanager
def exact_sums(source: str = "order_lines") -> Iterator[None]:
    """Run queries over these sums: DuckDB's refusal of an amount EXACT cannot hold (a line,
    a day or an account's total beyond MAX_AMOUNT, NaN, inf) becomes one WorkspaceError."""
    try:
        yield
    except (duckdb.ConversionException, duckdb.OutOfRangeException) as exc:
        kind = str(exc).split(":", 1)[0]  # "Conversion Error", "Out of Range Error"
        raise WorkspaceError(
            f"{source}: an amount beyond {MAX_AMOUNT:g} (the largest Keyfolio adds up "
            f"exactly) or not a finite number (DuckDB: {kind}); check the units of quantity "
            "and unit_price"
        ) from None


REQUIRED = {"account_id": "string", "order_date": "date", "revenue": "float", "margin": "float"}


def _as_date(name: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ModelError(f"{name}: expected a date YYYY-MM-DD, found {value!r}") from exc
    raise ModelError(f"{name}: expected a date, found {type(value).__name__}")


def check_lines(lines: ir.Table) -> None:
    """ModelError unless ``lines`` has the four columns with usable types."""
    schema = lines.schema()
    problems = []
    for col, kind in REQUIRED.items():
        if col not in schema:
            problems.append(f"missing column {col!r}")
            continue
        dtype = schema[col]
        ok = {
            "string": dtype.is_string(),
            "date": dtype.is_date() or dtype.is_timestamp(),
            "float": dtype.is_numeric(),
        }[kind]
        if not ok:
            problems.append(f"column {col!r} should be {kind}, found {dtype}")
    if problems:
        raise ModelError(
            "order lines: expected columns account_id (string), order_date (date), revenue and "
            "margin (numbers); " + "; ".join(problems)
        )


def order_days(lines: ir.Table, *, start: Any = None, end: Any = None) -> ir.Table:
    """One row per (account_id, order_date) with the day's revenue and margin, dates in range."""
    check_lines(lines)
    day = lines.order_date.cast("date")
    t = lines.mutate(order_date=day)
    if start is not None:
        t = t.filter(t.order_date >= ibis.literal(_as_date("start", start)))
    if end is not None:
        t = t.filter(t.order_date <= ibis.literal(_as_date("cutoff", end)))
    # exact sums (decimal, to a billionth): the engine's parallel sums of doubles differ in
    # the last bits with its thread count and scheduling, and the models' likelihoods are
    # flat enough to turn that into estimates that differ from run to run
    return t.group_by(["account_id", "order_date"]).aggregate(
        revenue=t.revenue.cast(EXACT).sum(), margin=t.margin.cast(EXACT).sum()
    )


def rfm_summary(
    lines: ir.Table, *, cutoff: Any, time_unit_days: float = 7.0, start: Any = None
) -> ir.Table:
    """Per-account RFM summary of the order days in ``[start, cutoff]`` (lazy Ibis expression).

    Columns: account_id, frequency (distinct order days - 1), recency (last - first order
    day), T (cutoff - first order day), both in units of ``time_unit_days`` days,
    monetary_revenue and monetary_margin (mean revenue / margin per repeat order day, i.e.
    excluding the first day; 0 when frequency = 0) and n_days (distinct order days).
    Accounts without an order day in the window do not appear.
    """
    if not time_unit_days > 0:
        raise ModelError(f"time_unit_days: expected > 0, found {time_unit_days}")
    cutoff_d = _as_date("cutoff", cutoff)
    if start is not None and _as_date("start", start) > cutoff_d:
        raise ModelError(f"start: expected a date <= cutoff {cutoff_d}, found {start}")
    days = order_days(lines, start=start, end=cutoff_d)
    agg = days.group_by("account_id").aggregate(
        n_days=days.order_date.count(),
        first=days.order_date.min(),
        last=days.order_date.max(),
        rev_total=days.revenue.sum().cast("float64"),
        mar_total=days.margin.sum().cast("float64"),
        rev_first=days.revenue.argmin(days.order_date).cast("float64"),
        mar_first=days.margin.argmin(days.order_date).cast("float64"),
    )
    unit = float(time_unit_days)
    freq = agg.n_days - 1
    repeat = ibis.greatest(freq, 1).cast("float64")
    cut = ibis.literal(cutoff_d)
    return agg.select(
        account_id=agg.account_id,
        frequency=freq.cast("int64"),
        recency=agg.last.delta(agg.first, unit="day").cast("float64") / unit,
        T=cut.delta(agg.first, unit="day").cast("float64") / unit,
        monetary_revenue=ibis.ifelse(freq > 0, (agg.rev_total - agg.rev_first) / repeat, 0.0),
        monetary_margin=ibis.ifelse(freq > 0, (agg.mar_total - agg.mar_first) / repeat, 0.0),
        n_days=agg.n_days.cast("int64"),
    )


def period_orders(lines: ir.Table, *, start: Any, end: Any) -> ir.Table:
    """Per account: order days and total revenue / margin with order_date in [start, end]."""
    days = order_days(lines, start=start, end=end)
    return days.group_by("account_id").aggregate(
        orders=days.order_date.count().cast("int64"),
        revenue=days.revenue.sum().cast("float64"),
        margin=days.margin.sum().cast("float64"),
    )

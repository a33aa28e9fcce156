"""The facts stage's roll-up, in process: the (account, year) facts the engine returns become
one row per account (:func:`roll_up`). Small: accounts x years rows, whatever the lines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SUMS = [
    "revenue", "cogs", "margin", "lines", "lines_without_cost", "orders", "order_days",
    "returns", "return_lines", "revenue_ttm", "margin_ttm", "revenue_window", "revenue_prev",
    "margin_prev",
]  # fmt: skip


def roll_up(yearly: pa.Table) -> pa.Table:
    """Per-account facts from the (account, year) facts (small: accounts x years), in process.

    Orders and order days add up across years (an order has one date); the months with
    orders in the trailing window and the categories bought are the OR of the yearly bit
    masks, counted (``active_months_ttm``, ``categories_bought``). The rows come from the
    engine in (account, year) order (sorted here when they do not, e.g. under a database's
    own text collation); each account's rows are then one run, and the sums add the years in
    order from zero, as a hash aggregate does (a pyarrow group-by and its sorts took 5 s at
    1M accounts).
    """
    windows = [c for c in yearly.column_names if c.startswith("revenue_w") and c[9:].isdigit()]
    sums = SUMS + windows + [c for c in yearly.column_names if c == "margin_since"]
    yearly = _in_account_order(yearly)
    ids = yearly["account_id"].combine_chunks()
    n = len(ids)
    head, tail = ids.slice(0, max(n - 1, 0)), ids.slice(1)
    same = pc.or_(pc.fill_null(pc.equal(tail, head), False),
                  pc.and_(pc.is_null(tail), pc.is_null(head)))  # fmt: skip
    starts = (
        np.flatnonzero(np.r_[True, ~same.to_numpy(zero_copy_only=False)])
        if n
        else (np.zeros(0, dtype=np.int64))
    )
    sizes = np.diff(np.r_[starts, n])
    out: dict[str, Any] = {"account_id": ids.take(pa.array(starts, pa.int64()))}
    for c in sums:
        out[c] = _run_sums(yearly[c], starts, sizes)
    for c, name, f in (("first_order", "first_order", np.minimum),
                       ("last_order", "last_order", np.maximum)):  # fmt: skip
        out[name] = _run_extreme(yearly[c], starts, f)
    out["years_active"] = pa.array(_run_distinct(yearly["year"], starts), pa.int64())
    for mask, name in (("active_months_mask", "active_months_ttm"),
                       ("category_mask", "categories_bought")):  # fmt: skip
        bits = pc.fill_null(yearly[mask], 0).to_numpy().astype(np.int64)
        ored = np.bitwise_or.reduceat(bits, starts) if len(bits) else bits
        out[name] = pa.array(np.bitwise_count(ored).astype(np.float64))
    return pa.table(out)


def _in_account_order(yearly: pa.Table) -> pa.Table:
    """The rows in (account_id, year) order, both ascending, nulls last (binary text order)."""
    ids, years = yearly["account_id"].combine_chunks(), yearly["year"].combine_chunks()
    n = len(ids)
    if n > 1 and not ids.null_count and not years.null_count:
        a, b = ids.slice(0, n - 1), ids.slice(1)
        ya, yb = years.slice(0, n - 1), years.slice(1)
        backwards = pc.or_(pc.less(b, a), pc.and_(pc.equal(b, a), pc.less_equal(yb, ya)))
        if not pc.any(backwards).as_py():
            return yearly
    elif n <= 1:
        return yearly
    return yearly.take(
        pc.sort_indices(yearly, [("account_id", "ascending"), ("year", "ascending")])
    )


def _run_sums(col: pa.ChunkedArray, starts: np.ndarray, sizes: np.ndarray) -> pa.Array:
    """Per run of rows (``starts``, ``sizes``) the sum of ``col``, nulls skipped (0 when all
    are null), added in row order from zero: integers as int64, anything else as float64."""
    integer = pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)
    values = pc.fill_null(col, 0).to_numpy().astype(np.int64 if integer else np.float64)
    total = np.zeros(len(starts), dtype=values.dtype)
    for k in range(int(sizes.max()) if len(sizes) else 0):  # years per account: a few
        runs = np.flatnonzero(sizes > k)
        total[runs] += values[starts[runs] + k]
    return pa.array(total)


def _run_distinct(col: pa.ChunkedArray, starts: np.ndarray) -> np.ndarray:
    """Per run of sorted rows, the number of distinct non-null values."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    valid = pc.is_valid(col).to_numpy(zero_copy_only=False)
    values = pc.fill_null(col, 0).to_numpy().astype(np.int64)
    new = np.r_[True, values[1:] != values[:-1]]
    new[starts] = True
    return np.add.reduceat((new & valid).astype(np.int64), starts)


def _run_extreme(col: pa.ChunkedArray, starts: np.ndarray, f: np.ufunc) -> pa.Array:
    """Per run the minimum (``np.minimum``) or maximum of ``col`` (dates), nulls skipped."""
    arr = col.combine_chunks()
    if not len(starts):
        return arr.slice(0, 0)
    temporal = pa.types.is_temporal(arr.type)
    storage = (
        pa.int32() if arr.type in (pa.date32(), pa.time32("s"), pa.time32("ms")) else (pa.int64())
    )
    ints = arr.cast(storage) if temporal else arr
    fill = np.iinfo(np.int64).max if f is np.minimum else np.iinfo(np.int64).min
    values = pc.fill_null(ints, 0).to_numpy().astype(np.int64)
    valid = pc.is_valid(arr).to_numpy(zero_copy_only=False).astype(np.int64)
    values[valid == 0] = fill  # a null never wins
    got = f.reduceat(values, starts)
    none = np.add.reduceat(valid, starts) == 0
    got[none] = 0  # masked below; a placeholder that fits the date's storage
    out = pa.array(got, pa.int64(), mask=none)
    return out.cast(storage).cast(arr.type) if temporal else out

"""The per-account roll-up of the yearly facts (:func:`keyfolio.pipeline.rollup.roll_up`: runs
of rows in account order, sums in row order) against the pyarrow group-by it replaced, bit
for bit, over random yearly tables: rows in any order (a database may return its own text
collation's order), nulls in every column, float sums whose order matters, -0.0."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from keyfolio.pipeline.rollup import SUMS, roll_up

INTS = {"lines", "lines_without_cost", "orders", "order_days", "return_lines"}


def groupby_roll_up(yearly: pa.Table) -> pa.Table:
    """The implementation before: a sort, pyarrow's group-by, a sort of the groups."""
    windows = [c for c in yearly.column_names if c.startswith("revenue_w") and c[9:].isdigit()]
    sums = SUMS + windows + [c for c in yearly.column_names if c == "margin_since"]
    order = pc.sort_indices(yearly, [("account_id", "ascending"), ("year", "ascending")])
    yearly = yearly.take(order)
    grouped = yearly.group_by("account_id", use_threads=False).aggregate(
        [(c, "sum") for c in sums] + [("first_order", "min"), ("last_order", "max"),
                                      ("year", "count_distinct"),
                                      ("account_id", "count", pc.CountOptions(mode="all"))]
    ).sort_by("account_id")  # fmt: skip
    sizes = grouped["account_id_count"].to_numpy()
    starts = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64) if len(sizes) else sizes
    out: dict[str, Any] = {"account_id": grouped["account_id"]}
    for c in sums:
        out[c] = pc.fill_null(grouped[f"{c}_sum"], 0)
    out["first_order"] = grouped["first_order_min"]
    out["last_order"] = grouped["last_order_max"]
    out["years_active"] = grouped["year_count_distinct"].cast(pa.int64())
    for mask, name in (("active_months_mask", "active_months_ttm"),
                       ("category_mask", "categories_bought")):  # fmt: skip
        bits = pc.fill_null(yearly[mask], 0).to_numpy().astype(np.int64)
        ored = np.bitwise_or.reduceat(bits, starts) if len(bits) else bits
        out[name] = pa.array(np.bitwise_count(ored).astype(np.float64))
    return pa.table(out)


FLOAT = st.one_of(st.none(), st.sampled_from([0.0, -0.0, 0.1, 1e16, -1e16, 3.3]),
                  st.floats(-1e9, 1e9, allow_nan=False))  # fmt: skip


@st.composite
def yearly_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 30))
    ids = draw(st.lists(st.one_of(st.sampled_from(["A", "B", "b", "Ä", "A1"]), st.none()),
                        min_size=n, max_size=n))  # fmt: skip
    years = draw(st.lists(st.one_of(st.integers(2015, 2026), st.none()), min_size=n, max_size=n))
    cols: dict[str, pa.Array] = {
        "account_id": pa.array(ids, pa.string()),
        "year": pa.array(years, pa.int64()),
    }
    for c in [*SUMS, "revenue_w0", "revenue_w1", "margin_since"]:
        if c in INTS:
            vals = draw(st.lists(st.one_of(st.none(), st.integers(0, 50)), min_size=n, max_size=n))
            cols[c] = pa.array(vals, pa.int64())
        else:
            cols[c] = pa.array(draw(st.lists(FLOAT, min_size=n, max_size=n)), pa.float64())
    day = st.one_of(st.none(), st.dates(dt.date(2015, 1, 1), dt.date(2026, 12, 31)))
    cols["first_order"] = pa.array(draw(st.lists(day, min_size=n, max_size=n)), pa.date32())
    cols["last_order"] = pa.array(draw(st.lists(day, min_size=n, max_size=n)), pa.date32())
    mask = st.one_of(st.none(), st.integers(1, 4095))
    cols["active_months_mask"] = pa.array(draw(st.lists(mask, min_size=n, max_size=n)), pa.int64())
    cols["category_mask"] = pa.array(draw(st.lists(mask, min_size=n, max_size=n)), pa.int64())
    table = pa.table(cols)
    if draw(st.booleans()):  # already in the engine's (account, year) order
        table = table.take(pc.sort_indices(table, [("account_id", "ascending"),
                                                   ("year", "ascending")]))  # fmt: skip
    return table


def _same(a: pa.Table, b: pa.Table) -> None:
    assert a.column_names == b.column_names
    for name in a.column_names:
        x, y = a[name].combine_chunks(), b[name].combine_chunks()
        assert x.type == y.type, name
        if pa.types.is_floating(x.type):  # bit for bit, -0.0 and NaN included
            xs = np.asarray(x.to_numpy(zero_copy_only=False), dtype=np.float64).view(np.int64)
            ys = np.asarray(y.to_numpy(zero_copy_only=False), dtype=np.float64).view(np.int64)
            assert xs.tolist() == ys.tolist(), name
            assert x.is_null().to_pylist() == y.is_null().to_pylist(), name
        else:
            assert x.to_pylist() == y.to_pylist(), name


@settings(max_examples=200, deadline=None)
@given(yearly_tables())
def test_roll_up_equals_the_group_by(yearly: pa.Table) -> None:
    _same(roll_up(yearly), groupby_roll_up(yearly))

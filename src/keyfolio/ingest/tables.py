"""Checks of one staged table as a whole, in DuckDB: one row per key, discounts as
fractions, the schema's sign rules (freight, prices and costs not negative), a line's
amounts within the bound of numbers, one currency; and the notes an import gives about it.

Each staged table gets a view ``k_<table>``: its final columns (kept extras as numbers when
every value is one), ``__row`` and ``__bad``, one row per key. The cross-table checks and
the final write read that view.
"""

from __future__ import annotations

from keyfolio.errors import Problem
from keyfolio.ingest import dedupe, notes
from keyfolio.ingest.load import BAD, NUM, Staged
from keyfolio.ingest.sql import Sql, ident, select
from keyfolio.ingest.staging import ROW_COL, Check, Staging
from keyfolio.ingest.validate import Collector
from keyfolio.schema import NUMBER_BOUND, TABLES


def final_view(got: Staged) -> str:
    return f"k_{got.table}"


def check_table(got: Staged, st: Staging, out: Collector) -> int:
    """Define ``k_<table>`` for ``got``, run the table's checks and add its notes to
    ``got.notes``; returns the rows it keeps."""
    m = got.mapping
    staged_cols = st.columns(got.view)
    got.notes.extend(notes.marker_warnings(m, st, got.view))
    got.notes.extend(notes.amount_warning(m, st, got.view, staged_cols, got.amount))
    shaped = got.view
    if got.numeric_keep:
        shaped = f"v_{got.table}"
        cols = [
            f"{ident(NUM + c)} AS {ident(c)}" if c in got.numeric_keep else ident(c)
            for c in got.columns
        ]
        st.define(shaped, select([*cols, ROW_COL, ident(BAD)], got.view))
    key = TABLES[m.table].key
    kept: Sql = select(["*"], shaped)
    rows = got.rows
    if key and all(k in got.columns for k in key):
        values = [c for c in got.columns if c not in key]
        kept, rows, said = dedupe.one_per_key(
            st, shaped, key, values, m.dedupe, got.file, {**m.columns, **m.keep}, out,
            collapse_identical=TABLES[m.table].keep_extra,
        )  # fmt: skip
        got.notes.extend(said)
        got.rewrite = got.rewrite or rows < got.rows
    view = final_view(got)
    st.define(view, kept)
    _value_checks(got, st, view, out)
    return rows


def _value_checks(got: Staged, st: Staging, view: str, out: Collector) -> None:
    cols, file, checks = got.columns, got.file, []
    if "discount" in cols:
        lo, hi = st.rows(select(['min("discount")', 'max("discount")'], view))[0]
        expected = "a discount between 0 and 1 (a fraction: 0.05 = 5%)"
        if lo is not None and hi is not None and lo >= 0 and hi <= 100:
            expected += "; the values look like percentages: divide them by 100 (5 → 0.05)"
        checks.append(Check(file, got.source_col("discount"), expected,
                            '"discount" < 0 OR "discount" > 1', '"discount"'))  # fmt: skip
    tspec = TABLES[got.table]
    for c in cols:
        spec = tspec.column(c) if c in tspec.names else None
        if spec is not None and spec.sign == ">= 0":
            hint = f" ({spec.sign_hint})" if spec.sign_hint else ""
            checks.append(Check(file, got.source_col(c), f"{c} >= 0{hint}", f"{ident(c)} < 0",
                                ident(c)))  # fmt: skip
    if got.table == "order_lines" and "quantity" in cols:
        checks.extend(_amount_checks(got))
    st.report(out, view, checks)
    if "currency" in cols:
        _check_currency(got, st, view, out)


def _amount_checks(got: Staged) -> list[Check]:
    """A line's amounts (quantity x unit_price, quantity x unit_cost) within the bound of
    every number: each factor is, but not always their product."""
    b = f"{NUMBER_BOUND:.0e}".replace("e+", "e")
    out = []
    for c in ("unit_price", "unit_cost"):
        if c in got.columns:
            product = f'"quantity" * {ident(c)}'
            expected = (f"a line amount (quantity x {c}: {got.source_col('quantity')!r} x "
                        f"{got.source_col(c)!r}) between -{b} and {b}")  # fmt: skip
            out.append(Check(got.file, got.source_col("quantity"), expected,
                             f"abs({product}) >= ?", product, (NUMBER_BOUND,)))  # fmt: skip
    return out


def _check_currency(got: Staged, st: Staging, view: str, out: Collector) -> None:
    columns = ['"currency"', "count(*) AS n", f"min({ROW_COL}) AS first"]
    query = select(columns, view, where='"currency" IS NOT NULL', group=['"currency"'],
                   order=["n DESC", "first"])  # fmt: skip
    counts = st.rows(query)
    if len(counts) <= 1:
        return
    main = counts[0][0]
    summary = ", ".join(f"{v} ({n} row(s))" for v, n, _ in counts[:5])
    for _, _, first in counts[1:]:
        out.add(
            Problem(
                got.file,
                first,
                got.source_col("currency"),
                f"one currency in all rows ({main}); convert amounts before importing",
                summary,
            )
        )


__all__ = ["check_table", "final_view"]

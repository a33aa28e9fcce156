"""One row per key from a file that repeats it: accounts (or products, or order headers)
taken from the flat sales file itself, one line per sale.

For accounts and products (attribute tables), rows that repeat a key with the same values
collapse to one, silently: that is a flat file's nature. Rows that repeat a key with
*different* values, and repeated keys of the other tables (an order header twice is
usually an error), need a choice, the mapping's ``dedupe``: ``"first"`` or ``"last"`` keeps
that row per key and says, per column, for how many keys the values differed; ``"error"``
(and no ``dedupe``) reports every repeated key as a problem, as a key table must be unique.

The work is done by DuckDB over the staged table, so a file of 100 million lines feeding
a table of 100,000 accounts is grouped, not held.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from keyfolio.ingest.sql import Sql, col, ident, select, text
from keyfolio.ingest.staging import ROW_COL, Staging
from keyfolio.ingest.validate import Collector

CHOICES = ("first", "last", "error")


def one_per_key(
    st: Staging,
    view: str,
    key: Sequence[str],
    values: Sequence[str],
    dedupe: str | None,
    file: str,
    source_of: dict[str, str],
    out: Collector,
    *,
    collapse_identical: bool,
) -> tuple[Sql, int, list[str]]:
    """The query of ``view``'s rows with one row per key (see the module docstring), how
    many rows it keeps, and the warnings to give. ``values``: the columns compared between
    a key's rows."""
    keys = [col(k) for k in key]
    keyed = " AND ".join(f"{ident(k)} IS NOT NULL" for k in key)
    everything = select(["*"], view)
    n_rows = int(st.one(select(["count(*)"], view)))
    per_key = select(["count(*) AS n"], view, where=keyed, group=keys)
    repeats = int(st.one(select(["coalesce(sum(n - 1), 0)"], per_key)))
    if not repeats:
        return everything, n_rows, []
    differ = _conflicts(st, view, keys, keyed, values)
    if dedupe == "error" or (dedupe is None and (any(differ.values()) or not collapse_identical)):
        _report(st, view, key, keyed, repeats, dedupe, file, source_of, out)
        return everything, n_rows, []
    pick = "max" if dedupe == "last" else "min"
    chosen = select([f"{pick}({ROW_COL})"], view, where=keyed, group=keys)
    kept = select(["*"], view, where=f"NOT ({keyed}) OR {ROW_COL} IN ({text(chosen)})",
                  order=[ROW_COL])  # fmt: skip
    n_keys = n_rows - repeats
    warnings = []
    if dedupe is not None or any(differ.values()):
        what = " + ".join(key)
        clash = ", ".join(
            f"{source_of.get(c, c)!r} ({n:,} {what} value{'s' if n > 1 else ''})"
            for c, n in differ.items() if n
        )  # fmt: skip
        warnings.append(
            f"{file}: {n_rows:,} rows for {n_keys:,} {' + '.join(key)} values; kept the "
            f"{dedupe or 'first'} row of each"
            + (f"; values differ between a key's rows in {clash}" if clash else "")
        )
    return kept, n_keys, warnings


def _conflicts(
    st: Staging, view: str, keys: list[exp.Column], keyed: str, values: Sequence[str]
) -> dict[str, int]:
    """Per value column: how many keys have more than one distinct value."""
    if not values:
        return {}
    per_key = select([f"count(DISTINCT {ident(c)}) AS d{i}" for i, c in enumerate(values)],
                     view, where=keyed, group=keys)  # fmt: skip
    over = [f"count(*) FILTER (WHERE d{i} > 1)" for i in range(len(values))]
    row = st.rows(select(over, per_key))[0]
    return {c: int(n) for c, n in zip(values, row, strict=True)}


def _report(
    st: Staging,
    view: str,
    key: Sequence[str],
    keyed: str,
    repeats: int,
    dedupe: str | None,
    file: str,
    source_of: dict[str, str],
    out: Collector,
) -> None:
    keys = [col(k) for k in key]
    window = f"min({ROW_COL}) OVER (PARTITION BY {', '.join(ident(k) for k in key)}) AS first"
    firsts = select([ROW_COL, *keys, window], view, where=keyed)
    got = st.rows(
        select([ROW_COL, "first", *keys], firsts, where=f"{ROW_COL} <> first", order=[ROW_COL],
               limit=True),
        [out.cap],
    )  # fmt: skip
    found = [f"{', '.join(str(x) for x in r[2:])!r} again (first at row {r[1]})" for r in got]
    hint = "" if dedupe == "error" else (
        ' (or set dedupe = "first" or "last" to keep one row per key)'
    )  # fmt: skip
    out.add_rows(file, source_of.get(key[-1], key[-1]), f"a unique {' + '.join(key)}{hint}",
                 [r[0] for r in got], found, total=repeats)  # fmt: skip


__all__ = ["CHOICES", "one_per_key"]

"""Things an import says about figures that look wrong but may be right: they are warnings
in the import summary, not errors, and each names the column and what to do.

* an id column holding a common missing marker ("NA", "N/A", "NULL", "-", "#N/A", ...)
  that the mapping does not declare as missing: without ``missing``, "NA" is one account;
* a line amount and quantity x unit price in the same file that disagree: the one not
  mapped may be the truth (a capped "price each" understated a real file's revenue by 17%).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pyarrow as pa

from keyfolio.fmt import compact, num, pct
from keyfolio.ingest.mapping import TableMapping
from keyfolio.ingest.readers import ReadOptions
from keyfolio.ingest.sql import ident, select
from keyfolio.ingest.staging import Staging
from keyfolio.ingest.validate import convert
from keyfolio.schema import TABLES

MARKERS = ("NA", "N/A", "n/a", "NULL", "null", "None", "-", "#N/A", "#NA", "nan", "NaN", "?")
AMOUNT = "__amount"  # a hidden column: the file's unmapped line amount, as a number
_AMOUNT_NAMES = re.compile(
    r"^(sales|amount|line_?amount|line_?total|total|revenue|net_?amount|extended_?price"
    r"|ext_?price|value|net_?value|umsatz|betrag)$",
    re.IGNORECASE,
)


def marker_warnings(m: TableMapping, st: Staging, view: str) -> list[str]:
    """Id columns whose values include common missing markers not declared in ``missing``."""
    declared = {x.strip() for x in m.options.missing}
    markers = [x for x in MARKERS if x not in declared]
    out = []
    for canon, source in m.columns.items():
        if TABLES[m.table].column(canon).kind != "id":
            continue
        c = ident(canon)
        marks = ", ".join("?" for _ in markers)
        query = select([c, "count(*) AS n"], view, where=f"{c} IN ({marks})", group=[c],
                       order=["n DESC", c])  # fmt: skip
        hits = st.rows(query, markers)
        if not hits:
            continue
        found = {v: int(c) for v, c in hits}
        parts = ", ".join(
            f"{c:,} row{'s' if c > 1 else ''} hold{'' if c > 1 else 's'} {v!r}"
            for v, c in found.items()
        )
        quoted = ", ".join(f'"{v}"' for v in found)
        out.append(
            f"{m.file.name}, column {source!r} ({m.table}.{canon}): {parts}, a common missing "
            f"marker; imported as {'an id' if len(found) == 1 else 'ids'} of their own. If it "
            f"means no value, add missing = [{quoted}]"
        )
    return out


def amount_column(m: TableMapping, source_columns: Sequence[str]) -> str | None:
    """An unmapped source column that looks like the line's amount, when the mapping gives
    revenue as quantity x unit_price (none: nothing to compare)."""
    if m.table != "order_lines" or "net_revenue" in m.columns or "unit_price" not in m.columns:
        return None
    mapped = set(m.columns.values()) | set(m.keep.values())
    for c in source_columns:
        if c not in mapped and _AMOUNT_NAMES.match(c.replace(" ", "_")):
            return c
    return None


def amount_values(raw: pa.ChunkedArray | pa.Array, options: ReadOptions) -> pa.Array:
    return convert(raw, "number", options).values


def amount_warning(
    m: TableMapping, st: Staging, view: str, columns: Sequence[str], amount_source: str | None
) -> list[str]:
    """Line amount against quantity x unit price x (1 - discount), where a file has both
    (``columns``: the staged view's)."""
    if not {"quantity", "unit_price"} <= set(columns):
        return []
    if "net_revenue" in columns and "net_revenue" in m.columns:
        amount, name, mapped = ident("net_revenue"), m.columns["net_revenue"], True
    elif amount_source is not None and AMOUNT in columns:
        amount, name, mapped = ident(AMOUNT), amount_source, False
    else:
        return []
    disc = 'coalesce("discount", 0.0)' if "discount" in columns else "0.0"
    pairs = select([f"{amount} AS a", f'"quantity" * "unit_price" * (1.0 - {disc}) AS g'], view)
    totals = ["count(*)", "coalesce(sum(a), 0)", "coalesce(sum(g), 0)",
              "count(*) FILTER (WHERE abs(a - g) > abs(a) * 0.01)"]  # fmt: skip
    n, sa, sg, n_off = st.rows(select(totals, pairs, where="a IS NOT NULL AND g IS NOT NULL"))[0]
    if not n or not n_off:
        return []
    rel = (sg - sa) / sa if sa else float("nan")
    used = (
        f"revenue uses {m.columns['net_revenue']!r} where it is given"
        if mapped
        else f"revenue uses quantity x unit_price; if {name!r} is the line's amount, map "
        f'net_revenue = "{name}"'
    )
    return [
        f"{m.file.name}: the line amount {name!r} totals {compact(sa)}, quantity x unit_price "
        f"x (1 - discount) totals {compact(sg)} ({pct(rel)} apart); {num(n_off)} of "
        f"{num(n)} lines differ by more than 1%: {used}"
    ]

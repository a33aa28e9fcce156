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
import pyarrow.compute as pc

from keyfolio.fmt import compact, num, pct
from keyfolio.ingest.mapping import TableMapping
from keyfolio.ingest.readers import ReadOptions
from keyfolio.ingest.validate import convert
from keyfolio.schema import TABLES

MARKERS = ("NA", "N/A", "n/a", "NULL", "null", "None", "-", "#N/A", "#NA", "nan", "NaN", "?")
AMOUNT = "__amount"  # a hidden column: the file's unmapped line amount, as a number
_AMOUNT_NAMES = re.compile(
    r"^(sales|amount|line_?amount|line_?total|total|revenue|net_?amount|extended_?price"
    r"|ext_?price|value|net_?value|umsatz|betrag)$",
    re.IGNORECASE,
)


def marker_warnings(m: TableMapping, data: pa.Table) -> list[str]:
    """Id columns whose values include common missing markers not declared in ``missing``."""
    declared = {x.strip() for x in m.options.missing}
    out = []
    for canon, source in m.columns.items():
        if TABLES[m.table].column(canon).kind != "id" or canon not in data.column_names:
            continue
        col = data[canon]
        hits = pc.value_counts(pc.filter(col, pc.is_in(col, value_set=pa.array(MARKERS))))
        found = {v: c for v, c in zip(hits.field("values").to_pylist(),
                                      hits.field("counts").to_pylist(), strict=True)
                 if v not in declared}  # fmt: skip
        if not found:
            continue
        parts = ", ".join(
            f"{c:,} row{'s' if c > 1 else ''} hold{'' if c > 1 else 's'} {v!r}"
            for v, c in sorted(found.items(), key=lambda kv: -kv[1])
        )
        markers = ", ".join(f'"{v}"' for v in sorted(found, key=lambda v: -found[v]))
        out.append(
            f"{m.file.name}, column {source!r} ({m.table}.{canon}): {parts}, a common missing "
            f"marker; imported as {'an id' if len(found) == 1 else 'ids'} of their own. If it "
            f"means no value, add missing = [{markers}]"
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


def amount_warning(m: TableMapping, data: pa.Table, amount_source: str | None) -> list[str]:
    """Line amount against quantity x unit price x (1 - discount), where a file has both."""
    cols = data.column_names
    if not {"quantity", "unit_price"} <= set(cols):
        return []
    if "net_revenue" in cols and "net_revenue" in m.columns:
        amount, name, mapped = data["net_revenue"], m.columns["net_revenue"], True
    elif amount_source is not None and AMOUNT in cols:
        amount, name, mapped = data[AMOUNT], amount_source, False
    else:
        return []
    disc = pc.fill_null(data["discount"], 0.0) if "discount" in cols else 0.0
    gross = pc.multiply(pc.multiply(data["quantity"], data["unit_price"]), pc.subtract(1.0, disc))
    both = pc.and_(amount.is_valid(), gross.is_valid())
    a = pc.filter(amount, both)
    g = pc.filter(gross, both)
    n = len(a)
    if not n:
        return []
    sa, sg = pc.sum(a).as_py() or 0.0, pc.sum(g).as_py() or 0.0
    off = pc.greater(pc.abs(pc.subtract(a, g)), pc.multiply(pc.abs(a), 0.01))
    n_off = int(pc.sum(off).as_py() or 0)
    if not n_off:
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

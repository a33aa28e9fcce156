"""The mapping's columns against the source's: required ones mapped, every mapped or kept
column present, read by a name no other column has, and of a type that holds values (a
Parquet struct or list does not); computed columns parsed over the source's columns.
"""

from __future__ import annotations

import difflib

import pyarrow as pa

from keyfolio.errors import KeyfolioError, Problem
from keyfolio.ingest import computed
from keyfolio.ingest.mapping import TableMapping
from keyfolio.ingest.source import Source
from keyfolio.ingest.validate import Collector
from keyfolio.schema import TABLES


def readable_type(t: pa.DataType) -> bool:
    """Whether a column of this Arrow type holds values an import can convert (text,
    numbers, dates and times, true/false), not structures."""
    if pa.types.is_dictionary(t):
        return readable_type(t.value_type)
    if isinstance(t, pa.ExtensionType):
        return readable_type(t.storage_type)
    return not (
        pa.types.is_nested(t)
        or pa.types.is_union(t)
        or pa.types.is_duration(t)
        or pa.types.is_interval(t)
        or pa.types.is_fixed_size_binary(t)
    )


def _suggest(name: str, found: list[str]) -> str:
    lower = {c.lower(): c for c in found}
    if name.lower() in lower:
        return f"; did you mean {lower[name.lower()]!r}?"
    close = difflib.get_close_matches(name, found, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _found_columns(found: list[str]) -> str:
    shown = ", ".join(found[:20]) + (" ..." if len(found) > 20 else "")
    return f"columns {shown}"


def check_mapped_columns(
    m: TableMapping, src: Source, out: Collector, exprs: dict[str, computed.Computed]
) -> bool:
    """Required and mapped columns exist in the source (or are expressions over it, parsed
    into ``exprs``), each once and of a readable type; False when reading is pointless."""
    file, ok = str(m.file), True
    found = src.columns
    tspec = TABLES[m.table]
    for canon in tspec.required:
        if canon not in m.columns:
            hint = _suggest(canon, found)
            out.add(
                Problem(
                    file,
                    None,
                    canon,
                    f'a column for required {m.table}.{canon} (map it: {canon} = "SourceColumn")',
                    _found_columns(found) + hint,
                )
            )
            ok = False
    pairs: list[tuple[str | None, str]] = [
        *m.columns.items(),
        *((None, k) for k in m.keep.values()),
    ]
    numbered = not m.options.header and m.options.names is None
    for target, source in pairs:
        what = f"mapped to {target}" if target else "kept as an attribute"
        if source in src.repeated or source in src.types:
            ok = _one_readable(m, src, source, what, out) and ok
            continue
        if source not in found and target is not None and computed.is_expression(source):
            try:  # the repeated names parse, to be named as such below
                exprs[target] = computed.parse(source, [*found, *src.repeated], m.origin, target)
            except KeyfolioError as e:
                out.add(Problem(file, None, None, "a computed column over the file's columns",
                                str(e)))  # fmt: skip
                ok = False
                continue
            for used in exprs[target].columns:
                ok = _one_readable(m, src, used, f"used in {target} = {source!r}", out) and ok
            continue
        if source not in found:
            if numbered and source.isdigit():  # a column number beyond the last
                expected = f"a column number from 1 to {len(found)} ({what})"
                out.add(Problem(file, None, source, expected, f"column {source}; the rows have "
                                f"{len(found)} fields"))  # fmt: skip
            else:
                expected = f"a column {source!r} ({what})"
                out.add(Problem(file, None, source, expected,
                                _found_columns(found) + _suggest(source, found)))  # fmt: skip
            ok = False
    if m.table == "order_lines":
        cols = set(m.columns)
        if "order_id" not in cols and not {"account_id", "order_date"} <= cols:
            out.add(
                Problem(
                    file,
                    None,
                    None,
                    "order_id (header + lines) or account_id and "
                    "order_date (flat lines) among the mapped columns",
                    f"mapped {', '.join(sorted(cols)) or 'nothing'}",
                )
            )
            ok = False
        if {"net_revenue", "discount"} <= cols and not m.net_revenue_before_discount:
            out.add(
                Problem(
                    file,
                    None,
                    m.columns["discount"],
                    "net_revenue or discount, not both: revenue is net_revenue where it is given, "
                    "so the discount would be ignored; drop discount if net_revenue is after "
                    "discount, or set net_revenue_before_discount = true",
                    f"net_revenue = {m.columns['net_revenue']!r} and discount = "
                    f"{m.columns['discount']!r}",
                )
            )
            ok = False
        if not cols & {"net_revenue", "unit_price"}:
            out.add(
                Problem(
                    file,
                    None,
                    None,
                    "net_revenue or unit_price among the mapped "
                    "columns (revenue = net_revenue or quantity × unit_price × (1 − discount))",
                    f"mapped {', '.join(sorted(cols))}",
                )
            )
            ok = False
    return ok


def _one_readable(m: TableMapping, src: Source, source: str, what: str, out: Collector) -> bool:
    """``source`` is one column of the file, of a type that holds values."""
    file = str(m.file)
    if source in src.repeated:
        where = " and ".join(src.repeated[source])
        out.add(Problem(file, src.header_row, source,
                        f"a column name found once in the file ({what})",
                        f"{source!r} in columns {where}"))  # fmt: skip
        return False
    t = src.types.get(source)
    if t is not None and not readable_type(t):
        out.add(Problem(file, None, source,
                        f"a column of text, numbers, dates or true/false ({what})",
                        f"a column of type {t}"))  # fmt: skip
        return False
    return True


def needed_columns(m: TableMapping, src: Source, exprs: dict[str, computed.Computed],
                   amount: str | None) -> list[str] | None:  # fmt: skip
    """The source columns an import reads (None: all, for a ``where`` over any of them)."""
    if m.options.where:
        return None
    used = [c for c in (*m.columns.values(), *m.keep.values()) if c in src.columns]
    used += [c for e in exprs.values() for c in e.columns]
    if amount is not None:
        used.append(amount)
    return list(dict.fromkeys(used))


__all__ = ["check_mapped_columns", "needed_columns", "readable_type"]

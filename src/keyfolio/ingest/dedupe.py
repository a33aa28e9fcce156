"""One row per key from a file that repeats it: accounts (or products, or order headers)
taken from the flat sales file itself, one line per sale.

For accounts and products (attribute tables), rows that repeat a key with the same values
collapse to one, silently: that is a flat file's nature. Rows that repeat a key with
*different* values, and repeated keys of the other tables (an order header twice is
usually an error), need a choice, the mapping's ``dedupe``: ``"first"`` or ``"last"`` keeps
that row per key and says, per column, for how many keys the values differed; ``"error"``
(and no ``dedupe``) reports every repeated key as a problem, as a key table must be unique.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.ingest.readers import ROW
from keyfolio.ingest.validate import Collector, duplicate_rows

CHOICES = ("first", "last", "error")
_I = "__i"


def one_per_key(
    t: pa.Table,
    key: Sequence[str],
    dedupe: str | None,
    file: str,
    source_of: dict[str, str],
    out: Collector,
    *,
    collapse_identical: bool,
) -> tuple[pa.Table, list[str]]:
    """``t`` with one row per key (see the module docstring) and the warnings to give."""
    key = list(key)
    rows, firsts, text = duplicate_rows(t, key)
    if not len(rows):
        return t, []
    values = [c for c in t.column_names if c not in key and not c.startswith("__")]
    differ = _conflicts(t, key, values)
    if dedupe == "error" or (dedupe is None and (any(differ.values()) or not collapse_identical)):
        found = [f"{v!r} again (first at row {f})" for v, f in zip(text, firsts.to_pylist(),
                                                                 strict=True)]  # fmt: skip
        hint = "" if dedupe == "error" else (
            ' (or set dedupe = "first" or "last" to keep one row per key)'
        )  # fmt: skip
        out.add_rows(file, source_of.get(key[-1], key[-1]), f"a unique {' + '.join(key)}{hint}",
                     rows, found)  # fmt: skip
        return t, []
    keep = _pick(t, key, "max" if dedupe == "last" else "min")
    kept = t.take(keep)
    warnings = []
    n_keys, n_rows = kept.num_rows, t.num_rows
    if dedupe is not None or any(differ.values()):
        clash = ", ".join(
            f"{source_of.get(c, c)!r} for {n:,}" for c, n in differ.items() if n
        )  # fmt: skip
        warnings.append(
            f"{file}: {n_rows:,} rows for {n_keys:,} {' + '.join(key)} values; kept the "
            f"{dedupe or 'first'} row of each"
            + (f"; values differ between a key's rows in {clash}" if clash else "")
        )
    return kept, warnings


def _conflicts(t: pa.Table, key: list[str], values: list[str]) -> dict[str, int]:
    """Per value column: how many keys have more than one distinct value."""
    valid = t
    for k in key:
        valid = valid.filter(valid[k].is_valid())
    out = {}
    for c in values:
        g = valid.group_by(key, use_threads=False).aggregate([(c, "count_distinct")])
        out[c] = int(pc.sum(pc.greater(g[f"{c}_count_distinct"], 1)).as_py() or 0)
    return out


def _pick(t: pa.Table, key: list[str], how: str) -> pa.Array:
    """Indices of the first (``min``) or last (``max``) row of each key, in file order; rows
    with an empty key are kept (they are reported elsewhere)."""
    idx = pa.array(range(t.num_rows), pa.int64())
    has_key = t[key[0]].is_valid()
    for k in key[1:]:
        has_key = pc.and_(has_key, t[k].is_valid())
    keyed = t.select(key).append_column(_I, idx).filter(has_key)
    g = keyed.group_by(key, use_threads=False).aggregate([(_I, how)])
    chosen = pa.concat_arrays(
        [g[f"{_I}_{how}"].combine_chunks(), pc.filter(idx, pc.invert(has_key)).combine_chunks()]
    )
    return pc.take(chosen, pc.sort_indices(chosen))


__all__ = ["CHOICES", "ROW", "one_per_key"]

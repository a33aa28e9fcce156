"""Vectorised conversion of raw source columns to canonical kinds, and the collector of
the problems found.

Conversion never loops over cells in Python: masks from :mod:`pyarrow.compute` find the
bad rows, whose ``__row`` numbers and raw values become :class:`Problem` entries. Numbers
and ids: :mod:`keyfolio.ingest.numeric`; dates: :mod:`keyfolio.ingest.dates`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.errors import Problem
from keyfolio.ingest.dates import by_value, date_expectation, far, iso_dates, parse_dates
from keyfolio.ingest.dates import range_expectation as range_expectation
from keyfolio.ingest.numeric import (
    bound_expectation,
    control_expectation,
    flags,
    float_text,
    has_control,
    id_expectation,
    native_numbers,
    number_expectation,
    out_of_bound,
    parse_numbers,
)
from keyfolio.ingest.readers import ROW, ReadOptions

ROWS_SHOWN = 20  # problems listed per (file, column, check); the rest are counted
KINDS_COUNTED = 10_000  # distinct bad values counted per check (beyond: "more than")
_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]


@dataclass
class _Values:
    """Bad values of one (file, column, check), gathered across batches."""

    first: dict[Any, tuple[int, int]] = field(default_factory=dict)  # value -> (row, rows)
    kinds: set[Any] = field(default_factory=set)  # distinct values, up to KINDS_COUNTED
    total: int = 0


@dataclass
class Collector:
    """Collects every problem; lists at most ``cap`` per (file, column, check)."""

    cap: int = ROWS_SHOWN
    distinct: int = 5  # bad values shown per (file, column, check) by :meth:`add_values`
    problems: list[Problem | tuple[str, str | None, str]] = field(default_factory=list)
    _shown: Counter[tuple[str, str | None, str]] = field(default_factory=Counter)
    _total: Counter[tuple[str, str | None, str]] = field(default_factory=Counter)
    _values: dict[tuple[str, str | None, str], _Values] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def add_rows(
        self,
        file: str,
        column: str | None,
        expected: str,
        rows: pa.Array | Sequence[int],
        found: Sequence[str],
        total: int | None = None,
    ) -> None:
        """Rows (``__row`` numbers) that failed one check, with what was found in each;
        ``total``: how many rows failed when ``rows`` are only the first of them."""
        key = (file, column, expected)
        listed = rows.to_pylist() if isinstance(rows, pa.Array | pa.ChunkedArray) else list(rows)
        n = len(listed) if total is None else total
        self._total[key] += n
        room = max(self.cap - self._shown[key], 0)
        for r, f in zip(listed[:room], list(found)[:room], strict=True):
            self.problems.append(Problem(file, r, column, expected, f))
        self._shown[key] += min(room, len(listed))

    def add_mask(
        self,
        file: str,
        column: str | None,
        expected: str,
        table: pa.Table,
        mask: pa.Array,
        values: pa.Array | pa.ChunkedArray | None = None,
    ) -> int:
        """Add the rows of ``table`` where ``mask`` is true; returns how many."""
        mask = pc.fill_null(mask, False)
        n = pc.sum(mask).as_py() or 0
        if n:
            rows = pc.filter(table[ROW], mask)[: self.cap]
            if values is None:
                found = ["an empty field"] * len(rows)
            else:
                found = [found_text(v) for v in pc.filter(values, mask)[: self.cap].to_pylist()]
            self.add_rows(file, column, expected, rows.combine_chunks() if isinstance(
                rows, pa.ChunkedArray) else rows, found, total=int(n))  # fmt: skip
        return int(n)

    def add_values(
        self,
        file: str,
        column: str | None,
        expected: str,
        table: pa.Table,
        mask: pa.Array,
        values: pa.Array,
    ) -> int:
        """Like :meth:`add_mask`, but one problem per distinct bad value (its first row and
        how many rows carry it), at most ``distinct`` of them, and the total: a column of
        dates in the wrong format shows its few kinds of values, not 20 rows of one. Calls
        for the batches of one file add up."""
        mask = pc.fill_null(mask, False)
        n = int(pc.sum(mask).as_py() or 0)
        if not n:
            return 0
        key = (file, column, expected)
        group = self._values.get(key)
        if group is None:
            group = self._values[key] = _Values()
            self.problems.append(key)  # where the group is listed
        rows = pc.filter(table[ROW], mask).combine_chunks()
        vals = pc.filter(values, mask)
        counts = pc.value_counts(vals)
        by_value = dict(zip(counts.field("values").to_pylist(),
                            counts.field("counts").to_pylist(), strict=True))  # fmt: skip
        uniques = pc.unique(vals)  # in order of first appearance
        firsts = pc.index_in(uniques, value_set=vals).to_pylist()
        for value, first in zip(uniques.to_pylist(), firsts, strict=True):
            if value in group.first:
                row, k = group.first[value]
                group.first[value] = (row, k + by_value[value])
            elif len(group.first) < self.distinct:
                group.first[value] = (rows[first].as_py(), by_value[value])
            if len(group.kinds) <= KINDS_COUNTED:
                group.kinds.add(value)
        group.total += n
        return n

    def merge(self, other: Collector) -> None:
        """Add what ``other`` collected (a batch converted on another thread) after what is
        here, as if it had been added here: caps and value groups hold across both.
        ``other`` should keep every bad value (``distinct`` = :data:`KINDS_COUNTED`)."""
        for p in other.problems:
            if isinstance(p, tuple):
                self._merge_values(p, other._values[p])
                continue
            key = (p.file, p.column, p.expected)
            if key in other._total:  # a counted row: listed while there is room
                if self._shown[key] < self.cap:
                    self.problems.append(p)
                    self._shown[key] += 1
            else:
                self.problems.append(p)
        for key, n in other._total.items():
            self._total[key] += n

    def _merge_values(self, key: tuple[str, str | None, str], theirs: _Values) -> None:
        mine = self._values.get(key)
        if mine is None:
            mine = self._values[key] = _Values()
            self.problems.append(key)
        for value, (row, k) in theirs.first.items():
            if value in mine.first:
                first, n = mine.first[value]
                mine.first[value] = (first, n + k)
            elif len(mine.first) < self.distinct:
                mine.first[value] = (row, k)
        for value in theirs.kinds:
            if len(mine.kinds) > KINDS_COUNTED:
                break
            mine.kinds.add(value)
        mine.total += theirs.total

    @property
    def count(self) -> int:
        listed = sum(1 for p in self.problems if isinstance(p, Problem))
        return (
            listed + len(self._values) + sum(self._total[k] - self._shown[k] for k in self._total)
        )

    def finish(self) -> list[Problem]:
        out: list[Problem] = []
        for p in self.problems:
            if isinstance(p, Problem):
                out.append(p)
            else:
                out.extend(self._value_problems(p, self._values[p]))
        for key, total in self._total.items():
            extra = total - self._shown[key]
            if extra > 0:
                file, column, expected = key
                out.append(
                    Problem(
                        file,
                        None,
                        column,
                        expected,
                        f"{extra} more row(s) like these ({total} in all)",
                    )
                )
        return out

    @staticmethod
    def _value_problems(key: tuple[str, str | None, str], group: _Values) -> list[Problem]:
        file, column, expected = key
        out = []
        for value, (row, k) in group.first.items():
            more = f" ({k:,} rows with this value)" if k > 1 else ""
            out.append(Problem(file, row, column, expected, found_text(value) + more))
        kinds, shown = len(group.kinds), len(group.first)
        if group.total > 1 and (kinds > shown or group.total > shown):
            what = f"more than {KINDS_COUNTED:,}" if kinds > KINDS_COUNTED else f"{kinds:,}"
            said = f"{group.total:,} row(s) in all, {what} distinct value(s)"
            out.append(Problem(file, None, column, expected, said))
        return out


def found_text(v: object) -> str:
    """A source value as a problem shows it."""
    return "an empty field" if v in (None, "") else repr(_short(v))


def _short(v: object) -> object:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v[:60] + "..." if isinstance(v, str) and len(v) > 60 else v


# -- conversion ----------------------------------------------------------------------------


@dataclass
class Converted:
    """One raw column converted: ``values`` of the canonical type, null where the field is
    missing, ``bad`` (not readable as the kind) or ``refused`` (read, but not a plausible
    value: a date outside ``date_range``, a number beyond the bound, an id with a control
    character). Each refusal is (expected, rows); ``{column}`` in the text stands for the
    canonical column's name."""

    values: pa.Array
    missing: pa.Array  # bool: the source field was missing
    bad: pa.Array  # bool: present but not convertible
    raw: pa.Array  # the source values as strings (for messages)
    refused: list[tuple[str, pa.Array]] = field(default_factory=list)

    def rejected(self) -> pa.Array:
        """Rows that are bad or refused."""
        out = self.bad
        for _, mask in self.refused:
            out = pc.or_(out, pc.fill_null(mask, False))
        return out


def _is_stringy(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _as_string(values: pa.Array) -> pa.Array:
    if pa.types.is_floating(values.type):
        return float_text(values)[0]  # 7.0 → "7": float-typed ids keep their written form
    return values if _is_stringy(values.type) else pc.cast(values, pa.string())


def _utf8(values: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Binary values (Parquet bytes without a text annotation) as text, and the rows whose
    bytes are not UTF-8 (None: all are; they are shown with U+FFFD for the bad bytes)."""
    try:
        return pc.cast(values, pa.string()), None
    except pa.ArrowInvalid:
        texts: list[str | None] = []
        bad: list[bool] = []
        for b in values.to_pylist():
            text = None if b is None else b.decode("utf-8", errors="replace")
            texts.append(text)
            bad.append(b is not None and text is not None and text.encode("utf-8") != b)
        return pa.array(texts, pa.string()), pa.array(bad, pa.bool_())


def convert(values: pa.Array | pa.ChunkedArray, kind: str, options: ReadOptions) -> Converted:
    """Convert one raw column to the canonical ``kind`` (id/text/number/date/bool)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    refused: list[tuple[str, pa.Array]] = []
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        values, not_utf8 = _utf8(values)
        _refuse(refused, "text in UTF-8 for {column}", not_utf8)
    native = _native(values, kind)
    if native is not None:
        missing = values.is_null()
        out: pa.Array | None = None
        if kind == "date":
            out = _any(far(native, options))
            _refuse(refused, range_expectation(options), out)
        elif kind == "number":
            out = out_of_bound(native)
            _refuse(refused, bound_expectation() + " for {column}", out)
        if out is not None:
            native = pc.if_else(out, pa.scalar(None, native.type), native)
        return Converted(native, missing, pc.and_(missing, False), _as_string(values), refused)
    floats = pa.types.is_floating(values.type)
    if floats:
        raw, whole = float_text(values)
    else:
        raw = _as_string(values)
    trimmed = pc.utf8_trim_whitespace(raw)
    # an empty field is always missing; `missing` adds markers such as "NA"
    missing = pc.fill_null(pc.or_kleene(trimmed.is_null(), pc.equal(pc.binary_length(trimmed), 0)),
                           True)  # fmt: skip
    tokens = sorted({m.strip() for m in options.missing} - {""})
    if tokens:
        marked = pc.fill_null(pc.is_in(trimmed, value_set=pa.array(tokens, pa.string())), False)
        missing = pc.or_(missing, marked)
    present = pc.invert(missing)
    if kind in ("id", "text"):
        ok = present
        out = trimmed
        if kind == "id" and floats:
            _refuse(refused, id_expectation(), _any(pc.and_(present, pc.invert(whole))))
        elif kind == "id":
            _refuse(refused, control_expectation(), has_control(trimmed, present))
    elif kind == "number":
        ok, out = parse_numbers(trimmed, options.decimal, present)
        ok = pc.fill_null(ok, False)
        beyond = out_of_bound(out, present, ok)
        _refuse(refused, bound_expectation() + " for {column}", beyond)
    elif kind == "date":
        ok, out, beyond = iso_dates(trimmed, present, options) or by_value(
            parse_dates, trimmed, options
        )
        ok = pc.fill_null(ok, False)
        _refuse(refused, range_expectation(options), _any(beyond))
        bad = pc.and_(pc.and_(present, pc.invert(ok)), pc.invert(beyond))
        c = Converted(out, missing, bad, raw, refused)
        c.values = pc.if_else(pc.and_(present, ok), out, pa.scalar(None, out.type))
        return c
    else:
        low = pc.utf8_lower(trimmed)
        is_true = pc.is_in(low, value_set=pa.array(_TRUE))
        ok = pc.or_(is_true, pc.is_in(low, value_set=pa.array(_FALSE)))
        out = is_true
    ok = pc.fill_null(ok, False)
    c = Converted(out, missing, pc.and_(present, pc.invert(ok)), raw, refused)
    keep = pc.and_(present, ok)
    if refused:
        keep = pc.and_(keep, pc.invert(c.rejected()))
    c.values = pc.if_else(keep, out, pa.scalar(None, out.type))
    return c


def _any(mask: pa.Array) -> pa.Array | None:
    """``mask``, or None when no row is in it."""
    return mask if pc.any(mask).as_py() else None


def _refuse(refused: list[tuple[str, pa.Array]], expected: str, rows: pa.Array | None) -> None:
    if rows is not None:
        refused.append((expected, rows))


def _native(values: pa.Array, kind: str) -> pa.Array | None:
    """Values already of a fitting Arrow type (Parquet), cast without parsing."""
    t = values.type
    if kind == "number" and (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    ):
        return native_numbers(values)
    if kind == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        return pc.cast(values, pa.date32())
    if kind == "bool" and pa.types.is_boolean(t):
        return values
    return None


def bool_expectation() -> str:
    return "true/false, 1/0, yes/no or y/n"


def expectation(kind: str, options: ReadOptions) -> str:
    if kind == "number":
        return number_expectation(options.decimal)
    if kind == "date":
        return date_expectation(options.date_format)
    if kind == "bool":
        return bool_expectation()
    return "a value"


__all__ = [
    "KINDS_COUNTED",
    "ROWS_SHOWN",
    "Collector",
    "Converted",
    "convert",
    "expectation",
    "flags",
    "found_text",
    "number_expectation",
    "range_expectation",
]

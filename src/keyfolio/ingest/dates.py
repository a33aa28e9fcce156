"""Dates from raw columns, vectorised: ISO text, ``date_format`` formats tried in order,
and the plausible range every date must lie in (``date_range``).

By default a date lies between 1950-01-01 and the end of next year: an ERP's "no date"
(2099-12-31, 0001-01-01, 1900-01-01) or a year read wrong (``%Y`` reading "11" as the
year 11) is an error, not an order that moves the run's as-of date. ``date_range`` in a
mapping widens it. A two-digit year (``%y``) takes the century that puts it in the range:
"60" is 1960, not 2060 (where the usual reading, 00-68 as 20xx, gives a year past the
range's last, the century before is taken).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.ingest.numeric import flags
from keyfolio.ingest.options import ReadOptions, option, set_option

# a date, and a time of day that exists (hours 00-23, minutes and seconds 00-59)
_ISO = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?)?$"
)


def _norm(s: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.replace_substring_regex(s, r"(^|[^0-9])0+([0-9])", r"\1\2"))


def far(dates: pa.Array, options: ReadOptions) -> pa.Array:
    """Dates whose year is outside ``date_range``."""
    years = pc.year(dates)
    lo, hi = options.date_range
    return pc.fill_null(pc.or_(pc.less(years, lo), pc.greater(years, hi)), False)


def iso_dates(
    s: pa.Array, present: pa.Array, options: ReadOptions
) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """(ok, dates, out of range) when no date format is set and every present value is a
    plain yyyy-mm-dd (Arrow's parse, which refuses 2021-02-30); None: take the slow path."""
    if options.date_formats:
        return None
    try:
        dates = pc.cast(pc.if_else(present, s, pa.scalar(None, pa.string())), pa.date32())
    except pa.ArrowInvalid:
        return None
    out = pc.and_(present, far(dates, options))
    return pc.and_(present, pc.invert(out)), dates, out


def by_value(
    fn: Callable[[pa.Array, ReadOptions], tuple[pa.Array, ...]], s: pa.Array, options: ReadOptions
) -> tuple[pa.Array, ...]:
    """``fn`` over the distinct values of ``s`` only, spread back to every row: a date
    column repeats a few thousand days over millions of lines, and parsing is the costly
    part (the result is the same, row for row)."""
    enc = pc.dictionary_encode(s)
    if len(enc.dictionary) * 2 > len(s):
        return tuple(pc.fill_null(a, False) if a.type == pa.bool_() else a for a in fn(s, options))
    out = fn(enc.dictionary, options)
    return tuple(
        pc.fill_null(pc.take(a, enc.indices), False) if a.type == pa.bool_()
        else pc.take(a, enc.indices)
        for a in out
    )  # fmt: skip


def _century_back(ts: pa.Array, hi: int) -> pa.Array:
    """Timestamps of a two-digit year past ``hi`` moved back by whole centuries to the
    last year ``hi`` allows (2060 → 1960 when ``hi`` is 2027); a 29 February that the
    earlier century lacks becomes null (not a date)."""
    years = pc.year(ts)
    over = pc.fill_null(pc.greater(years, hi), False)
    if not pc.any(over).as_py():
        return ts
    back = pc.multiply(pc.divide(pc.add(pc.subtract(years, hi), 99), 100), 100)
    year = pc.utf8_lpad(pc.cast(pc.subtract(years, back), pa.string()), 4, "0")
    rest = pc.strftime(ts, format="-%m-%d %H:%M:%S")
    moved = pc.strptime(pc.binary_join_element_wise(year, rest, ""), format="%Y-%m-%d %H:%M:%S",
                        unit="s", error_is_null=True)  # fmt: skip
    return pc.if_else(over, moved, ts)


def parse_dates(s: pa.Array, options: ReadOptions) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(ok, dates, out of range): ISO without formats, else each value by the first format
    that reads it as a date within ``date_range``; ``out of range`` marks values that some
    format read, but only as a year outside it."""
    fmts = options.date_formats
    if not fmts:
        head = pc.utf8_slice_codeunits(s, 0, 10)
        ts = pc.strptime(head, format="%Y-%m-%d", unit="s", error_is_null=True)
        same = pc.equal(pc.strftime(ts, format="%Y-%m-%d"), head)
        ok = pc.fill_null(pc.and_(pc.match_substring_regex(s, _ISO), same), False)
        dates = pc.cast(ts, pa.date32())
        out = pc.and_(ok, far(dates, options))
        return pc.and_(ok, pc.invert(out)), dates, out
    ok_all = flags(len(s), False)
    far_any = flags(len(s), False)
    result = pa.nulls(len(s), pa.date32())
    for fmt in fmts:
        ts = pc.strptime(s, format=fmt, unit="s", error_is_null=True)
        # strptime rolls 2021-02-30 over to March: a round trip catches impossible dates
        read = pc.fill_null(pc.equal(_norm(pc.strftime(ts, format=fmt)), _norm(s)), False)
        if "%y" in fmt:
            ts = _century_back(ts, options.date_range[1])
            read = pc.and_(read, ts.is_valid())
        dates = pc.cast(ts, pa.date32())
        out = pc.and_(read, far(dates, options))
        ok = pc.and_(read, pc.invert(out))
        result = pc.if_else(pc.and_(ok, pc.invert(ok_all)), dates, result)
        ok_all = pc.or_(ok_all, ok)
        far_any = pc.or_(far_any, out)
    return ok_all, result, pc.and_(far_any, pc.invert(ok_all))


def date_expectation(fmt: str | list[str] | None) -> str:
    if fmt is None:
        return f'a date as yyyy-mm-dd (or {set_option("date_format")}, e.g. "%d/%m/%Y")'
    if isinstance(fmt, list) and len(fmt) > 1:
        return f"a date in one of the {option('date_format')}s " + ", ".join(repr(f) for f in fmt)
    return f"a date in {option('date_format')} {(fmt[0] if isinstance(fmt, list) else fmt)!r}"


def range_expectation(options: ReadOptions) -> str:
    lo, hi = options.date_range
    two_digit = any("%Y" in f for f in options.date_formats)
    hint = "; a two-digit year needs %y, not %Y" if two_digit else ""
    return (
        f"a date from {lo} to {hi} (if such dates are right, widen the mapping's "
        f"date_range = [{lo}, {hi}]{hint})"
    )


__all__ = [
    "by_value",
    "date_expectation",
    "far",
    "iso_dates",
    "parse_dates",
    "range_expectation",
]

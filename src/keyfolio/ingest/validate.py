"""Vectorised conversion of raw source columns to canonical kinds, and validation checks.

Conversion never loops over cells in Python: masks from :mod:`pyarrow.compute` find the
bad rows, whose ``__row`` numbers and raw values become :class:`Problem` entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.errors import KeyfolioError, Problem
from keyfolio.ingest.options import option, set_option
from keyfolio.ingest.readers import ROW, ReadOptions

ROWS_SHOWN = 20  # problems listed per (file, column, check); the rest are counted
KINDS_COUNTED = 10_000  # distinct bad values counted per check (beyond: "more than")
_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$"
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


def flags(n: int, value: bool) -> pa.Array:
    """``n`` booleans, all ``value``."""
    return pa.array(np.full(n, value, dtype=bool))


def found_text(v: object) -> str:
    """A source value as a problem shows it."""
    return "an empty field" if v in (None, "") else repr(_short(v))


def _short(v: object) -> object:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v[:60] + "..." if isinstance(v, str) and len(v) > 60 else v


# -- conversion ----------------------------------------------------------------------------


@dataclass
class Converted:
    values: pa.Array  # canonical type, null where missing or bad
    missing: pa.Array  # bool: the source field was missing
    bad: pa.Array  # bool: present but not convertible
    raw: pa.Array  # the source values as strings (for messages)
    out_of_range: pa.Array | None = None  # dates: parsed, but a year outside date_range


def _is_stringy(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t)


def _as_string(values: pa.Array) -> pa.Array:
    if pa.types.is_floating(values.type):
        # 7.0 → "7" so that float-typed ids (Parquet) keep their written form
        as_int = pc.cast(values, pa.int64(), safe=False)
        whole = pc.equal(pc.cast(as_int, pa.float64()), values)
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(values, pa.string()))
    return pc.cast(values, pa.string())


def convert(
    values: pa.Array, kind: str, options: ReadOptions, date_hint: str | None = None
) -> Converted:
    """Convert one raw column to the canonical ``kind`` (id/text/number/date/bool)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    native = _native(values, kind)
    if native is not None:
        missing = values.is_null()
        no = pc.and_(missing, False)
        if kind == "date":
            far = _far(native, options)
            native = pc.if_else(far, pa.scalar(None, native.type), native)
            return Converted(native, missing, no, _as_string(values), out_of_range=far)
        return Converted(native, missing, no, _as_string(values))
    raw = (
        values
        if _is_stringy(values.type) and not pa.types.is_dictionary(values.type)
        else _as_string(values)
    )
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
        out = pc.if_else(present, trimmed, pa.scalar(None, pa.string()))
    elif kind == "number":
        ok, out = _numbers(trimmed, options.decimal, present)
    elif kind == "date":
        ok, out, far = _iso_dates(trimmed, present, options) or _by_value(_dates, trimmed, options)
        bad = pc.and_(present, pc.invert(pc.fill_null(ok, False)))
        bad = pc.and_(bad, pc.invert(far))
        out = pc.if_else(pc.and_(present, ok), out, pa.scalar(None, out.type))
        return Converted(out, missing, bad, raw, out_of_range=far)
    else:
        low = pc.utf8_lower(trimmed)
        is_true = pc.is_in(low, value_set=pa.array(_TRUE))
        ok = pc.or_(is_true, pc.is_in(low, value_set=pa.array(_FALSE)))
        out = is_true
    ok = pc.fill_null(ok, False)
    bad = pc.and_(present, pc.invert(ok))
    keep = pc.and_(present, ok)
    out = pc.if_else(keep, out, pa.scalar(None, out.type))
    return Converted(out, missing, bad, raw)


def _native(values: pa.Array, kind: str) -> pa.Array | None:
    """Values already of a fitting Arrow type (Parquet), cast without parsing."""
    t = values.type
    if kind == "number" and (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    ):
        return pc.cast(values, pa.float64())
    if kind == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        return pc.cast(values, pa.date32())
    if kind == "bool" and pa.types.is_boolean(t):
        return values
    return None


def _numbers(s: pa.Array, decimal: str, present: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(ok, numbers) of trimmed text. Arrow's own parse of the whole column first (fast);
    where it refuses anything, the slow path checks every value against the number
    pattern, so that the values accepted are the same either way."""
    if decimal == ",":
        ok = pc.invert(pc.match_substring(s, "."))
        s = pc.replace_substring(s, ",", ".")
    else:
        ok = flags(len(s), True)
    try:
        values = pc.cast(pc.if_else(present, s, pa.scalar(None, pa.string())), pa.float64())
    except pa.ArrowInvalid:
        ok = pc.and_(ok, pc.match_substring_regex(s, _NUMBER))
        clean = pc.if_else(ok, s, pa.scalar(None, pa.string()))
        return ok, pc.cast(clean, pa.float64())
    finite = pc.fill_null(pc.is_finite(values), False)
    odd = pc.and_(values.is_valid(), pc.invert(finite))  # inf, nan, or a huge 1e400
    if pc.any(odd).as_py():
        finite = pc.or_(finite, pc.and_(odd, pc.match_substring_regex(s, _NUMBER)))
    return pc.and_(ok, finite), values


def _norm(s: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.replace_substring_regex(s, r"(^|[^0-9])0+([0-9])", r"\1\2"))


def _far(dates: pa.Array, options: ReadOptions) -> pa.Array:
    """Dates whose year is outside ``date_range`` (the year 11 of a two-digit year read
    with %Y; a 2222 typed for 2022)."""
    years = pc.year(dates)
    lo, hi = options.date_range
    return pc.fill_null(pc.or_(pc.less(years, lo), pc.greater(years, hi)), False)


def _iso_dates(
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
    far = pc.and_(present, _far(dates, options))
    return pc.and_(present, pc.invert(far)), dates, far


def _by_value(
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


def _dates(s: pa.Array, options: ReadOptions) -> tuple[pa.Array, pa.Array, pa.Array]:
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
        far = pc.and_(ok, _far(dates, options))
        return pc.and_(ok, pc.invert(far)), dates, far
    ok_all = flags(len(s), False)
    far_any = flags(len(s), False)
    out = pa.nulls(len(s), pa.date32())
    for fmt in fmts:
        ts = pc.strptime(s, format=fmt, unit="s", error_is_null=True)
        # strptime rolls 2021-02-30 over to March: a round trip catches impossible dates
        read = pc.fill_null(pc.equal(_norm(pc.strftime(ts, format=fmt)), _norm(s)), False)
        dates = pc.cast(ts, pa.date32())
        far = pc.and_(read, _far(dates, options))
        ok = pc.and_(read, pc.invert(far))
        out = pc.if_else(pc.and_(ok, pc.invert(ok_all)), dates, out)
        ok_all = pc.or_(ok_all, ok)
        far_any = pc.or_(far_any, far)
    return ok_all, out, pc.and_(far_any, pc.invert(ok_all))


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
    return f"a date from {lo} to {hi} (widen date_range = [{lo}, {hi}] if that is right{hint})"


def number_expectation(decimal: str) -> str:
    if decimal == ",":
        return "a number with decimal comma, no thousands separator (e.g. 1234,5)"
    return "a number with decimal point, no thousands separator (e.g. 1234.5)"


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


def all_numbers(values: pa.Array, options: ReadOptions) -> bool:
    """Whether every present value of a raw column parses as a number (for kept extras)."""
    c = convert(values, "number", options)
    return not (pc.any(c.bad).as_py() or False) and not (pc.all(c.missing).as_py() or False)


# -- table checks --------------------------------------------------------------------------


def duplicate_rows(table: pa.Table, key: Sequence[str]) -> tuple[pa.Array, pa.Array, list[str]]:
    """Rows whose key repeats an earlier row: (rows, first rows, key text)."""
    idx = pa.array(range(table.num_rows), pa.int64())
    t = table.select(list(key)).append_column("__i", idx)
    for k in key:  # empty keys are reported as missing values, not as duplicates
        t = t.filter(t[k].is_valid())
    groups = t.group_by(list(key), use_threads=False).aggregate([("__i", "min"), ("__i", "count")])
    dups = groups.filter(pc.greater(groups["__i_count"], 1))
    if dups.num_rows == 0:
        return pa.array([], pa.int64()), pa.array([], pa.int64()), []
    firsts = dups.select([*key, "__i_min"])
    joined = t.join(firsts, list(key), join_type="inner", use_threads=False)
    joined = joined.filter(pc.not_equal(joined["__i"], joined["__i_min"])).sort_by("__i")
    rows = pc.take(table[ROW], joined["__i"])
    first_rows = pc.take(table[ROW], joined["__i_min"])
    text = [
        ", ".join(str(v) for v in vals)
        for vals in zip(*(joined[k].to_pylist() for k in key), strict=True)
    ]
    return rows.combine_chunks(), first_rows.combine_chunks(), text


def check_discount(table: pa.Table, file: str, column: str, out: Collector) -> None:
    d = table["discount"]
    bad = pc.or_(pc.less(d, 0), pc.greater(d, 1))
    if not (pc.any(bad).as_py() or False):
        return
    expected = "a discount between 0 and 1 (a fraction: 0.05 = 5%)"
    lo, hi = pc.min(d).as_py(), pc.max(d).as_py()
    if lo is not None and hi is not None and lo >= 0 and hi <= 100:
        expected += "; the values look like percentages: divide them by 100 (5 → 0.05)"
    out.add_mask(file, column, expected, table, bad, d)


def check_non_negative(table: pa.Table, canon: str, file: str, column: str, out: Collector) -> None:
    v = table[canon]
    out.add_mask(file, column, f"{canon} >= 0", table, pc.less(v, 0), v)


def check_currency(table: pa.Table, file: str, column: str, out: Collector) -> None:
    counts = pc.value_counts(table["currency"].drop_null()).to_pylist()
    if len(counts) <= 1:
        return
    counts.sort(key=lambda c: -c["counts"])
    main = counts[0]["values"]
    summary = ", ".join(f"{c['values']} ({c['counts']} row(s))" for c in counts[:5])
    for c in counts[1:]:
        mask = pc.equal(table["currency"], c["values"])
        first = pc.filter(table[ROW], mask)[0].as_py()
        out.add(
            Problem(
                file,
                first,
                column,
                f"one currency in all rows ({main}); convert amounts before importing",
                f"{summary}",
            )
        )


# -- the `where` filter --------------------------------------------------------------------


def _allowed() -> tuple[type, ...]:
    from sqlglot import exp

    return (
        exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple,
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
        exp.And, exp.Or, exp.Not, exp.In, exp.Between, exp.Is, exp.Like, exp.ILike,
        exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Cast, exp.TryCast, exp.DataType,
        exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.Coalesce, exp.Substring, exp.DPipe,
    )  # fmt: skip


def compile_where(expr_text: str, columns: Sequence[str], origin: str) -> str:
    """Check ``where`` is a pure boolean expression over ``columns``; the DuckDB query text.

    Only comparisons, boolean logic, IN/BETWEEN/LIKE/IS, arithmetic, casts and a few
    string functions are allowed: no statements, no subqueries, no functions that read
    files. Column names are matched case-insensitively and re-quoted.
    """
    import sqlglot
    from sqlglot import exp

    def err(msg: str) -> KeyfolioError:
        return KeyfolioError(f"{origin}: where: {msg} in {expr_text!r}")

    try:
        trees = [t for t in sqlglot.parse(expr_text, dialect="duckdb") if t is not None]
    except sqlglot.errors.ParseError as e:
        raise err(f"not a valid expression ({str(e).splitlines()[0]})") from None
    if len(trees) != 1:
        raise err(f"one condition, found {len(trees)} statements")
    tree = trees[0]
    predicates = (
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
        exp.And, exp.Or, exp.Not, exp.In, exp.Between, exp.Is, exp.Like, exp.ILike,
        exp.Paren, exp.Boolean,
    )  # fmt: skip
    if not isinstance(tree, predicates):
        raise err(f"expected a condition (e.g. \"status <> 'Cancelled'\"), found {tree.key}")
    allowed = _allowed()
    by_lower = {c.lower(): c for c in columns}
    for node in tree.walk():
        if not isinstance(node, allowed):
            raise err(f"{node.key!r} is not allowed (only comparisons, and/or/not, in, like)")
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            raise err("subqueries are not allowed")
        if isinstance(node, exp.Column):
            if node.table:
                raise err(f"qualified column {node.sql()!r} is not allowed")
            name = by_lower.get(node.name.lower())
            if name is None:
                raise err(f"unknown column {node.name!r}; columns: {', '.join(columns)}")
            node.replace(exp.column(exp.to_identifier(name, quoted=True)))
    query = exp.select(exp.Star()).from_("src").where(tree)
    return query.sql(dialect="duckdb")


def apply_where(batch: pa.Table, query: str) -> pa.Table:
    """Rows of ``batch`` where the compiled ``where`` holds (order preserved)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.register("src", batch)
        result = con.sql(query).to_arrow_table()
    except duckdb.Error as e:
        raise KeyfolioError(
            f"where: the filter failed on the data ({str(e).splitlines()[0]})"
        ) from None
    finally:
        con.close()
    return result

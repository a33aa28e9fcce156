"""One source file to its staged canonical table: read in batches, each converted,
checked and appended to a hidden Parquet file (:mod:`keyfolio.ingest.staging`), so memory
holds one batch whatever the file's size.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.errors import ImportValidationError, Problem
from keyfolio.ingest import computed, notes
from keyfolio.ingest.columns import check_mapped_columns, needed_columns, readable_type
from keyfolio.ingest.mapping import TableMapping
from keyfolio.ingest.readers import ROW, open_source
from keyfolio.ingest.staging import Background, Staging, iter_ahead
from keyfolio.ingest.validate import KINDS_COUNTED, Collector, convert, expectation, flags
from keyfolio.ingest.where import apply_where, compile_where
from keyfolio.schema import ARROW_TYPES, TABLES

BAD = "__bad"  # rows with a conversion problem: left out of cross-table checks
NUM = "__num__"  # a kept extra column read as numbers (used when every value is one)
MIB = 1 << 20
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class Staged:
    """One source converted and staged in two files read side by side: the final columns
    (canonical and kept extras, as the table will be written) and the helper columns
    (``__row``, ``__bad``, a line amount, kept extras as numbers). ``view`` joins them by
    position in the staging connection."""

    mapping: TableMapping
    view: str
    rows: int
    final_path: Path  # the staged final columns: the table itself unless ``rewrite``
    filtered: int = 0
    rewrite: bool = False  # the final table must be written from the checked view
    numeric_keep: list[str] = field(default_factory=list)  # kept extras that are numbers
    amount: str | None = None  # an unmapped line amount staged as notes.AMOUNT
    notes: list[str] = field(default_factory=list)  # warnings for the import summary

    @property
    def file(self) -> str:
        return str(self.mapping.file)

    @property
    def table(self) -> str:
        return self.mapping.table

    def source_col(self, canon: str) -> str:
        return self.mapping.columns.get(canon, canon)

    @property
    def columns(self) -> list[str]:
        """The final table's columns, in mapping order."""
        return [*self.mapping.columns, *self.mapping.keep]


@dataclass
class _KeepStats:
    """Whether a kept extra column is all numbers, over every batch."""

    bad: bool = False
    present: bool = False


@dataclass
class _Part:
    """One batch converted: the final columns, the helper columns, its problems."""

    final: pa.Table
    helpers: pa.Table
    problems: Collector
    filtered: int
    keep_bad: dict[str, bool]
    keep_present: dict[str, bool]


@dataclass
class _Converter:
    """Converts batches of one source (thread-safe: each batch has its own collector)."""

    m: TableMapping
    exprs: dict[str, computed.Computed]
    query: str | None
    amount: str | None
    schema: pa.Schema

    def __call__(self, batch: pa.Table) -> _Part:
        m = self.m
        local = Collector(distinct=KINDS_COUNTED)
        filtered = 0
        if self.query is not None:
            before = batch.num_rows
            batch = apply_where(batch, self.query)
            filtered = before - batch.num_rows
        part = _convert_batch(m, batch, local, self.exprs)
        helpers = part.select([ROW, BAD])
        bad, present = {}, {}
        for k, source in m.keep.items():
            c = convert(batch[source], "number", m.options)
            bad[k] = bool(pc.any(c.rejected()).as_py())  # 1e20 or nan: kept as text
            present[k] = not bool(pc.all(c.missing).as_py())
            helpers = helpers.append_column(NUM + k, c.values)
        if self.amount is not None:
            values = notes.amount_values(batch[self.amount], m.options)
            helpers = helpers.append_column(notes.AMOUNT, values)
        final = part.select(self.schema.names).cast(self.schema)
        return _Part(final, helpers, local, filtered, bad, present)


def _in_order(fn: Callable[[pa.Table], _Part], batches: Iterator[pa.Table]) -> Iterator[_Part]:
    """``fn`` over ``batches`` on a pool of threads (Arrow's kernels release the GIL, so two
    batches convert at once on two cores), results in the batches' order."""
    workers = min(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keyfolio-convert") as pool:
        pending: deque[Future[_Part]] = deque()
        try:
            for batch in batches:
                # each batch in a copy of this context: messages keep the caller's style
                pending.append(pool.submit(contextvars.copy_context().run, fn, batch))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def stage(
    m: TableMapping, st: Staging, out: Collector, name: str, progress: Progress | None = None
) -> Staged | None:
    """Read, convert and stage one source as view ``name``; None when it cannot be used
    (its problems are in ``out``). ``progress`` hears the MiB read after each batch."""
    expected = [c for c in (*m.columns.values(), *m.keep.values()) if not computed.is_expression(c)]
    exprs: dict[str, computed.Computed] = {}
    final, side = st.writer(name), st.writer(f"{name}.side")
    keep = {k: _KeepStats() for k in m.keep}
    writes = Background()
    filtered = 0
    try:
        src = open_source(m.file, m.options, expected)
        if not m.columns:
            m.columns = {c: c for c in TABLES[m.table].names if c in src.columns}
        if not check_mapped_columns(m, src, out, exprs):
            return None
        query = compile_where(m.options.where, src.columns, m.origin) if m.options.where else None
        amount = notes.amount_column(m, src.columns)
        if amount is not None and not readable_type(src.types.get(amount, pa.string())):
            amount = None
        converter = _Converter(m, exprs, query, amount, _final_schema(m))
        label = f"reading {m.file.name} as {m.table} (MiB)"
        total = -(-src.position.total // MIB)
        batches = src.read(needed_columns(m, src, exprs, amount))
        for part in _in_order(converter, iter_ahead(batches)):
            out.merge(part.problems)
            filtered += part.filtered
            for k, stats in keep.items():
                stats.bad = stats.bad or part.keep_bad[k]
                stats.present = stats.present or part.keep_present[k]
            writes.submit(final, part.final)
            writes.submit(side, part.helpers)
            if progress is not None:
                progress(label, src.position.done() // MIB, total)
        writes.close()
        if progress is not None:
            progress(label, total, total)
    except ImportValidationError as e:
        for p in e.problems:
            out.add(p)
        return None
    finally:
        with contextlib.suppress(Exception):
            writes.close()  # an error of the writes after another error is not news
        final.close()
        side.close()
    if final.rows == 0:
        what = "no rows left after where" if filtered else "no data rows"
        out.add(Problem(str(m.file), None, None, "at least one data row", what))
        return None
    st.view(name, final.path, side.path)
    numeric = [k for k, s in keep.items() if s.present and not s.bad]
    return Staged(m, name, final.rows, final.path, filtered, bool(numeric), numeric, amount)


def _final_schema(m: TableMapping) -> pa.Schema:
    """The table as it will be written: mapped canonical columns, then kept extras (text)."""
    tspec = TABLES[m.table]
    fields = [pa.field(c, ARROW_TYPES[tspec.column(c).kind]) for c in m.columns]
    return pa.schema([*fields, *(pa.field(k, pa.string()) for k in m.keep)])


def _convert_batch(
    m: TableMapping, batch: pa.Table, out: Collector, exprs: dict[str, computed.Computed]
) -> pa.Table:
    tspec = TABLES[m.table]
    file = str(m.file)
    arrays: dict[str, pa.Array] = {}
    missing: dict[str, pa.Array] = {}
    row_bad = flags(batch.num_rows, False)
    for canon, source in m.columns.items():
        kind = tspec.column(canon).kind
        raw = (
            computed.evaluate(exprs[canon], batch, kind, m.options, file, out)
            if canon in exprs
            else batch[source]
        )
        c = convert(raw, kind, m.options)
        # dates show each kind of bad value once (a column in another format has few)
        add = out.add_values if kind == "date" else out.add_mask
        if kind not in ("id", "text"):
            add(file, source, f"{expectation(kind, m.options)} for {canon}", batch, c.bad, c.raw)
        for expected, rows in c.refused:
            add(file, source, expected.replace("{column}", canon), batch, rows, c.raw)
        row_bad = pc.or_(row_bad, c.rejected())
        if tspec.column(canon).required:
            out.add_mask(
                file, source, f"a value (required for {m.table}.{canon})", batch, c.missing
            )
            row_bad = pc.or_(row_bad, c.missing)
        arrays[canon] = c.values
        missing[canon] = c.missing
    if m.table == "order_lines":
        _check_revenue_given(m, batch, missing, out)
        if m.net_revenue_before_discount and {"net_revenue", "discount"} <= set(arrays):
            off = pc.subtract(1.0, pc.fill_null(arrays["discount"], 0.0))
            arrays["net_revenue"] = pc.multiply(arrays["net_revenue"], off)
    for name, source in m.keep.items():
        arrays[name] = convert(batch[source], "text", m.options).values
    arrays[ROW] = batch[ROW].combine_chunks()
    arrays[BAD] = row_bad
    return pa.table(arrays)


def _check_revenue_given(
    m: TableMapping, batch: pa.Table, missing: dict[str, pa.Array], out: Collector
) -> None:
    """Every line needs net_revenue or unit_price (empty fields only; bad values are reported)."""
    given = [c for c in ("unit_price", "net_revenue") if c in missing]
    if not given:
        return
    no_rev = missing[given[0]]
    for c in given[1:]:
        no_rev = pc.and_(no_rev, missing[c])
    expected = "a unit_price or net_revenue on every line: it gives the revenue"
    out.add_mask(str(m.file), m.columns[given[0]], expected, batch, no_rev)


__all__ = ["BAD", "NUM", "Staged", "check_mapped_columns", "stage"]

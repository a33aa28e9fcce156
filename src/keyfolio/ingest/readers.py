"""Read source files (CSV and other delimited text, spreadsheets, Parquet) into batches.

Every reader yields :class:`pyarrow.Table` batches whose source columns are kept as read
(strings for text and spreadsheets, native types for Parquet) plus a ``__row`` column
holding the 1-based row number a user sees in the file (text: the header is row 1, or
the first record when there is no header; spreadsheets: the real spreadsheet row).
Nothing is guessed: no type inference, no missing markers (the converter in
:mod:`keyfolio.ingest.validate` decides what is missing).

Problems that make a file unreadable (empty file, wrong delimiter, undecodable bytes,
header on another row, a missing sheet, a file that is not what its name says) are raised
as :class:`ImportValidationError` with one :class:`Problem` each, so the importer can
collect them across files. The readers themselves: :mod:`keyfolio.ingest.delimited`,
:mod:`keyfolio.ingest.sheets`; reading options: :mod:`keyfolio.ingest.options`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio.errors import ImportValidationError, KeyfolioError, Problem
from keyfolio.ingest.delimited import csv_line_numbers, open_delimited
from keyfolio.ingest.encodings import decode_problem
from keyfolio.ingest.options import ReadOptions
from keyfolio.ingest.sheets import KINDS as SHEET_KINDS
from keyfolio.ingest.sheets import open_sheet
from keyfolio.ingest.source import BATCH_ROWS, ROW, Position, Source, distinct_columns, fail
from keyfolio.workspace import file_sha256  # re-exported for the importer

_TEXT = (".csv", ".txt", ".tsv", ".dat", ".prn")


def file_kind(path: Path) -> str:
    """``csv`` (any delimited text), ``xlsx``, ``xls``, ``ods`` or ``parquet``."""
    suffix = path.suffix.lower()
    if suffix in _TEXT:
        return "csv"
    if suffix in SHEET_KINDS:
        return SHEET_KINDS[suffix]
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise KeyfolioError(
        f"{path}: unsupported file type {suffix!r}; expected text ({', '.join(_TEXT)}), "
        "a spreadsheet (.xlsx, .xlsm, .xls, .ods) or .parquet"
    )


def open_source(path: Path, options: ReadOptions, expected: Sequence[str] = ()) -> Source:
    """Open ``path`` for reading; ``expected`` source column names help diagnose headers."""
    kind = file_kind(path)
    if not path.is_file():
        raise KeyfolioError(f"{path}: source file not found")
    if kind == "csv":
        return open_delimited(path, options, expected)
    if kind == "parquet":
        return _open_parquet(path)
    return open_sheet(path, options, expected)


def _open_parquet(path: Path) -> Source:
    try:
        # INT96 timestamps (old Spark, Hive) read as microseconds: nanoseconds overflow
        # before 1677, and a sentinel 0001-01-01 must stay that date to be refused as one
        pf = pq.ParquetFile(path, coerce_int96_timestamp_unit="us",
                            page_checksum_verification=True)  # fmt: skip
        schema = pf.schema_arrow
    except Exception as e:
        raise fail(path, "a Parquet file", f"an unreadable file ({e})") from None
    keep, repeated = distinct_columns(schema.names)
    names = [schema.names[i] for i in keep]
    types = {schema.names[i]: schema.field(i).type for i in keep}
    if pf.metadata.num_rows == 0:
        raise fail(path, "at least one data row", "an empty table")

    size = path.stat().st_size
    position = Position(size)
    done = [0]
    position.follow(lambda: size * done[0] // pf.metadata.num_rows)

    def read(columns: Sequence[str] | None) -> Iterator[pa.Table]:
        wanted = names if columns is None else list(columns)
        first = 1  # Parquet has no header: row 1 is the first record
        batches = pf.iter_batches(batch_size=BATCH_ROWS, columns=wanted)
        while True:
            try:
                batch = next(batches, None)
            except Exception as e:  # a damaged page: say where
                raise _damaged(pf, path, wanted, first, e) from None
            if batch is None:
                return
            rows = pa.array(range(first, first + batch.num_rows), pa.int64())
            first += batch.num_rows
            done[0] += batch.num_rows
            yield pa.Table.from_batches([batch]).append_column(ROW, rows)

    return Source(path, names, read, position, types=types, repeated=repeated)


def _damaged(
    pf: pq.ParquetFile, path: Path, columns: list[str], row: int, error: Exception
) -> ImportValidationError:
    """The row group and column that cannot be read, found by reading them one by one."""
    said = str(error).splitlines()[0] if str(error) else type(error).__name__
    start = 1
    for k in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(k).num_rows
        if start + n > row:
            for c in columns:
                try:
                    pf.read_row_group(k, columns=[c])
                except Exception as e:
                    said = str(e).splitlines()[0] if str(e) else type(e).__name__
                    found = f"damaged data in rows {start} to {start + n - 1} ({said})"
                    return ImportValidationError(
                        [Problem(str(path), None, c, "a readable Parquet file", found)]
                    )
        start += n
    return fail(path, "a readable Parquet file", f"damaged data after row {row - 1} ({said})")


__all__ = [
    "ROW",
    "ReadOptions",
    "Source",
    "csv_line_numbers",
    "decode_problem",
    "file_kind",
    "file_sha256",
    "open_source",
]

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

from keyfolio.errors import KeyfolioError
from keyfolio.ingest.delimited import csv_line_numbers, open_delimited
from keyfolio.ingest.encodings import decode_problem
from keyfolio.ingest.options import ReadOptions
from keyfolio.ingest.sheets import KINDS as SHEET_KINDS
from keyfolio.ingest.sheets import open_sheet
from keyfolio.ingest.source import BATCH_ROWS, ROW, Position, Source, fail
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
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise fail(path, "a Parquet file", f"an unreadable file ({e})") from None
    names = list(pf.schema_arrow.names)
    if pf.metadata.num_rows == 0:
        raise fail(path, "at least one data row", "an empty table")

    size = path.stat().st_size
    position = Position(size)
    done = [0]
    position.follow(lambda: size * done[0] // pf.metadata.num_rows)

    def batches() -> Iterator[pa.Table]:
        first = 1  # Parquet has no header: row 1 is the first record
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            rows = pa.array(range(first, first + batch.num_rows), pa.int64())
            first += batch.num_rows
            done[0] += batch.num_rows
            yield pa.Table.from_batches([batch]).append_column(ROW, rows)

    return Source(path, names, batches(), position)


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

"""Read source files (CSV, XLSX, Parquet) into batches of raw columns.

Every reader yields :class:`pyarrow.Table` batches whose source columns are kept as read
(strings for CSV and XLSX, native types for Parquet) plus a ``__row`` column holding the
1-based row number a user sees in the file (CSV: the header is row 1; XLSX: the real
spreadsheet row). Nothing is guessed: no type inference, no missing markers (the
converter in :mod:`keyfolio.ingest.validate` decides what is missing).

Problems that make a file unreadable (empty file, wrong delimiter, undecodable bytes,
header on another row) are raised as :class:`ImportValidationError` with one
:class:`Problem` each, so the importer can collect them across files.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from keyfolio.errors import ImportValidationError, KeyfolioError, Problem
from keyfolio.workspace import file_sha256  # re-exported for the importer

ROW = "__row"
BATCH_ROWS = 65_536
_SCAN_ROWS = 30  # rows inspected when looking for a header on another row
_DELIMITERS = {";": "';'", "\t": "'\\t' (tab)", ",": "','", "|": "'|'"}


@dataclass
class ReadOptions:
    """How to read one source file (DESIGN.md, "Import": the mapping's reading options)."""

    delimiter: str = ","
    encoding: str = "utf-8"
    date_format: str | list[str] | None = None  # several: tried in order, value by value
    decimal: str = "."
    sheet: str | None = None
    header_row: int = 1
    missing: list[str] = field(default_factory=lambda: [""])
    where: str | None = None
    date_range: tuple[int, int] = (1900, 2100)  # years a parsed date may have

    @property
    def date_formats(self) -> list[str]:
        """The date formats to try, in order (none: ISO yyyy-mm-dd)."""
        if self.date_format is None:
            return []
        return [self.date_format] if isinstance(self.date_format, str) else list(self.date_format)

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise KeyfolioError(f"delimiter: expected one character, found {self.delimiter!r}")
        if self.decimal not in (".", ","):
            raise KeyfolioError(f"decimal: expected '.' or ',', found {self.decimal!r}")
        if self.decimal == "," and self.delimiter == ",":
            raise KeyfolioError("decimal ',' needs another delimiter (e.g. delimiter = ';')")
        if not isinstance(self.header_row, int) or self.header_row < 1:
            raise KeyfolioError(f"header_row: expected an integer >= 1, found {self.header_row!r}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise KeyfolioError(
                f"encoding: expected a known encoding (utf-8, latin-1, cp1252...), "
                f"found {self.encoding!r}"
            ) from None
        if isinstance(self.missing, str):
            self.missing = [self.missing]
        if isinstance(self.date_format, list | tuple):
            fmts = self.date_format
            if not fmts or not all(isinstance(f, str) and f for f in fmts):
                raise KeyfolioError(
                    f"date_format: expected a format or a list of formats, found {fmts!r}"
                )
            self.date_format = list(self.date_format)
        lo, hi = (tuple(self.date_range) + (None, None))[:2]
        if not (isinstance(lo, int) and isinstance(hi, int) and lo < hi):
            raise KeyfolioError(
                f"date_range: expected two years [first, last], found {self.date_range!r}"
            )
        self.date_range = (lo, hi)


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise KeyfolioError(
        f"{path}: unsupported file type {suffix!r}; expected .csv, .txt, .tsv, .xlsx or .parquet"
    )


@dataclass
class Source:
    """An opened source: its column names and an iterator over row batches."""

    path: Path
    columns: list[str]
    batches: Iterator[pa.Table]


def open_source(path: Path, options: ReadOptions, expected: Sequence[str] = ()) -> Source:
    """Open ``path`` for reading; ``expected`` source column names help diagnose headers."""
    kind = file_kind(path)
    if not path.is_file():
        raise KeyfolioError(f"{path}: source file not found")
    if kind == "csv":
        return _open_csv(path, options, expected)
    if kind == "xlsx":
        return _open_xlsx(path, options, expected)
    return _open_parquet(path)


def _fail(path: Path, expected: str, found: str, row: int | None = None) -> ImportValidationError:
    return ImportValidationError([Problem(str(path), row, None, expected, found)])


# -- header checks shared by CSV and XLSX --------------------------------------------------


def _check_header(
    path: Path, rows: list[list[str]], options: ReadOptions, expected: Sequence[str]
) -> list[str]:
    """The header row's names, or a problem explaining where the header really is."""
    hr = options.header_row
    if len(rows) < hr or not any(c.strip() for c in rows[hr - 1]):
        raise _fail(path, f"a header row at row {hr} and data rows", "an empty file")
    header = [c.strip() for c in rows[hr - 1]]
    wanted = [c for c in expected if c]
    if wanted and not set(wanted) & set(header):
        for k, row in enumerate(rows, start=1):
            cells = {c.strip() for c in row}
            if k != hr and set(wanted) <= cells:
                raise _fail(
                    path,
                    f"the header ({', '.join(wanted)}) in row {hr}",
                    f"it in row {k}: set header_row = {k}",
                    row=hr,
                )
    if len(rows) <= hr:
        raise _fail(path, "at least one data row after the header", "only a header", row=hr)
    seen: set[str] = set()
    dups = [c for c in header if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
    if dups:
        raise _fail(path, "unique column names in the header", f"{dups[0]!r} twice", row=hr)
    return header


# -- CSV -----------------------------------------------------------------------------------


def decode_problem(path: Path, encoding: str) -> Problem | None:
    """Stream the file through ``encoding``; a Problem at the first undecodable byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    lines = 1
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                at = offset + e.start
                lines += chunk[: e.start].count(b"\n")
                bad = " ".join(f"0x{b:02X}" for b in chunk[e.start : e.end])
                return Problem(
                    str(path),
                    lines,
                    None,
                    f'text in {encoding} (set encoding = "latin-1" or "cp1252" '
                    "if the file comes from Excel or an older system)",
                    f"byte {bad} at byte offset {at}, not valid {encoding}",
                )
            lines += chunk.count(b"\n")
            offset += len(chunk)
    return None


def _peek_rows(path: Path, options: ReadOptions) -> list[list[str]]:
    limit = options.header_row + _SCAN_ROWS
    try:
        encoding = options.encoding
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"  # Excel's "CSV UTF-8" starts with a byte-order mark
        with path.open("r", encoding=encoding, newline="") as fh:
            return list(islice(csv.reader(fh, delimiter=options.delimiter), limit))
    except UnicodeDecodeError:
        problem = decode_problem(path, options.encoding)
        raise ImportValidationError([problem] if problem else []) from None
    except csv.Error as e:
        raise _fail(path, "a well-formed CSV file", str(e)) from None


def _open_csv(path: Path, options: ReadOptions, expected: Sequence[str]) -> Source:
    rows = _peek_rows(path, options)
    header = _check_header(path, rows, options, expected)
    if len(header) == 1:
        for delim, label in _DELIMITERS.items():
            if delim != options.delimiter and delim in header[0]:
                raise _fail(
                    path,
                    f"columns separated by {_DELIMITERS.get(options.delimiter, options.delimiter)}",
                    f"one column {header[0][:60]!r}; the delimiter is likely {label} "
                    f"(set delimiter = {delim!r})",
                    row=options.header_row,
                )
    return Source(path, header, _csv_batches(path, options, header))


def _csv_batches(path: Path, options: ReadOptions, header: list[str]) -> Iterator[pa.Table]:
    read = pcsv.ReadOptions(
        skip_rows=options.header_row,
        column_names=header,
        encoding=options.encoding,
        block_size=1 << 22,
    )
    parse = pcsv.ParseOptions(delimiter=options.delimiter, newlines_in_values=True)
    convert = pcsv.ConvertOptions(
        column_types={c: pa.string() for c in header},
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    first = options.header_row + 1
    try:
        reader = pcsv.open_csv(path, read, parse, convert)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            rows = pa.array(range(first, first + batch.num_rows), pa.int64())
            first += batch.num_rows
            yield pa.Table.from_batches([batch]).append_column(ROW, rows)
    except UnicodeDecodeError:
        problem = decode_problem(path, options.encoding)
        raise ImportValidationError([problem] if problem else []) from None
    except pa.ArrowInvalid as e:
        if "UTF8" in str(e):
            problem = decode_problem(path, options.encoding)
            if problem is not None:
                raise ImportValidationError([problem]) from None
        raise _fail(path, "a well-formed CSV file", str(e).splitlines()[0]) from None


# -- XLSX ----------------------------------------------------------------------------------


def _cell_text(value: Any, date_format: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if date_format:
            return value.strftime(date_format)
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.strftime(date_format) if date_format else value.isoformat()
    return str(value)


def _open_xlsx(path: Path, options: ReadOptions, expected: Sequence[str]) -> Source:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # zip/xml errors: the file is not a workbook
        raise _fail(path, "an XLSX workbook", f"an unreadable file ({e})") from None
    if options.sheet is not None and options.sheet not in wb.sheetnames:
        wb.close()
        raise _fail(path, f"a sheet named {options.sheet!r}", f"sheets {wb.sheetnames}")
    ws = wb[options.sheet] if options.sheet is not None else wb.worksheets[0]
    fmt = options.date_formats[0] if options.date_formats else None

    def text_rows() -> Iterator[list[str]]:
        for values in ws.iter_rows(values_only=True):
            yield [_cell_text(v, fmt) for v in values]

    peek = list(islice(text_rows(), options.header_row + _SCAN_ROWS))
    header = _check_header(path, peek, options, expected)
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    header = header[:width]

    def batches() -> Iterator[pa.Table]:
        cols: list[list[str]] = [[] for _ in header]
        rownums: list[int] = []
        rows = islice(text_rows(), options.header_row, None)
        for n, row in enumerate(rows, start=options.header_row + 1):
            if not any(c.strip() for c in row[:width]):
                continue  # blank spreadsheet row
            row = row[:width] + [""] * (width - len(row))
            for col, value in zip(cols, row, strict=True):
                col.append(value)
            rownums.append(n)
            if len(rownums) >= BATCH_ROWS:
                yield _xlsx_table(header, cols, rownums)
                cols, rownums = [[] for _ in header], []
        if rownums:
            yield _xlsx_table(header, cols, rownums)
        wb.close()

    return Source(path, header, batches())


def _xlsx_table(header: list[str], cols: list[list[str]], rownums: list[int]) -> pa.Table:
    arrays = [pa.array(c, pa.string()) for c in cols] + [pa.array(rownums, pa.int64())]
    return pa.Table.from_arrays(arrays, names=[*header, ROW])


# -- Parquet -------------------------------------------------------------------------------


def _open_parquet(path: Path) -> Source:
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise _fail(path, "a Parquet file", f"an unreadable file ({e})") from None
    names = list(pf.schema_arrow.names)
    if pf.metadata.num_rows == 0:
        raise _fail(path, "at least one data row", "an empty table")

    def batches() -> Iterator[pa.Table]:
        first = 1  # Parquet has no header: row 1 is the first record
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            rows = pa.array(range(first, first + batch.num_rows), pa.int64())
            first += batch.num_rows
            yield pa.Table.from_batches([batch]).append_column(ROW, rows)

    return Source(path, names, batches())


__all__ = ["ROW", "ReadOptions", "Source", "decode_problem", "file_sha256", "open_source"]


def csv_line_numbers(path: Path, options: ReadOptions, records: set[int]) -> dict[int, int]:
    """Map record-based row numbers to the line where each record starts.

    The fast reader numbers rows by record (header = ``header_row``, then one per non-empty
    record). Blank lines and line breaks inside quoted fields shift the line a user sees
    in an editor; on the failure path this re-reads the file up to the last wanted record.
    """
    if not records:
        return {}
    last = max(records)
    out: dict[int, int] = {}
    encoding = "utf-8-sig" if codecs.lookup(options.encoding).name == "utf-8" else options.encoding
    try:
        with path.open("r", encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=options.delimiter)
            rec, start = 0, 1
            for row in reader:
                if row:
                    rec += 1
                    if rec in records:
                        out[rec] = start
                start = reader.line_num + 1
                if rec >= last:
                    break
    except (UnicodeDecodeError, csv.Error):
        return out
    return out

"""Delimited text (CSV, TSV, ``|+|``, whitespace-aligned) into batches of string columns.

pyarrow's CSV reader does the parsing: multi-threaded, every column read as text, quoted
fields with line breaks, any Python encoding. It takes one delimiter character, so a
multi-character delimiter (``|+|``) or aligned text (``delimiter = "whitespace"``) is
first translated while streaming: decoded, each separator replaced by U+001F (a control
character that text exports do not contain; a file that does is reported), re-encoded as
UTF-8. Line breaks are kept, so row numbers stay those of the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from keyfolio.errors import ImportValidationError, Problem
from keyfolio.ingest.encodings import count_lines, decode_problem
from keyfolio.ingest.options import WHITESPACE, ReadOptions, delimiter_label, option, setting
from keyfolio.ingest.source import (
    ROW,
    SCAN_ROWS,
    Position,
    Source,
    check_header,
    fail,
    headerless_names,
)

SUB = "\x1f"  # the one-character delimiter that a translated stream uses
_CHUNK = 1 << 20
_MAX_CARRY = 16 << 20  # an open quote is carried into the next chunk up to this size
_HINTS = {"|+|": "'|+|'", ";": "';'", "\t": "'\\t' (tab)", ",": "','", "|": "'|'"}
_RUNS = re.compile(r"[ \t]+")
_SUB_EDGES = re.compile(r"(?<![^\r\n])\x1f|\x1f(?![^\r\n])")  # at a line's start or end
_QUOTED = re.compile(r'("(?<![^ \t\r\n]")[^"]*(?:""[^"]*)*")(?![^ \t\r\n])')


def _encoding(options: ReadOptions) -> str:
    """Python's name for the file's encoding; UTF-8 files may start with Excel's BOM."""
    return "utf-8-sig" if codecs.lookup(options.encoding).name == "utf-8" else options.encoding


class TranslatedText(io.RawIOBase):
    """The file as UTF-8 with its delimiter (several characters, or runs of spaces and tabs
    in aligned text) replaced by :data:`SUB`; quoted fields are left as they are."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self._path = path
        self._fh = path.open("rb")
        self._decoder = codecs.getincrementaldecoder(_encoding(options))()
        self._delimiter = options.delimiter
        self._tail = ""
        self._out = b""
        self._eof = False
        self._lines = 1  # the line where the next translated text starts

    def readable(self) -> bool:
        return True

    def raw_position(self) -> int:
        """Bytes of the file read so far."""
        return self._fh.tell()

    def close(self) -> None:
        self._fh.close()
        super().close()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._out and not self._eof:
            self._fill()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _fill(self) -> None:
        chunk = self._fh.read(_CHUNK)
        final = not chunk
        text = self._tail + self._decoder.decode(chunk, final)
        if SUB in text:
            row = self._lines + count_lines(text[: text.index(SUB)])
            raise fail(
                self._path,
                f"text without the control character U+001F (it cannot be read with "
                f"{option('delimiter')} {delimiter_label(self._delimiter)})",
                "the character U+001F",
                row=row,
            )
        if self._delimiter == WHITESPACE:
            ready, self._tail = self._split_whitespace(text, final)
        else:
            text = text.replace(self._delimiter, SUB)
            keep = 0 if final else _partial_suffix(text, self._delimiter)
            ready, self._tail = text[: len(text) - keep], text[len(text) - keep :]
        self._lines += count_lines(ready)
        self._out = ready.encode("utf-8")
        self._eof = final

    def _split_whitespace(self, text: str, final: bool) -> tuple[str, str]:
        """Whole lines of ``text`` with each field separator made :data:`SUB`, and the rest."""
        if not final:
            cut = max(text.rfind("\n"), text.rfind("\r")) + 1
            if text.endswith("\r"):
                cut -= 1  # maybe half of a CRLF: wait for the LF
            if text[:cut].count('"') % 2 and len(text) < _MAX_CARRY:
                cut = 0  # a quoted field goes on: translate it whole
            text, tail = text[:cut], text[cut:]
        else:
            tail = ""
        if '"' not in text:
            return _SUB_EDGES.sub("", _RUNS.sub(SUB, text)), tail
        # quoted fields ("Bond Supplies") keep their spaces: only the parts between change
        parts = _QUOTED.split(text)
        for i in range(0, len(parts), 2):
            parts[i] = _RUNS.sub(SUB, parts[i])
        return _SUB_EDGES.sub("", "".join(parts)), tail


def _partial_suffix(text: str, delimiter: str) -> int:
    """Length of the longest end of ``text`` that could begin a delimiter."""
    for k in range(min(len(delimiter) - 1, len(text)), 0, -1):
        if delimiter.startswith(text[-k:]):
            return k
    return 0


def _text(path: Path, options: ReadOptions) -> IO[str]:
    """The file as text for Python's csv module (translated for multi-character delimiters)."""
    if options.multi_char:
        raw = io.BufferedReader(TranslatedText(path, options), buffer_size=_CHUNK)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    return path.open("r", encoding=_encoding(options), newline="")


def _rows(fh: IO[str], options: ReadOptions) -> Iterator[list[str]]:
    """Records as lists of fields (a multi-character delimiter inside quotes restored)."""
    for _, row in _numbered(fh, options):
        yield row


def _numbered(fh: IO[str], options: ReadOptions) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, its fields) for every record, blank lines included."""
    reader = csv.reader(fh, delimiter=SUB if options.multi_char else options.delimiter)
    restore = options.multi_char and options.delimiter != WHITESPACE
    start = 1
    for row in reader:
        yield start, [c.replace(SUB, options.delimiter) for c in row] if restore else row
        start = reader.line_num + 1


def records(path: Path, options: ReadOptions) -> Iterator[tuple[int, int, list[str]]]:
    """(record number as the fast reader counts it, line where it starts, fields).

    The fast reader skips blank lines: the header is record ``header_row`` and each
    non-empty record after it the next number (header = false: the first record is 1).
    """
    with _text(path, options) as fh:
        rec = 0
        for line, row in _numbered(fh, options):
            if row:
                rec += 1
                yield rec, line, row


def _guarded(path: Path, options: ReadOptions, read: Iterator[list[str]]) -> list[list[str]]:
    """The rows, or the problem that stops them (undecodable bytes, a broken quote)."""
    try:
        return list(read)
    except UnicodeDecodeError:
        problem = decode_problem(path, options.encoding)
        raise ImportValidationError([problem] if problem else []) from None
    except csv.Error as e:
        raise fail(path, "a well-formed CSV file", str(e)) from None


def _peek_rows(path: Path, options: ReadOptions) -> list[list[str]]:
    limit = options.header_row + SCAN_ROWS
    with _text(path, options) as fh:
        return _guarded(path, options, islice(_rows(fh, options), limit))


def open_delimited(path: Path, options: ReadOptions, expected: Sequence[str]) -> Source:
    """Open a delimited text file: its columns (checked) and a stream of batches."""
    rows = _peek_rows(path, options)
    if options.header:
        header = check_header(path, rows, options, expected)
        _check_delimiter(path, header, options, options.header_row, expected)
    else:
        data = [r for r in rows if r]  # records: row 1 is the first
        if data:
            _check_delimiter(path, data[0], options, 1, expected)
        header = headerless_names(path, data, options)
    position = Position(path.stat().st_size)
    return Source(path, header, _batches(path, options, header, position), position)


def _check_delimiter(
    path: Path, fields: list[str], options: ReadOptions, row: int, expected: Sequence[str]
) -> None:
    """A header (or first row) of one field that holds another delimiter: say which.

    Aligned text is suggested only when splitting at spaces finds a mapped column.
    """
    if len(fields) != 1:
        return
    text = fields[0]
    hints = [(d, label) for d, label in _HINTS.items() if d != options.delimiter and d in text]
    if options.delimiter != WHITESPACE and set(text.split()) & set(expected) - {text}:
        hints.append((WHITESPACE, WHITESPACE))
    if hints:
        delim, label = hints[0]
        raise fail(
            path,
            f"columns separated by {delimiter_label(options.delimiter)}",
            f"one column {text[:60]!r}; the delimiter is likely {label} "
            f"({setting('delimiter', delim)})",
            row=row,
        )


def _batches(
    path: Path, options: ReadOptions, columns: list[str], position: Position
) -> Iterator[pa.Table]:
    read = pcsv.ReadOptions(
        skip_rows=options.header_row if options.header else 0,
        column_names=columns,
        encoding="utf8" if options.multi_char else options.encoding,
        block_size=1 << 22,
    )
    delimiter = SUB if options.multi_char else options.delimiter
    parse = pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pcsv.ConvertOptions(
        column_types={c: pa.string() for c in columns},
        null_values=[],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    restore = options.multi_char and options.delimiter != WHITESPACE
    first = options.first_data_row
    source: pa.NativeFile | TranslatedText = (
        TranslatedText(path, options) if options.multi_char else pa.OSFile(str(path))
    )
    position.follow(source.raw_position if isinstance(source, TranslatedText) else source.tell)
    try:
        reader = pcsv.open_csv(source, read, parse, convert)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            rows = pa.array(range(first, first + batch.num_rows), pa.int64())
            first += batch.num_rows
            table = pa.Table.from_batches([batch])
            if restore:
                table = _restore(table, options.delimiter)
            yield table.append_column(ROW, rows)
    except ImportValidationError:
        raise
    except UnicodeDecodeError:
        problem = decode_problem(path, options.encoding)
        raise ImportValidationError([problem] if problem else []) from None
    except pa.ArrowInvalid as e:
        raise _parse_problem(path, options, columns, str(e)) from None
    finally:
        source.close()


def _restore(table: pa.Table, delimiter: str) -> pa.Table:
    """A quoted field held the multi-character delimiter: put it back."""
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if pc.any(pc.match_substring(col, SUB)).as_py():
            table = table.set_column(i, name, pc.replace_substring(col, SUB, delimiter))
    return table


def _parse_problem(
    path: Path, options: ReadOptions, columns: list[str], message: str
) -> ImportValidationError:
    if "UTF8" in message or "decode" in message.lower():
        problem = decode_problem(path, options.encoding)
        if problem is not None:
            return ImportValidationError([problem])
    if "Expected" in message and "columns" in message:
        located = _field_count_problem(path, options, len(columns))
        if located is not None:
            return ImportValidationError([located])
    return fail(path, "a well-formed CSV file", message.splitlines()[0])


def _field_count_problem(path: Path, options: ReadOptions, width: int) -> Problem | None:
    """The first data record whose number of fields is not ``width``.

    Its row is the record number, as for every reader problem: the importer turns record
    numbers into the lines an editor shows (:func:`csv_line_numbers`).
    """
    like = "the header" if options.header else option("names") if options.names else "row 1"
    try:
        for rec, _, row in records(path, options):
            if rec >= options.first_data_row and len(row) != width:
                expected = f"{width} fields per row, like {like}"
                return Problem(str(path), rec, None, expected, f"{len(row)} fields")
    except (UnicodeDecodeError, csv.Error, ImportValidationError):
        return None
    return None


def csv_line_numbers(path: Path, options: ReadOptions, wanted: set[int]) -> dict[int, int]:
    """Map record-based row numbers to the line where each record starts.

    The fast reader numbers rows by record (see :func:`records`). Blank lines and line
    breaks inside quoted fields shift the line a user sees in an editor; on the failure
    path this re-reads the file up to the last wanted record.
    """
    if not wanted:
        return {}
    last = max(wanted)
    out: dict[int, int] = {}
    try:
        for rec, line, _ in records(path, options):
            if rec in wanted:
                out[rec] = line
            if rec >= last:
                break
    except (UnicodeDecodeError, csv.Error, ImportValidationError):
        return out
    return out


__all__ = ["SUB", "TranslatedText", "csv_line_numbers", "open_delimited", "records"]

"""Delimited text (CSV, TSV, ``|+|``, whitespace-aligned) into batches of string columns.

pyarrow's CSV reader does the parsing: multi-threaded, every column read as text, quoted
fields with line breaks, any Python encoding. It takes one delimiter character, so a
multi-character delimiter (``|+|``) or aligned text (``delimiter = "whitespace"``) is
first translated while streaming: decoded, each separator replaced by U+001F (a control
character that text exports do not contain; a file that does is reported), re-encoded as
UTF-8. Line breaks are kept, so row numbers stay those of the file.

A file that ends inside a quoted field (a quote never closed) is an error at the row where
the quote opens: the parser would otherwise read the rest of the file as one value. A
record longer than the parser's block is read with a larger block. UTF-16 and UTF-32 files
are known by their byte-order mark (:func:`~keyfolio.ingest.encodings.file_encoding`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from keyfolio.errors import ImportValidationError, Problem
from keyfolio.ingest.encodings import count_lines, decode_problem, file_encoding
from keyfolio.ingest.options import WHITESPACE, ReadOptions, delimiter_label, option, setting
from keyfolio.ingest.source import (
    ROW,
    SCAN_ROWS,
    Position,
    Source,
    check_header,
    distinct_columns,
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
_CLOSE = re.compile(r'[^"]*(?:""[^"]*)*"(?!")')  # the rest of a quoted field, to its quote
BLOCK = 1 << 22  # the fast parser's block; a longer record is read with larger ones
_MAX_BLOCK = 1 << 28
_TAIL = 1 << 16

# a 1 MB cell is a valid field (Python's csv refuses fields over 128 KiB by default)
csv.field_size_limit(max(csv.field_size_limit(), (1 << 31) - 1))


def _encoding(path: Path, options: ReadOptions) -> str:
    """Python's name for the file's encoding (its BOM's, or the option's)."""
    return file_encoding(path, options.encoding)


def _decode_problem(path: Path, options: ReadOptions) -> ImportValidationError:
    """The first undecodable byte of the file (in the encoding its BOM names, if any)."""
    encoding = _encoding(path, options)
    problem = decode_problem(path, options.encoding if encoding == "utf-8-sig" else encoding)
    if problem is None:  # the parser saw what the decoder did not: say what it saw
        return fail(path, f"text in {options.encoding}", "bytes that do not decode")
    return ImportValidationError([problem])


class TranslatedText(io.RawIOBase):
    """The file as UTF-8 with its delimiter (several characters, or runs of spaces and tabs
    in aligned text) replaced by :data:`SUB`; quoted fields are left as they are."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self._path = path
        self._fh = path.open("rb")
        self._decoder = codecs.getincrementaldecoder(_encoding(path, options))()
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
    return path.open("r", encoding=_encoding(path, options), newline="")


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
        raise _decode_problem(path, options) from None
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
    keep, repeated = distinct_columns(header)
    # the parser needs a name per field: unnamed and repeated columns get one of their own
    kept = set(keep)
    names = [c if i in kept else f"\x00{i}" for i, c in enumerate(header)]
    position = Position(path.stat().st_size)

    def read(columns: Sequence[str] | None) -> Iterator[pa.Table]:
        wanted = [names[i] for i in keep] if columns is None else list(columns)
        return _batches(path, options, names, wanted, position)

    header_row = options.header_row if options.header else None
    return Source(path, [header[i] for i in keep], read, position, repeated=repeated,
                  header_row=header_row)  # fmt: skip


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
    path: Path, options: ReadOptions, columns: list[str], wanted: list[str], position: Position
) -> Iterator[pa.Table]:
    """Batches of the ``wanted`` columns (every field is parsed and decoded, so a file that
    does not decode is refused whichever column holds the bad bytes)."""
    encoding = _encoding(path, options)
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
    block, done = BLOCK, 0  # rows yielded (a read with a larger block skips them)
    last: dict[str, Any] | None = None  # the file's last record, every field
    while True:
        read = pcsv.ReadOptions(
            skip_rows=options.header_row if options.header else 0,
            column_names=columns,
            encoding="utf8" if options.multi_char or encoding == "utf-8-sig" else encoding,
            block_size=block,
        )
        source: pa.NativeFile | TranslatedText = (
            TranslatedText(path, options) if options.multi_char else pa.OSFile(str(path))
        )
        position.follow(source.raw_position if isinstance(source, TranslatedText) else source.tell)
        skip = done
        try:
            for batch in pcsv.open_csv(source, read, parse, convert):
                if skip:
                    drop = min(skip, batch.num_rows)
                    batch, skip = batch.slice(drop), skip - drop
                if batch.num_rows == 0:
                    continue
                rows = pa.array(range(first, first + batch.num_rows), pa.int64())
                first += batch.num_rows
                done += batch.num_rows
                last = batch.slice(batch.num_rows - 1).to_pylist()[0]
                table = pa.Table.from_batches([batch]).select(wanted)
                if restore:
                    table = _restore(table, options.delimiter)
                yield table.append_column(ROW, rows)
            break
        except ImportValidationError:
            raise
        except UnicodeDecodeError:
            raise _decode_problem(path, options) from None
        except pa.ArrowInvalid as e:
            if "straddl" in str(e) and block < _MAX_BLOCK:
                block *= 4  # a record longer than a block: read again with larger ones
                continue
            raise _parse_problem(path, options, columns, str(e), first) from None
        finally:
            source.close()
    if last is not None:
        _check_quotes_closed(path, options, last, first - 1)


def _check_quotes_closed(
    path: Path, options: ReadOptions, last: dict[str, Any], record: int
) -> None:
    """A quote that opens and never closes makes the rest of the file one field of the
    last record, which the parser takes as it is: refuse it, at the row where it opens.

    Only the last record can be in that state. When no field of it spans lines, it is the
    file's last line, and reading that line says; otherwise the file is read again."""
    if any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in last.values()):
        opened = _unclosed_quote(path, options)
    else:
        opened = record if _open_quote([_last_line(path, options)], options.delimiter) else None
    if opened is not None:
        raise ImportValidationError([_quote_problem(path, opened)])


def _unclosed_quote(path: Path, options: ReadOptions) -> int | None:
    """The record where a quote opens that the file never closes (reads the whole file).

    Python's csv reader in strict mode says "unexpected end of data" exactly then; a file
    it finds otherwise strict-malformed (``"a"b``) is scanned line by line instead."""
    delimiter = SUB if options.multi_char else options.delimiter
    with _text(path, options) as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        record = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return None
            except csv.Error as e:
                if "unexpected end of data" in str(e):
                    return record + 1
                break
            record += 1 if row else 0
    with _text(path, options) as fh:
        return _open_quote(fh, delimiter)


def _quote_problem(path: Path, record: int) -> Problem:
    return Problem(str(path), record, None, 'a closing quote (") for the field that opens '
                   "on this row", "the end of the file")  # fmt: skip


def _last_line(path: Path, options: ReadOptions) -> str:
    """The file's last line that is not empty, decoded."""
    encoding = _encoding(path, options)
    unit = 4 if encoding == "utf-32" else 2 if encoding == "utf-16" else 1
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = size
        while True:
            start = max(0, start - _TAIL)
            start -= start % unit  # whole code units of UTF-16 or UTF-32
            fh.seek(start)
            text = fh.read(size - start).decode(encoding, errors="replace")
            lines = [x for x in re.split(r"\r\n|\r|\n", text) if x]
            if start == 0 or len(lines) > 1:
                return lines[-1] if lines else ""


def _open_quote(lines: Iterable[str], delimiter: str) -> int | None:
    """The record (numbered as :func:`records` numbers them) where a quoted field opens
    that ``lines`` never close, or None. A quote opens a field at the start of a record or
    right after a delimiter; elsewhere it is a character of the field (12" pipe)."""
    sep = "[ \t]" if delimiter == WHITESPACE else re.escape(delimiter)
    opens = re.compile(rf'(?:^|(?<={sep}))"')
    record, opened, quoted = 0, None, False
    for line in lines:
        if not quoted:
            if not line.strip("\r\n"):
                continue  # a blank line is no record
            record += 1
        pos = 0
        while True:
            if quoted:
                m = _CLOSE.match(line, pos)
                if m is None:
                    break  # the field goes on over the next line
                quoted, pos = False, m.end()
            else:
                m = opens.search(line, pos)
                if m is None:
                    break
                quoted, opened, pos = True, record, m.end()
    return opened if quoted else None


def _restore(table: pa.Table, delimiter: str) -> pa.Table:
    """A quoted field held the multi-character delimiter: put it back."""
    for i, name in enumerate(table.column_names):
        col = table.column(i)
        if pc.any(pc.match_substring(col, SUB)).as_py():
            table = table.set_column(i, name, pc.replace_substring(col, SUB, delimiter))
    return table


def _parse_problem(
    path: Path, options: ReadOptions, columns: list[str], message: str, row: int
) -> ImportValidationError:
    """The parser's error in the user's terms: the row, and what it has."""
    if "UTF8" in message or "decode" in message.lower():
        return _decode_problem(path, options)
    if "Expected" in message and "columns" in message:
        located = _field_count_problem(path, options, len(columns))
        if located is not None:
            return ImportValidationError([located])
    if "straddl" in message:  # a record longer than the largest block
        opened = _unclosed_quote(path, options)
        if opened is not None:
            return ImportValidationError([_quote_problem(path, opened)])
        return fail(path, f"records shorter than {_MAX_BLOCK >> 20} MiB",
                    "a longer one", row=row)  # fmt: skip
    return fail(path, "a well-formed CSV file", message.splitlines()[0])


def _field_count_problem(path: Path, options: ReadOptions, width: int) -> Problem | None:
    """The first data record whose number of fields is not ``width``.

    Its row is the record number, as for every reader problem: the importer turns record
    numbers into the lines an editor shows (:func:`csv_line_numbers`).
    """
    like = "the header" if options.header else option("names") if options.names else "row 1"
    try:
        found = records(path, options)
        for rec, _, row in found:
            if rec >= options.first_data_row and len(row) != width:
                if next(found, None) is None and _unclosed_quote(path, options) == rec:
                    return _quote_problem(path, rec)  # the last record: its quote never closes
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

"""What every reader returns, and the header checks that text files and sheets share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from keyfolio.errors import ImportValidationError, Problem
from keyfolio.ingest.options import ReadOptions, option, setting

ROW = "__row"
BATCH_ROWS = 65_536
SCAN_ROWS = 30  # rows inspected when looking for a header on another row


class Position:
    """How far a reader is through its file, for progress: bytes of a text file, or 0 of
    0 when a reader cannot say (a sheet is read whole)."""

    def __init__(self, total: int = 0) -> None:
        self.total = total
        self._tell: Callable[[], int] | None = None

    def follow(self, tell: Callable[[], int]) -> None:
        """Report ``tell()`` (a file position) from now on."""
        self._tell = tell

    def done(self) -> int:
        if self._tell is None:
            return 0
        try:
            return min(self._tell(), self.total)
        except (OSError, ValueError):  # the file is closed: read to its end
            return self.total


Reader = Callable[[Sequence[str] | None], Iterator[pa.Table]]


@dataclass
class Source:
    """An opened source: the columns that can be read by name, and its row batches.

    ``read(columns)`` iterates over batches holding those columns (None: all of them) and
    ``__row``; a reader may read only those (Parquet does). A name that several columns
    carry, or an empty one, is not among ``columns``: ``repeated`` says where each repeated
    name is (``["2", "4"]``, ``["A", "D"]``), so that a mapping naming it can be told.
    ``types`` holds the column types of a typed source (Parquet); text is all strings.
    """

    path: Path
    columns: list[str]
    read: Reader
    position: Position = field(default_factory=Position)
    types: dict[str, pa.DataType] = field(default_factory=dict)
    repeated: dict[str, list[str]] = field(default_factory=dict)
    header_row: int | None = None  # the row of the header, where there is one

    @property
    def batches(self) -> Iterator[pa.Table]:
        """Every column's batches."""
        return self.read(None)


def distinct_columns(
    header: Sequence[str], label: Callable[[int], str] = lambda i: str(i + 1)
) -> tuple[list[int], dict[str, list[str]]]:
    """The positions of the columns that can be read by name (a name no other column
    has; empty names are unnamed columns) and each repeated name with where it is (``label``
    of each 0-based position: "2", or a spreadsheet's "B"). Only a mapping that names a
    repeated column is a problem: repeats among the columns it does not use are not."""
    where: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        if name:
            where.setdefault(name, []).append(i)
    keep = [i for i, name in enumerate(header) if name and len(where[name]) == 1]
    repeated = {n: [label(i) for i in at] for n, at in where.items() if len(at) > 1}
    return keep, repeated


def fail(path: Path, expected: str, found: str, row: int | None = None) -> ImportValidationError:
    return ImportValidationError([Problem(str(path), row, None, expected, found)])


def check_header(
    path: Path,
    rows: list[list[str]],
    options: ReadOptions,
    expected: Sequence[str],
) -> list[str]:
    """The header row's names, or a problem explaining where the header really is.

    Names may repeat and be empty (see :func:`distinct_columns`)."""
    hr = options.header_row
    if len(rows) < hr or not any(c.strip() for c in rows[hr - 1]):
        raise fail(path, f"a header row at row {hr} and data rows", "an empty file")
    header = [c.strip() for c in rows[hr - 1]]
    wanted = [c for c in expected if c]
    if wanted and not set(wanted) & set(header):
        for k, row in enumerate(rows, start=1):
            cells = {c.strip() for c in row}
            if k != hr and set(wanted) <= cells:
                raise fail(
                    path,
                    f"the header ({', '.join(wanted)}) in row {hr}",
                    f"it in row {k}: {setting('header_row', k)}",
                    row=hr,
                )
    if len(rows) <= hr:
        raise fail(path, "at least one data row after the header", "only a header", row=hr)
    return header


def headerless_names(
    path: Path,
    rows: list[list[str]],
    options: ReadOptions,
    width: int | None = None,
    first_row: int = 1,
) -> list[str]:
    """The columns of a file without a header: ``names``, or "1", "2", ... by position.

    Text (``width`` None): every row looked at has as many fields as ``names`` lists, and
    the first row's fields are the columns. A sheet (``width``: its columns): no row has a
    value beyond the last name, and ``names`` lists no more columns than the sheet has.
    ``rows[0]`` is row ``first_row``.
    """
    if not rows or not any(c.strip() for row in rows for c in row):
        raise fail(path, "data rows", "an empty file")
    names = options.names
    if names is None:
        return [str(k) for k in range(1, (len(rows[0]) if width is None else width) + 1)]
    expected = f"{len(names)} fields per row, as {option('names')} lists ({_shown(names)})"
    for k, row in enumerate(rows, start=first_row):
        used = len(row) if width is None else _used(row)
        if (width is None and row and used != len(names)) or used > len(names):
            raise fail(path, expected, f"{used} fields", row=k)
    if width is not None and len(names) > width:
        raise fail(path, expected, f"a sheet of {width} columns")
    return list(names)


def _used(row: list[str]) -> int:
    n = len(row)
    while n and not row[n - 1].strip():
        n -= 1
    return n


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")


__all__ = [
    "BATCH_ROWS",
    "ROW",
    "SCAN_ROWS",
    "Position",
    "Reader",
    "Source",
    "check_header",
    "distinct_columns",
    "fail",
    "headerless_names",
]

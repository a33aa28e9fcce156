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


@dataclass
class Source:
    """An opened source: its column names and an iterator over row batches."""

    path: Path
    columns: list[str]
    batches: Iterator[pa.Table]
    position: Position = field(default_factory=Position)


def fail(path: Path, expected: str, found: str, row: int | None = None) -> ImportValidationError:
    return ImportValidationError([Problem(str(path), row, None, expected, found)])


def check_header(
    path: Path,
    rows: list[list[str]],
    options: ReadOptions,
    expected: Sequence[str],
    *,
    unnamed_ok: bool = False,
) -> list[str]:
    """The header row's names, or a problem explaining where the header really is.

    ``unnamed_ok``: empty header cells (a sheet's unused columns) are not duplicates.
    """
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
    seen: set[str] = set()
    for c in header:
        if c in seen and (c or not unnamed_ok):
            raise fail(path, "unique column names in the header", f"{c!r} twice", row=hr)
        seen.add(c)
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
    "Source",
    "check_header",
    "fail",
    "headerless_names",
]

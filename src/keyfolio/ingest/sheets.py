"""Spreadsheets (.xlsx, .xlsm, .xls, .ods) into batches of text columns, via python-calamine.

Cells become the text a user sees: whole numbers without ".0", dates as ISO dates (or in
``date_format``), other numbers as Python writes them. ``__row`` is the real spreadsheet
row, columns are counted from A and blank rows are skipped. A file whose bytes are not
the workbook its name says (an "Excel export" that is really an HTML page) is named for
what it is; a damaged one is an error, whenever the damage shows. In an .xlsx, a mapped
cell whose formula has no saved value is an error (:mod:`keyfolio.ingest.xlsx`).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from keyfolio.errors import ImportValidationError
from keyfolio.ingest import xlsx
from keyfolio.ingest.options import ReadOptions, option
from keyfolio.ingest.source import (
    BATCH_ROWS,
    ROW,
    SCAN_ROWS,
    Source,
    check_header,
    distinct_columns,
    fail,
    headerless_names,
)

KINDS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods"}
_WHAT = {
    "xlsx": "an Excel .xlsx workbook",
    "xls": "an Excel 97-2003 .xls workbook",
    "ods": "an OpenDocument .ods spreadsheet",
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_HTML = ("<!doctype html", "<html", "<table", "<head", "<body", "<meta", "<style", "<div")


def cell_text(value: Any, date_format: str | None) -> str:
    """A cell as text: what the user sees in the sheet, as far as the value tells."""
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


def what_it_is(head: bytes) -> str:
    """What the first bytes of a file say it is, for a file that is not the workbook named."""
    if head.startswith(_OLE):
        return (
            "an Excel 97-2003 workbook (rename it to .xls) or a password-protected one "
            "(save it without a password)"
        )
    if head.startswith(_ZIP):
        return "a zip file such as an .xlsx or .ods workbook (rename it to match)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8", errors="replace")
    text = text.lstrip("\ufeff \t\r\n").lower()
    if text.startswith(_HTML) or "<html" in text or "<table" in text:
        return (
            'an HTML page, not a workbook (many web apps\' "Excel export" is one): open it '
            "in Excel or LibreOffice and save it as .xlsx, or export CSV instead"
        )
    if text.startswith("<?xml") and "urn:schemas-microsoft-com:office:spreadsheet" in text:
        return "an Excel 2003 XML spreadsheet: open it in Excel and save it as .xlsx"
    if text.startswith("<"):
        return "an XML or HTML file"
    if "\x00" not in text and "\ufffd" not in text:
        tab = "tab-separated " if "\t" in text else ""
        return f"{tab}text, not a workbook: rename it to .txt or .csv and import it as text"
    return "a file of another kind"


def _check_magic(path: Path, kind: str) -> None:
    with path.open("rb") as fh:
        head = fh.read(4096)
    want = _OLE if kind == "xls" else _ZIP
    if not head:
        raise fail(path, _WHAT[kind], "an empty file")
    if not head.startswith(want):
        raise fail(path, _WHAT[kind], what_it_is(head))


def _sheet_list(names: list[str]) -> str:
    return "sheets " + ", ".join(f"{i} {n!r}" for i, n in enumerate(names, start=1))


def _choose_sheet(path: Path, names: list[str], wanted: str | int | None) -> int:
    """The 0-based index of the sheet ``wanted`` (a name, or a 1-based number)."""
    if wanted is None:
        return 0
    if isinstance(wanted, str) and wanted in names:
        return names.index(wanted)
    number = wanted if isinstance(wanted, int) else int(wanted) if wanted.isdigit() else None
    if number is not None and 1 <= number <= len(names):
        return number - 1
    if number is not None:
        expected = f"a sheet number from 1 to {len(names)} ({option('sheet')})"
        raise fail(path, expected, f"sheet {number}; the {_sheet_list(names)}")
    name = str(wanted)
    lower = {n.lower(): n for n in names}
    close = [lower[name.lower()]] if name.lower() in lower else []
    close = close or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise fail(path, f"a sheet named {name!r}", f"{_sheet_list(names)}{hint}")


def _unreadable(path: Path, kind: str, e: BaseException) -> ImportValidationError:
    said = str(e).splitlines()[0] if str(e) else type(e).__name__
    return fail(path, _WHAT[kind], f"an unreadable file ({said})")


def _guard(e: BaseException) -> None:
    """Re-raise what is not a reader's error (an interrupt; Python's own exits)."""
    if isinstance(e, KeyboardInterrupt | SystemExit | GeneratorExit | ImportValidationError):
        raise e


def open_sheet(path: Path, options: ReadOptions, expected: Sequence[str]) -> Source:
    """Open a spreadsheet's chosen sheet: its columns (checked) and a stream of batches."""
    kind = KINDS[path.suffix.lower()]
    _check_magic(path, kind)
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        names = list(wb.sheet_names)
        index = _choose_sheet(path, names, options.sheet)
        sheet = wb.get_sheet_by_index(index)
        formulas = xlsx.formulas_part(path, names[index]) if kind == "xlsx" else None
    except xlsx.SheetXmlError as e:
        raise fail(path, _WHAT[kind], f"a damaged sheet: {e}") from None
    except BaseException as e:  # calamine's errors (zip, xml, OLE, password), even a panic
        _guard(e)
        raise _unreadable(path, kind, e) from None
    start_row, start_col = sheet.start or (0, 0)
    fmt = options.date_formats[0] if options.date_formats else None

    def cells() -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells from column A) for every row."""
        rows = sheet.iter_rows()
        first = next(rows, None)
        if first is None:
            return
        pad = [""] * start_col if len(first) == sheet.width else []
        # calamine yields rows from row 1 (older versions: from the first used row)
        offset = start_row if start_row and any(c != "" for c in first) else 0
        for n, values in enumerate([first], start=offset + 1):
            yield n, pad + [cell_text(v, fmt) for v in values]
        for n, values in enumerate(rows, start=offset + 2):
            yield n, pad + [cell_text(v, fmt) for v in values]

    def text_rows() -> Iterator[tuple[int, list[str]]]:
        try:
            yield from cells()
        except BaseException as e:
            _guard(e)
            raise _unreadable(path, kind, e) from None

    peek = list(islice(text_rows(), options.header_row + SCAN_ROWS))
    if options.header:
        header = check_header(path, [r for _, r in peek], options, expected)
        width = len(header)
        while width and not header[width - 1]:
            width -= 1
        header = header[:width]
        skip = options.header_row
    else:
        width = max([start_col + sheet.width, *(len(r) for _, r in peek)])
        first_row = peek[0][0] if peek else 1
        header = headerless_names(path, [r for _, r in peek], options, width, first_row)
        skip = 0
    keep, repeated = distinct_columns(header, xlsx.letters)  # unnamed columns are left out
    columns = [header[i] for i in keep]
    if formulas is not None:
        mapped = {i: header[i] for i in keep if header[i] in set(expected)}
        first_data = peek[skip - 1][0] + 1 if skip and len(peek) >= skip else 1  # after the header
        try:
            problems = xlsx.formula_problems(path, formulas, mapped, first_data)
        except xlsx.SheetXmlError as e:
            raise fail(path, _WHAT[kind], f"a damaged sheet: {e}") from None
        if problems:
            raise ImportValidationError(problems)

    def read(wanted: Sequence[str] | None) -> Iterator[pa.Table]:
        at = {header[i]: i for i in keep}
        picked = keep if wanted is None else [at[c] for c in wanted]
        names = [header[i] for i in picked]
        cols: list[list[str]] = [[] for _ in names]
        rownums: list[int] = []
        for n, row in islice(text_rows(), skip, None):
            row = row[:width]
            if not any(c.strip() for c in row):
                continue  # blank spreadsheet row
            row += [""] * (width - len(row))
            for col, i in zip(cols, picked, strict=True):
                col.append(row[i])
            rownums.append(n)
            if len(rownums) >= BATCH_ROWS:
                yield _table(names, cols, rownums)
                cols, rownums = [[] for _ in names], []
        if rownums:
            yield _table(names, cols, rownums)
        wb.close()

    header_row = peek[skip - 1][0] if skip and len(peek) >= skip else None
    return Source(path, columns, read, repeated=repeated, header_row=header_row)


def _table(header: list[str], cols: list[list[str]], rownums: list[int]) -> pa.Table:
    arrays = [pa.array(c, pa.string()) for c in cols] + [pa.array(rownums, pa.int64())]
    return pa.Table.from_arrays(arrays, names=[*header, ROW])


__all__ = ["KINDS", "cell_text", "open_sheet", "what_it_is"]

"""What python-calamine cannot tell about an .xlsx sheet, read from the sheet's XML.

A formula cell keeps the value it last computed (``<c><f>B2*0.1</f><v>0.5</v></c>``), but a
workbook written by a program (openpyxl, many report generators) and never opened in Excel
has formulas without one (``<v/>``): calamine reads such a cell as empty, so a discount
would silently become "no discount". The sheet's XML is streamed out of the zip: a quick
byte search says whether it has formulas at all (most exports have none), and only then are
the formula cells of the mapped columns looked at, one by one. The same pass sees a sheet
whose XML stops before its end (a truncated file).
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from xml.etree import ElementTree as ET

from keyfolio.errors import Problem

SHOWN = 20  # cells listed; the rest are counted
_CHUNK = 1 << 22
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?worksheet>\s*$")
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
EXPECTED = (
    "a saved value in cell {cell} (it holds a formula that was never calculated: open the "
    "file in Excel or LibreOffice and save it)"
)


class SheetXmlError(Exception):
    """The sheet's XML (or the zip holding it) is damaged; the message says how."""


def letters(index: int) -> str:
    """The column letters of a 0-based column index (0 → "A", 27 → "AB")."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def _index(col: str) -> int:
    n = 0
    for ch in col:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def sheet_part(zf: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the worksheet named ``sheet`` (from the workbook's rels)."""
    try:
        book = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError, zipfile.BadZipFile, zlib.error, OSError):
        return None
    rid = next((el.get(_REL) for el in book.iter() if _local(el.tag) == "sheet"
                and el.get("name") == sheet), None)  # fmt: skip
    target = next((el.get("Target") for el in rels.iter() if el.get("Id") == rid), None)
    if rid is None or not target:
        return None
    part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    return posixpath.normpath(part)


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk


def _formula_in(data: bytes) -> bool:
    if b"<f>" in data or b"<f " in data or b"<f/" in data:
        return True
    return b":f" in data and _FORMULA.search(data) is not None  # <x:f> (a prefixed one)


def _has_formulas(zf: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet's XML has a formula (found by plain byte searches, at the speed
    of decompressing); raises :class:`SheetXmlError` when it ends before its closing tag
    or the zip's data is damaged (the zip's CRC is checked at the end)."""
    found, tail = False, b""
    try:
        with zf.open(part) as fh:
            for chunk in _chunks(fh):
                found = found or _formula_in(tail + chunk[:256]) or _formula_in(chunk)
                tail = (tail + chunk)[-256:]
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise SheetXmlError(f"damaged zip data in {part} ({e})") from None
    if not _END.search(tail):
        raise SheetXmlError(f"{part} ends before the sheet does (a truncated file?)")
    return found


def _uncalculated(
    zf: zipfile.ZipFile, part: str, columns: dict[int, str], first_row: int
) -> Iterator[tuple[int, str, str, str]]:
    """(row, column, cell, formula) of each formula cell without a saved value in
    ``columns`` (0-based index → name) from ``first_row`` on. Only the formula cells are
    looked at: each ``<f`` found in the bytes, the ``<c>`` element around it parsed."""
    try:
        yield from _formula_cells(zf, part, columns, first_row)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise SheetXmlError(f"damaged zip data in {part} ({e})") from None


def _formula_cells(
    zf: zipfile.ZipFile, part: str, columns: dict[int, str], first_row: int
) -> Iterator[tuple[int, str, str, str]]:
    tags: _Tags | None = None
    rest = b""
    with zf.open(part) as fh:
        for chunk in _chunks(fh):
            data = rest + chunk
            if tags is None:
                m = _ROOT.search(data)
                if m is None:
                    rest = data
                    continue
                tags = _Tags(m.group(1) or b"", [letters(i) for i in columns], data)
            end = data.rfind(tags.close)
            if end < 0:
                rest = data
                continue
            end += len(tags.close)
            region, rest = data[:end], data[end:]
            for m in tags.formula_cell.finditer(region):
                row = int(m.group(2))
                stop = region.find(tags.close, m.end())
                if row < first_row or stop < 0:
                    continue
                formula = tags.uncalculated(region[m.start() : stop])
                if formula is not None:
                    col = m.group(1).decode()
                    yield row, columns[_index(col)], f"{col}{row}", formula


_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet[\s>]")
_T = re.compile(rb'\st="([^"]*)"')


class _Tags:
    """The byte patterns of a sheet's cells, for its namespace prefix (b"" or b"x:")."""

    def __init__(self, prefix: bytes, columns: list[str], head: bytes) -> None:
        p = re.escape(prefix)
        self.close = b"</" + prefix + b"c>"
        # a cell of one of ``columns`` whose first child is a formula (the schema puts
        # <f> before <v>): the regex engine skips every other cell at its own speed, the
        # fastest when every cell starts <c r="..." (Excel's and most writers' order)
        cols = b"|".join(c.encode() for c in columns) or b"(?!)"
        r_first = head.count(b"<" + prefix + b'c r="') == head.count(b"<" + prefix + b"c ")
        attrs = rb"c\s+" if r_first else rb"c\s[^>]*?\b"
        self.formula_cell = re.compile(
            rb"<" + p + attrs + rb'r="(' + cols + rb')([0-9]+)"[^>]*>\s*<' + p + rb"f[\s/>]"
        )
        self._f = re.compile(rb"<" + p + rb"f(?:\s[^>]*)?(?:/>|>(.*?)</" + p + rb"f>)", re.S)
        self._v = re.compile(rb"<" + p + rb"v(?:\s[^>]*)?(?:/>|>(.*?)</" + p + rb"v>)", re.S)

    def uncalculated(self, xml: bytes) -> str | None:
        """The formula of a cell that has one and no saved value (an empty ``<v/>``; a
        formula giving "" keeps ``t="str"``), else None."""
        f = self._f.search(xml)
        if f is None:
            return None
        v = self._v.search(xml)
        t = _T.search(xml, 0, xml.find(b">"))
        kind = t.group(1) if t is not None else b""
        if v is not None and (v.group(1) or kind in (b"str", b"inlineStr")):
            return None
        text = html.unescape(f.group(1).decode("utf-8", "replace")) if f.group(1) else ""
        return f"={text}" if text else "a shared formula"


def formulas_part(path: Path, sheet: str) -> str | None:
    """The zip member of the sheet named ``sheet`` when it holds formulas (None: none, or
    a workbook laid out otherwise); raises :class:`SheetXmlError` for a damaged sheet."""
    try:
        with zipfile.ZipFile(path) as zf:
            part = sheet_part(zf, sheet)
            if part is None or part not in zf.namelist():
                return None
            return part if _has_formulas(zf, part) else None
    except (zipfile.BadZipFile, OSError) as e:
        raise SheetXmlError(f"not a readable zip ({e})") from None


def formula_problems(
    path: Path, part: str, columns: dict[int, str], first_row: int
) -> list[Problem]:
    """Problems for the mapped cells of sheet ``part`` whose formula has no saved value
    (at most :data:`SHOWN`, then how many more per column); raises :class:`SheetXmlError`
    for a damaged sheet."""
    out: list[Problem] = []
    more: dict[str, int] = {}
    with zipfile.ZipFile(path) as zf:
        for row, column, cell, formula in _uncalculated(zf, part, columns, first_row):
            if len(out) < SHOWN:
                found = f"{formula!r} (a formula without a saved value)"
                out.append(Problem(str(path), row, column, EXPECTED.format(cell=cell), found))
            else:
                more[column] = more.get(column, 0) + 1
    for column, n in more.items():
        what = f"{n} more cell(s) with a formula and no saved value"
        out.append(Problem(str(path), None, column, "a saved value in every cell", what))
    return out


__all__ = [
    "SHOWN",
    "SheetXmlError",
    "formula_problems",
    "formulas_part",
    "letters",
    "sheet_part",
]

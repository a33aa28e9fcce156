"""What python-calamine cannot tell about an .xlsx sheet, read from the sheet's XML.

A formula cell keeps the value it last computed (``<c><f>B2*0.1</f><v>0.5</v></c>``), but a
workbook written by a program (openpyxl, many report generators) and never opened in Excel
has formulas without one (``<v/>``): calamine reads such a cell as empty, so a discount
would silently become "no discount". The sheet's XML is streamed out of the zip: a quick
byte search says whether it has formulas at all (most exports have none), and only then is
it parsed, for the mapped columns only. The same pass sees a sheet whose XML stops before
its end (a truncated file).
"""

from __future__ import annotations

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
_CHUNK = 1 << 20
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?worksheet>\s*$")
_REF = re.compile(r"^([A-Z]+)([0-9]+)$")
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


def _has_formulas(zf: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet's XML has a formula; raises :class:`SheetXmlError` when it ends
    before its closing tag or the zip's data is damaged."""
    found, tail = False, b""
    try:
        with zf.open(part) as fh:
            for chunk in _chunks(fh):
                data = tail + chunk
                found = found or _FORMULA.search(data) is not None
                tail = data[-256:]
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
        raise SheetXmlError(f"damaged zip data in {part} ({e})") from None
    if not _END.search(tail):
        raise SheetXmlError(f"{part} ends before the sheet does (a truncated file?)")
    return found


def _uncalculated(
    zf: zipfile.ZipFile, part: str, columns: dict[int, str], first_row: int
) -> Iterator[tuple[int, str, str, str]]:
    """(row, column, cell, formula) of each formula cell without a saved value in
    ``columns`` (0-based index → name) from ``first_row`` on."""
    try:
        with zf.open(part) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                tag = _local(el.tag)
                if tag == "row":
                    el.clear()
                if tag != "c":
                    continue
                m = _REF.match(el.get("r") or "")
                if m is None:
                    continue
                row, col = int(m.group(2)), _index(m.group(1))
                if row < first_row or col not in columns:
                    continue
                f = v = None
                for child in el:
                    name = _local(child.tag)
                    f = child if name == "f" else f
                    v = child if name == "v" else v
                saved = v is not None and (v.text or el.get("t") in ("str", "inlineStr"))
                if f is not None and not saved:
                    text = f"={f.text}" if f.text else "a shared formula"
                    yield row, columns[col], el.get("r") or "", text
    except ET.ParseError as e:
        raise SheetXmlError(f"{part} is not well-formed XML ({e})") from None


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

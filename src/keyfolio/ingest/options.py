"""Reading options of one source file, and how messages name them.

The same options come from a mapping file (``header_row = 3``) or from the one-table
command line (``--header-row 3``); :func:`option` and :func:`setting` phrase a hint in the
form the user wrote, chosen by :func:`option_style` around the one-table import.
"""

from __future__ import annotations

import codecs
import datetime as dt
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from keyfolio.errors import KeyfolioError

WHITESPACE = "whitespace"  # delimiter: runs of spaces and tabs (aligned text)
DELIMITER_NAMES = {WHITESPACE: WHITESPACE, "tab": "\t"}
_MAX_DELIMITER = 8

_STYLE: ContextVar[str] = ContextVar("keyfolio_option_style", default="mapping")


@contextmanager
def option_style(style: str) -> Iterator[None]:
    """Within this block, messages name options as ``"mapping"`` keys or ``"cli"`` flags."""
    token = _STYLE.set(style)
    try:
        yield
    finally:
        _STYLE.reset(token)


def option(name: str) -> str:
    """An option as the user writes it: ``header_row`` or ``--header-row``."""
    if _STYLE.get() == "cli":
        return "--" + name.replace("_", "-")
    return name


def set_option(name: str) -> str:
    """How to set an option, without a value: ``set date_format`` or ``use --date-format``."""
    return f"use {option(name)}" if _STYLE.get() == "cli" else f"set {name}"


def setting(name: str, value: Any) -> str:
    """How to set an option: ``set header_row = 3`` or ``use --header-row 3``."""
    if _STYLE.get() == "cli":
        if name == "header" and value is False:
            return "use --no-header"
        if isinstance(value, list):
            return f"use --{name} {shlex.quote(','.join(map(str, value)))}"
        return f"use {option(name)} {shlex.quote(str(value))}"
    if isinstance(value, bool):
        return f"set {name} = {'true' if value else 'false'}"
    if isinstance(value, str) and name == "encoding":
        return f'set {name} = "{value}"'
    return f"set {name} = {value!r}"


def default_range(today: dt.date | None = None) -> tuple[int, int]:
    """The years a date may have unless ``date_range`` says otherwise: from 1950 to the
    end of next year (an ERP's "no date", 2099-12-31 or 0001-01-01, is not an order)."""
    return 1950, (today or dt.date.today()).year + 1


@dataclass
class ReadOptions:
    """How to read one source file (DESIGN.md, "Import": the mapping's reading options).

    ``delimiter`` is one character, a multi-character separator such as ``"|+|"``, or a
    name: ``"whitespace"`` (runs of spaces and tabs, for aligned text) or ``"tab"``.
    ``header = False`` reads every row as data; the columns are then ``names``, or
    numbered ``"1"``, ``"2"``... ``sheet`` is a sheet name or a 1-based sheet number.
    ``date_range``: the first and last year a date may have (:func:`default_range`).
    """

    delimiter: str = ","
    encoding: str = "utf-8"
    date_format: str | list[str] | None = None  # several: tried in order, value by value
    decimal: str = "."
    sheet: str | int | None = None
    header_row: int = 1
    missing: list[str] = field(default_factory=lambda: [""])
    where: str | None = None
    date_range: tuple[int, int] = field(default_factory=lambda: default_range())
    header: bool = True
    names: list[str] | None = None

    def __post_init__(self) -> None:
        self.delimiter = _check_delimiter(self.delimiter)
        if self.decimal not in (".", ","):
            raise KeyfolioError(f"{option('decimal')}: expected '.' or ',', found {self.decimal!r}")
        if self.decimal == "," and self.delimiter == ",":
            raise KeyfolioError(
                f"{option('decimal')} ',' needs another delimiter "
                f"(e.g. {setting('delimiter', ';')})"
            )
        if (
            not isinstance(self.header_row, int)
            or isinstance(self.header_row, bool)
            or self.header_row < 1
        ):
            raise KeyfolioError(
                f"{option('header_row')}: expected an integer >= 1, found {self.header_row!r}"
            )
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise KeyfolioError(
                f"{option('encoding')}: expected a known encoding (utf-8, cp1252, latin-1, "
                f"mac_roman...), found {self.encoding!r}"
            ) from None
        if isinstance(self.missing, str):
            self.missing = [self.missing]
        self._check_dates()
        self._check_sheet()
        self._check_header_options()

    @property
    def date_formats(self) -> list[str]:
        """The date formats to try, in order (none: ISO yyyy-mm-dd)."""
        if self.date_format is None:
            return []
        return [self.date_format] if isinstance(self.date_format, str) else list(self.date_format)

    def _check_dates(self) -> None:
        if isinstance(self.date_format, list | tuple):
            fmts = self.date_format
            if not fmts or not all(isinstance(f, str) and f for f in fmts):
                raise KeyfolioError(
                    f"{option('date_format')}: expected a format or a list of formats, "
                    f"found {fmts!r}"
                )
            self.date_format = list(self.date_format)
        lo, hi = (tuple(self.date_range) + (None, None))[:2]
        if not (isinstance(lo, int) and isinstance(hi, int) and lo < hi):
            raise KeyfolioError(
                f"date_range: expected two years [first, last], found {self.date_range!r}"
            )
        self.date_range = (lo, hi)

    @property
    def first_data_row(self) -> int:
        """The row number of the first data row (header = false: row 1)."""
        return self.header_row + 1 if self.header else 1

    @property
    def multi_char(self) -> bool:
        """A delimiter the fast CSV parser cannot take as it is (several characters, names)."""
        return len(self.delimiter) != 1

    def _check_sheet(self) -> None:
        sheet = self.sheet
        if sheet is None or (isinstance(sheet, str) and sheet):
            return
        if isinstance(sheet, int) and not isinstance(sheet, bool) and sheet >= 1:
            return
        raise KeyfolioError(
            f"{option('sheet')}: expected a sheet name or a sheet number >= 1, found {sheet!r}"
        )

    def _check_header_options(self) -> None:
        if not isinstance(self.header, bool):
            raise KeyfolioError(
                f"{option('header')}: expected true or false, found {self.header!r}"
            )
        if self.header:
            if self.names is not None:
                raise KeyfolioError(
                    f"{option('names')}: names the columns of a file without a header; "
                    f"{setting('header', False)} too, or map the header's own names"
                )
            return
        if self.header_row != 1:
            raise KeyfolioError(
                f"{option('header_row')}: a file without a header has no header row; "
                f"remove {option('header_row')} or {option('header')}"
            )
        if self.names is None:
            return
        names = self.names
        if isinstance(names, str) or not all(isinstance(n, str) and n.strip() for n in names):
            raise KeyfolioError(
                f"{option('names')}: expected a list of non-empty column names, found {names!r}"
            )
        self.names = [n.strip() for n in names]
        seen: set[str] = set()
        for n in self.names:
            if n in seen:
                raise KeyfolioError(f"{option('names')}: {n!r} twice; expected unique names")
            seen.add(n)
        if not self.names:
            raise KeyfolioError(f"{option('names')}: expected at least one name, found []")


def _check_delimiter(delimiter: Any) -> str:
    if not isinstance(delimiter, str) or not delimiter:
        raise KeyfolioError(
            f"{option('delimiter')}: expected a character such as ';', found {delimiter!r}"
        )
    if delimiter.lower() in DELIMITER_NAMES:
        return DELIMITER_NAMES[delimiter.lower()]
    if len(delimiter) == 1:
        return delimiter
    names = ", ".join(repr(n) for n in DELIMITER_NAMES)
    if delimiter.isalnum():
        import difflib

        close = difflib.get_close_matches(delimiter.lower(), list(DELIMITER_NAMES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyfolioError(
            f"{option('delimiter')}: unknown delimiter name {delimiter!r}; expected one of "
            f"{names}, one character such as ';' or a separator such as '|+|'{hint}"
        )
    if (
        len(delimiter) > _MAX_DELIMITER
        or any(c in delimiter for c in '\r\n"')
        or (delimiter != delimiter.strip())
    ):
        raise KeyfolioError(
            f"{option('delimiter')}: expected a separator of 1 to {_MAX_DELIMITER} characters "
            f"without quotes, line breaks or surrounding spaces (or {names}), "
            f"found {delimiter!r}"
        )
    return delimiter


def delimiter_label(delimiter: str) -> str:
    """A delimiter as messages show it."""
    labels = {";": "';'", "\t": "'\\t' (tab)", ",": "','", "|": "'|'", WHITESPACE: WHITESPACE}
    return labels.get(delimiter, repr(delimiter))


__all__ = [
    "DELIMITER_NAMES",
    "WHITESPACE",
    "ReadOptions",
    "default_range",
    "delimiter_label",
    "option",
    "option_style",
    "set_option",
    "setting",
]

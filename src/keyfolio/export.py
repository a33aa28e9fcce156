"""``keyfolio export``: the portfolio of a run for a CRM, as CSV or XLSX.

* CSV has no types, so a text cell that a spreadsheet would run as a formula (starting with
  ``=``, ``+``, ``-``, ``@``, tab or carriage return) is neutralised with a leading
  apostrophe: an account named ``=HYPERLINK(...)`` opens as text.
* XLSX cells are typed: text is written as a string cell (never a formula), so names arrive
  exactly as they are (:func:`xlsx_cell`, used by the XLSX report too).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from keyfolio import runs
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace, atomic_file, atomic_write_text

EXPORT_COLUMNS = [
    "account_id", "name", "parent_id", "group_id", "country", "region", "owner", "size_tier",
    "is_key", "decision", "quadrant", "strategy", "revenue", "contribution_margin", "cm_pct",
    "cost_to_serve", "net_contribution", "revenue_growth", "share_of_wallet", "clv", "roci",
    "attractiveness", "strength", "p_key", "reasons",
]  # fmt: skip
FORMATS = ("csv", "xlsx")

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A CSV text cell made safe for spreadsheets; other values are returned unchanged."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def xlsx_cell(ws: WriteOnlyWorksheet, value: Any, number_format: str | None = None) -> Any:
    """A cell of a write-only sheet: text always a string cell (openpyxl would make text
    starting with ``=`` a formula), numbers with ``number_format``."""
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    elif number_format is not None and isinstance(value, int | float):
        cell.number_format = number_format
    return cell


def save_workbook(wb: Workbook, out: Path) -> None:
    """Save a workbook all at once (temporary file, then rename)."""
    with atomic_file(out) as tmp:
        wb.save(tmp)


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    return value


def export_portfolio(
    ws: Workspace,
    fmt: Literal["csv", "xlsx"] | str,
    out: Path | None = None,
    run_id: str | None = None,
) -> Path:
    """Write the portfolio of a run (the latest by default) for a CRM; returns the path."""
    if fmt not in FORMATS:
        raise KeyfolioError(f"unknown export format {fmt!r}; expected csv or xlsx")
    run = runs.get(ws, run_id)
    portfolio = run.portfolio(EXPORT_COLUMNS)
    cols = [c for c in EXPORT_COLUMNS if c in portfolio.columns]
    out = out or ws.root / "exports" / f"portfolio-{run.id}.{fmt}"
    rows = [[_clean(v) for v in row] for row in portfolio[cols].itertuples(index=False)]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows([[neutralise(v) for v in row] for row in rows])
        atomic_write_text(out, buf.getvalue())
        return out
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("portfolio")
    sheet.freeze_panes = "A2"
    sheet.append(cols)
    for row in rows:
        sheet.append([xlsx_cell(sheet, v) for v in row])
    save_workbook(wb, out)
    return out


XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


def write_rows(
    out: Path,
    fmt: Literal["csv", "xlsx"] | str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """Stream ``rows`` (any number: nothing is held in memory) under a header of
    ``columns`` to ``out`` as CSV (text neutralised) or XLSX (text as string cells), written
    all at once (temporary file, then rename); returns the number of rows written. More
    rows than an XLSX sheet holds is an error and nothing is written."""
    if fmt not in FORMATS:
        raise KeyfolioError(f"unknown export format {fmt!r}; expected csv or xlsx")
    n = 0
    with atomic_file(out) as tmp:
        if fmt == "csv":
            with tmp.open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(columns)
                for n, row in enumerate(rows, 1):  # noqa: B007 - the count is returned
                    w.writerow([neutralise(_clean(v)) for v in row])
            return n
        wb = Workbook(write_only=True)
        sheet = wb.create_sheet("accounts")
        sheet.freeze_panes = "A2"
        sheet.append(list(columns))
        for n, row in enumerate(rows, 1):  # noqa: B007
            if n > XLSX_MAX_ROWS:
                raise KeyfolioError(
                    f"an XLSX sheet holds at most {XLSX_MAX_ROWS:,} rows; narrow the view or "
                    "export CSV"
                )
            sheet.append([xlsx_cell(sheet, _clean(v)) for v in row])
        wb.save(tmp)
    return n

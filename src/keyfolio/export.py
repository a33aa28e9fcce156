"""``keyfolio export``: the latest portfolio for a CRM, as CSV or XLSX.

Text cells that a spreadsheet would execute (starting with ``=``, ``+``, ``-``, ``@``, tab
or carriage return) are neutralised with a leading apostrophe, so an account named
``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from keyfolio.errors import KeyfolioError
from keyfolio.pipeline import read_portfolio
from keyfolio.workspace import Workspace, atomic_write_text

EXPORT_COLUMNS = [
    "account_id", "name", "parent_id", "group_id", "country", "region", "owner", "size_tier",
    "is_key", "decision", "quadrant", "strategy", "revenue", "contribution_margin", "cm_pct",
    "cost_to_serve", "net_contribution", "revenue_growth", "share_of_wallet", "clv", "roci",
    "attractiveness", "strength", "p_key", "reasons",
]  # fmt: skip

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Make a text cell safe for spreadsheets; other values are returned unchanged."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    return neutralise(value)


def export_portfolio(
    ws: Workspace,
    fmt: Literal["csv", "xlsx"],
    out: Path | None = None,
    run_id: str | None = None,
) -> Path:
    """Write the portfolio of a run (the latest by default) for a CRM; returns the path."""
    if fmt not in ("csv", "xlsx"):
        raise KeyfolioError(f"unknown export format {fmt!r}; expected csv or xlsx")
    rid, portfolio = read_portfolio(ws, run_id)
    cols = [c for c in EXPORT_COLUMNS if c in portfolio.columns]
    df = portfolio[cols]
    out = out or ws.root / "exports" / f"portfolio-{rid}.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [[_clean(v) for v in row] for row in df.itertuples(index=False, name=None)]
    if fmt == "csv":
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        w.writerows(rows)
        atomic_write_text(out, buf.getvalue())
        return out
    _write_xlsx(out, cols, rows)
    return out


def _write_xlsx(out: Path, cols: list[str], rows: list[list[Any]]) -> None:
    import os
    import tempfile

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("portfolio")
    ws.freeze_panes = "A2"
    ws.append(cols)
    for row in rows:
        ws.append(row)
    fd, tmp = tempfile.mkstemp(suffix=".xlsx", dir=out.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

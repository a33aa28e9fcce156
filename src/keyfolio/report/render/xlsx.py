"""The XLSX report: the full tables behind the HTML/PDF report, for people who filter.

Sheets: ``portfolio`` (every account, formatted numbers, frozen header, filters), ``key
accounts``, ``changes`` (since the previous run), ``reconciliation`` (declared lists),
``workload`` and ``definition`` (criteria, weights, cuts, capacity, rules and the policy text).
Text is written as string cells, never formulas (:func:`keyfolio.export.xlsx_cell`), so an
account named ``=HYPERLINK(...)`` stays exactly that text. Written in openpyxl's streaming
mode, through a temporary file and a rename.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from keyfolio.allocation import workload_by_manager, workload_by_tier
from keyfolio.export import save_workbook, xlsx_cell
from keyfolio.report.data import ReportData
from keyfolio.report.sections.changes import changes
from keyfolio.report.sections.definition import describe_scale, describe_source

PORTFOLIO_COLUMNS = [
    "account_id", "name", "parent_id", "group_id", "is_group", "in_group", "selectable",
    "country", "region", "industry", "owner", "size_tier", "is_key", "decision", "quadrant",
    "strategy", "revenue", "cogs", "contribution_margin", "cm_pct", "cost_to_serve",
    "net_contribution", "net_pct", "revenue_ttm", "revenue_growth", "share_of_wallet", "clv",
    "p_alive", "roci", "profit_potential", "attractiveness", "strength", "hours_needed", "p_key",
    "contested", "reasons", "flip",
]  # fmt: skip
KEY_COLUMNS = [
    "account_id", "name", "owner", "size_tier", "quadrant", "decision", "revenue",
    "net_contribution", "cm_pct", "clv", "roci", "attractiveness", "strength", "p_key",
    "hours_needed", "reasons", "flip", "strategy",
]  # fmt: skip

MONEY = "#,##0"
PCT = "0.0%"
SCORE = "0.0"
FORMATS = {
    **dict.fromkeys(["revenue", "cogs", "contribution_margin", "cost_to_serve",
                     "net_contribution", "revenue_ttm", "clv", "profit_potential",
                     "objective_a", "objective_b", "hours_needed", "capacity_hours",
                     "hours_per_account"], MONEY),
    **dict.fromkeys(["cm_pct", "net_pct", "revenue_growth", "share_of_wallet", "roci",
                     "share_key", "jaccard", "utilisation", "share_of_capacity", "share"], PCT),
    **dict.fromkeys(["attractiveness", "strength"], SCORE),
    **dict.fromkeys(["p_key", "p_alive", "weight"], "0.00"),
}  # fmt: skip
WIDTHS = {"name": 34, "reasons": 60, "flip": 50, "strategy": 50, "why": 60, "lists": 40}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="E8ECF1")


def _value(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.to_pydatetime()
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.replace(tzinfo=None)
    return v


class _Sheet:
    """A streaming sheet with a styled, frozen, filtered header and per-column formats."""

    def __init__(self, wb: Workbook, title: str, columns: Sequence[str]) -> None:
        self.ws: WriteOnlyWorksheet = wb.create_sheet(title)
        self.columns = list(columns)
        self.rows = 0
        for i, col in enumerate(self.columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = WIDTHS.get(
                col, max(10, min(len(col) + 3, 24))
            )
        self.ws.freeze_panes = "B2" if self.columns and self.columns[0] == "account_id" else "A2"
        header = []
        for col in self.columns:
            c = xlsx_cell(self.ws, col)
            c.font, c.fill = HEADER_FONT, HEADER_FILL
            c.alignment = Alignment(wrap_text=True, vertical="top")
            header.append(c)
        self.ws.append(header)
        self._formats = [FORMATS.get(col) for col in self.columns]

    def append(self, row: Iterable[Any]) -> None:
        cells: list[Any] = []
        for v, fmt in zip(row, self._formats, strict=True):
            v = _value(v)
            if isinstance(v, bool) or v is None or isinstance(v, dt.datetime):
                cells.append(v)
            else:
                cells.append(xlsx_cell(self.ws, v, fmt))
        self.ws.append(cells)
        self.rows += 1

    def frame(self, df: pd.DataFrame) -> None:
        for row in df[self.columns].itertuples(index=False, name=None):
            self.append(row)

    def close(self) -> None:
        if self.columns:
            last = get_column_letter(len(self.columns))
            self.ws.auto_filter.ref = f"A1:{last}{max(self.rows + 1, 1)}"


def _sheet_from_frame(wb: Workbook, title: str, df: pd.DataFrame | None, note: str) -> None:
    if df is None or df.empty:
        s = _Sheet(wb, title, ["note"])
        s.append([note])
        s.close()
        return
    s = _Sheet(wb, title, [str(c) for c in df.columns])
    s.frame(df.set_axis([str(c) for c in df.columns], axis=1))
    s.close()


def _portfolio(wb: Workbook, d: ReportData) -> None:
    pf = d.portfolio
    cols = [c for c in PORTFOLIO_COLUMNS if c in pf.columns]
    s = _Sheet(wb, "portfolio", cols)
    s.frame(pf)
    s.close()


def _key_accounts(wb: Workbook, d: ReportData) -> None:
    key = d.key
    names: dict[str, str] = {}
    if d.team is not None and "name" in d.team.columns:
        names = dict(zip(d.team["manager_id"].astype(str), d.team["name"].astype(str), strict=True))
    cols = [c for c in KEY_COLUMNS if c in key.columns]
    frame = key[cols].copy()
    if "owner" in frame.columns:
        owner = frame["owner"].astype(object)
        manager = [names.get(str(o)) if isinstance(o, str) else None for o in owner]
        frame.insert(cols.index("owner") + 1, "manager", manager)
    sort = "attractiveness" if "attractiveness" in frame.columns else "account_id"
    _sheet_from_frame(
        wb, "key accounts", frame.sort_values(sort, ascending=sort == "account_id"),
        "No account is key in this run.",
    )  # fmt: skip


def _changes(wb: Workbook, d: ReportData) -> None:
    diff = changes(d)
    note = (
        "This is the first run of the workspace: no previous run to compare with."
        if d.previous is None
        else f"The key list did not change since run {d.previous.id}."
    )
    _sheet_from_frame(wb, "changes", None if diff is None else diff.changes, note)


def _reconciliation(wb: Workbook, d: ReportData) -> None:
    rec = d.reconciliation
    frame = None
    if rec is not None and rec.has_lists:
        frame = pd.concat(
            [df.assign(section=k) for k, df in rec.sections().items() if not df.empty],
            ignore_index=True,
        )
        frame = frame[["section"] + [c for c in frame.columns if c != "section"]]
    _sheet_from_frame(
        wb, "reconciliation", frame, "No declared key-account lists were imported (table declared)."
    )


def _workload(wb: Workbook, d: ReportData) -> None:
    if "is_key" not in d.portfolio.columns:
        _sheet_from_frame(wb, "workload", None, "No key-account decisions in this run.")
        return
    tiers = workload_by_tier(d.portfolio, d.policy)
    man = workload_by_manager(d.portfolio, d.policy, d.team)
    frame = tiers.assign(level="tier").rename(columns={"tier": "who"})
    if man is not None:
        m = man.rename(columns={"manager_id": "who"}).drop(columns=["known"])
        frame = pd.concat([frame, m.assign(level="manager")], ignore_index=True)
    frame = frame[["level"] + [c for c in frame.columns if c != "level"]]
    _sheet_from_frame(wb, "workload", frame, "")


def _definition(wb: Workbook, d: ReportData) -> None:
    p = d.policy
    s = _Sheet(wb, "definition", ["item", "group", "criterion", "source", "scale", "weight",
                                  "share"])  # fmt: skip
    sha = str((d.meta.get("policy") or {}).get("sha256") or p.sha256)
    for item, value in (
        ("run", d.run_id), ("policy sha256", sha), ("currency", d.currency),
        ("objective", p.selection.objective), ("capacity_hours", p.selection.capacity_hours),
        ("hours per key account", ", ".join(f"{k} {v:g}" for k, v in p.selection.hours.items())),
        ("keep_margin", p.selection.keep_margin),
        ("matrix cuts", f"attractiveness {p.matrix.attractiveness_cut:g}, "
                        f"strength {p.matrix.strength_cut:g}"),
        ("size tiers", f"{p.size.method} by {p.size.basis}"),
        *(("must rule", r) for r in p.selection.must),
        *(("never rule", r) for r in p.selection.never),
    ):  # fmt: skip
        s.append([item, None if value is None else str(value), None, None, None, None, None])
    for group, crit in (("attractiveness", p.attractiveness), ("strength", p.strength)):
        total = sum(c.weight for c in crit) or 1.0
        for c in crit:
            s.append(["criterion", group, c.name, describe_source(c), describe_scale(c, p),
                      c.weight, c.weight / total])  # fmt: skip
    for line in p.text.splitlines():
        s.append(["policy text", line, None, None, None, None, None])
    s.close()


def write_xlsx(d: ReportData, out: Path) -> Path:
    """Write the XLSX report of ``d`` to ``out`` (atomically); returns ``out``."""
    wb = Workbook(write_only=True)
    _portfolio(wb, d)
    _key_accounts(wb, d)
    _changes(wb, d)
    _reconciliation(wb, d)
    _workload(wb, d)
    _definition(wb, d)
    save_workbook(wb, out)
    return out

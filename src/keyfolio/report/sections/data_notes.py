"""Section 9: data notes: tables imported, warnings, accounts excluded and why."""

from __future__ import annotations

import math
from typing import Any

from keyfolio.fmt import DASH, num
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Heading,
    Para,
    Section,
    Table,
)
from keyfolio.report.sections.common import (
    MAX_WARNINGS,
    as_float,
)

OPTIONAL_TABLES = {
    "costs": "cost to serve is only freight (if any)",
    "assessments": "assessment criteria score by the policy's missing rule",
    "wallet": "share of wallet is not known",
    "declared": "no reconciliation with the lists people carry",
    "feedback": "feedback criteria (how the customer sees us) score by the missing rule",
    "team": "managers' capacity is not known",
}


def _size(b: Any) -> str:
    v = as_float(b)
    if math.isnan(v):
        return DASH
    return f"{v / 1e6:,.1f} MB" if v >= 1e6 else f"{v / 1e3:,.0f} kB"


def _excluded(d: ReportData) -> list[list[Any]]:
    pf = d.portfolio
    rows: list[list[Any]] = []
    if "in_group" in pf.columns:
        n = int(pf["in_group"].fillna(False).astype(bool).sum())
        if n:
            rows.append(["group member", num(n), "counted in its group (the group is selected)"])
    if "has_orders" in pf.columns:
        n = int((~pf["has_orders"].fillna(False).astype(bool)).sum())
        if n:
            rows.append(["no orders", num(n), "no revenue in the order lines: figures are zero"])
    if "rules" in pf.columns:
        never = pf["rules"].fillna("").astype(str).str.contains("never:")
        if never.any():
            rows.append(
                ["never rule", num(int(never.sum())), "excluded from selection by a never rule"]
            )
    if "override" in pf.columns and "decision" in pf.columns:
        is_key = pf["is_key"].fillna(False).astype(bool) if "is_key" in pf else False
        n = int(((pf["override"].fillna("") != "") & ~is_key).sum())
        if n:
            rows.append(["override out", num(n), "taken off the list by a person (see key list)"])
    return rows


def data_notes_section(d: ReportData) -> Section:
    s = Section("data", "Data notes")
    m = d.meta
    s.intro.append(
        f"Run {d.run_id} started {m.get('started', DASH)}, keyfolio "
        f"{m.get('keyfolio_version', DASH)}, data up to {m.get('as_of') or DASH}, amounts in "
        f"{d.currency}."
    )
    rows = [
        [
            t.table,
            num(t.rows),
            _size(t.bytes),
            (t.sha256 or DASH)[:12],
            t.modified.strftime("%Y-%m-%d %H:%M UTC") if t.modified else DASH,
            t.status,
        ]
        for t in d.tables
    ]
    s.items.append(
        Table(
            ["table", "rows", "size", "sha256", "file written", "status"],
            rows,
            numeric={1, 2},
            caption="What was imported",
        )
    )
    present = {t.table for t in d.tables}
    absent = [(t, why) for t, why in OPTIONAL_TABLES.items() if t not in present]
    for t, why in absent:
        s.notes.append(f"No `{t}` table: {why}.")
    s.numbers["absent_tables"] = [t for t, _ in absent]
    warnings = list(
        dict.fromkeys([*(m.get("warnings") or []), *((d.selection or {}).get("warnings") or [])])
    )
    s.numbers["warnings"] = warnings
    s.items.append(Heading("Warnings"))
    if warnings:
        s.items.append(
            Table(
                ["warning"],
                [[w] for w in warnings[:MAX_WARNINGS]],
                note=f"showing {MAX_WARNINGS} of {num(len(warnings))}; all are in run.json"
                if len(warnings) > MAX_WARNINGS
                else "",
            )
        )
    else:
        s.items.append(Para("The run raised no warnings."))
    s.items.append(Heading("Accounts excluded from selection"))
    ex = _excluded(d)
    if ex:
        s.items.append(Table(["reason", "accounts", "what it means"], ex, numeric={1}))
    else:
        s.items.append(Para("No account was excluded."))
    if d.missing_files:
        s.notes.append("Files absent from the run folder: " + ", ".join(d.missing_files) + ".")
    timings = m.get("timings_s") or {}
    if timings:
        spent = ", ".join(f"{k} {as_float(v):.1f} s" for k, v in timings.items())
        s.items.append(Para(f"Run timings: {spent}."))
    return s

"""Section 6: changes since the previous run (who entered, who left, why)."""

from __future__ import annotations

from typing import Any

from keyfolio.analysis.diff import Diff, diff_runs
from keyfolio.errors import KeyfolioError
from keyfolio.fmt import num, text
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Link,
    Para,
    Section,
    Table,
    anchor,
)
from keyfolio.report.sections.common import (
    MAX_CHANGES,
)
from keyfolio.runs import Run


def changes(d: ReportData) -> Diff | None:
    """The key list's changes since the previous run (None for a first run)."""
    return None if d.previous is None else diff_runs(d.previous, d.run)


def _prev_meta(previous: Run) -> dict[str, Any]:
    try:
        return previous.meta()
    except KeyfolioError:  # a damaged previous run: say less, not nothing
        return {}


def changes_section(d: ReportData, diff: Diff | None) -> Section:
    s = Section("changes", "Changes since the previous run")
    if diff is None or d.previous is None:
        s.notes.append(
            "This is the first run of the workspace: there is no previous run to compare with."
        )
        return s
    prev = d.previous.id
    pm = _prev_meta(d.previous)
    facts = []
    sha_a = (pm.get("policy") or {}).get("sha256")
    sha_b = (d.meta.get("policy") or {}).get("sha256")
    if sha_a and sha_b:
        facts.append(
            "the policy is unchanged"
            if sha_a == sha_b
            else f"the policy changed ({sha_a[:12]} → {sha_b[:12]})"
        )
    ia, ib = pm.get("inputs") or {}, d.meta.get("inputs") or {}
    changed = sorted(
        t
        for t in set(ia) | set(ib)
        if (ia.get(t) or {}).get("sha256") != (ib.get(t) or {}).get("sha256")
    )
    if ia or ib:
        facts.append(
            "data changed in: " + ", ".join(changed) if changed else "the data are the same"
        )
    ch = diff.changes
    n_in = int((ch["change"] == "entered").sum())
    n_out = int((ch["change"] == "left").sum())
    s.numbers.update(entered=n_in, left=n_out, previous=prev)
    s.intro.append(
        f"Compared with run {prev}: {n_in} account(s) entered the key list, {n_out} left"
        + (f"; {'; '.join(facts)}." if facts else ".")
    )
    if ch.empty:
        s.items.append(Para("The key list did not change."))
        return s
    obj = diff.objective
    rows = [
        [
            text(r.change),
            Link(str(r.account_id), "#" + anchor(str(r.account_id)))
            if r.change == "entered"
            else str(r.account_id),
            text(r.name),
            text(r.decision),
            f"{num(r.objective_a, 1)} → {num(r.objective_b, 1)}",
            text(r.quadrant_b if isinstance(r.quadrant_b, str) else r.quadrant_a),
            text(r.why),
        ]
        for r in ch.head(MAX_CHANGES).itertuples()
    ]
    s.items.append(
        Table(
            ["change", "account", "name", "decision", f"{obj} before → now", "quadrant", "why"],
            rows,
            numeric={4},
            wide=True,
            note=f"showing {MAX_CHANGES} of {num(len(ch))}; all changes are in the XLSX"
            if len(ch) > MAX_CHANGES
            else "",
        )
    )
    return s

"""Section 7: contested accounts (robustness) and the reconciliation with the declared lists."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keyfolio.fmt import num, pct, text
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Chart,
    Heading,
    Link,
    Para,
    Section,
    Table,
    anchor,
)
from keyfolio.report.sections.common import (
    MAX_CONTESTED,
    MAX_FAILING,
    MAX_UNLISTED,
    as_float,
)


def _contested(s: Section, d: ReportData) -> None:
    s.items.append(Heading("Contested accounts (robustness)"))
    rob = (d.selection or {}).get("robustness") or {}
    pf = d.portfolio
    if "p_key" not in pf.columns or not rob.get("draws"):
        s.notes.append(
            "Robustness was not computed in this run (no weight draws): no contested "
            "accounts to show."
        )
        return
    lo, hi = d.policy.robustness.contested
    con = pf[pf["contested"].fillna(False).astype(bool)] if "contested" in pf else pf.iloc[0:0]
    s.numbers["contested_ids"] = con["account_id"].astype(str).tolist()
    s.items.append(
        Para(
            f"The selection was repeated for {num(rob.get('draws'))} sets of weights drawn around "
            f"the policy's (Dirichlet, concentration {num(rob.get('concentration'))}). An account "
            f"is contested when it is key in between {pct(lo, 0)} and {pct(hi, 0)} of the draws: "
            f"{num(len(con))} accounts are. Their status depends on the exact weights, so they "
            "deserve a discussion rather than a formula."
        )
    )
    if con.empty:
        return
    obj = (d.selection or {}).get("objective", "attractiveness")
    con = con.sort_values("p_key", ascending=False)
    rows = [
        [
            Link(str(r["account_id"]), "#" + anchor(str(r["account_id"])))
            if bool(r.get("is_key"))
            else str(r["account_id"]),
            text(r.get("name")),
            pct(r.get("p_key"), 0),
            "yes" if bool(r.get("is_key")) else "no",
            text(r.get("decision")),
            text(r.get("quadrant")),
            num(r.get(obj), 1),
        ]
        for _, r in con.head(MAX_CONTESTED).iterrows()
    ]
    s.items.append(
        Table(
            ["account", "name", "key in % of draws", "key now", "decision", "quadrant", obj],
            rows,
            numeric={2, 6},
            note=f"showing {MAX_CONTESTED} of {num(len(con))}" if len(con) > MAX_CONTESTED else "",
        )
    )


def overlap_matrix(overlap: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Square Jaccard matrix (diagonal 1) from the long overlap table."""
    names = sorted(
        set(overlap["list_a"].astype(str)) | set(overlap["list_b"].astype(str)),
        key=lambda n: (n == "definition", n),
    )
    pos = {n: i for i, n in enumerate(names)}
    m = np.eye(len(names))
    for r in overlap.itertuples():
        i, j = pos[str(r.list_a)], pos[str(r.list_b)]
        m[i, j] = m[j, i] = as_float(r.jaccard)
    return names, m


def _reconciliation(s: Section, d: ReportData) -> None:
    s.items.append(Heading("Reconciliation with the declared lists"))
    rec = d.reconciliation
    if rec is None or not rec.has_lists:
        s.notes.append(
            "No declared key-account lists were imported (table `declared`): nothing to reconcile."
        )
        return
    lists = rec.lists
    rows: list[list[Any]] = [
        [text(r.list_name), num(r.n_declared), num(r.n_known), num(r.n_key), pct(r.share_key, 0)]
        for r in lists.itertuples()
    ]
    s.items.append(
        Table(
            ["list", "accounts named", "in the portfolio", "key by the definition", "share key"],
            rows,
            numeric={1, 2, 3, 4},
        )
    )
    ov = rec.overlap
    if ov is not None and not ov.empty:
        names, m = overlap_matrix(ov)
        s.items.append(
            Chart(
                "chart-overlap",
                charts.overlap_heatmap(names, m),
                caption="Overlap of the lists and the definition (Jaccard: accounts "
                "in both / accounts in either).",
            )
        )
        s.numbers["overlap"] = {"names": names, "matrix": m.tolist()}
    fail = rec.failing
    n_fail = 0 if fail is None else len(fail)
    s.numbers["failing_ids"] = (
        [] if fail is None or fail.empty else fail["account_id"].astype(str).tolist()
    )
    s.items.append(
        Para(
            f"{num(n_fail)} accounts are called key by two or more lists but are not "
            "key by the definition" + (":" if n_fail else ".")
        )
    )
    if n_fail:
        assert fail is not None
        rows = [
            [str(r.account_id), text(r.name), num(r.n_lists), text(r.lists), text(r.reasons)]
            for r in fail.head(MAX_FAILING).itertuples()
        ]
        s.items.append(
            Table(
                ["account", "name", "lists", "named by", "why not key"],
                rows,
                numeric={2},
                wide=True,
                note=f"showing the {MAX_FAILING} named by most lists, of {num(n_fail)}; all are "
                "in the XLSX"
                if n_fail > MAX_FAILING
                else "",
            )
        )
    un = rec.unlisted
    n_un = 0 if un is None else len(un)
    s.items.append(
        Para(
            f"{num(n_un)} key accounts are on no declared list"
            + (" (new to the people who carry the lists):" if n_un else ".")
        )
    )
    if n_un:
        assert un is not None
        rows = [
            [
                Link(str(r.account_id), "#" + anchor(str(r.account_id))),
                text(r.name),
                text(r.quadrant),
                text(r.reasons),
            ]
            for r in un.head(MAX_UNLISTED).itertuples()
        ]
        s.items.append(
            Table(
                ["account", "name", "quadrant", "why key"],
                rows,
                wide=True,
                note=f"showing {MAX_UNLISTED} of {num(n_un)}" if n_un > MAX_UNLISTED else "",
            )
        )


def contested_section(d: ReportData) -> Section:
    s = Section("contested", "Contested accounts and reconciliation")
    _contested(s, d)
    _reconciliation(s, d)
    return s

"""Section 4: the KAM matrix, attractiveness x strength, bubble area = revenue."""

from __future__ import annotations

import pandas as pd

from keyfolio.fmt import money, num
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Chart,
    Section,
    Table,
    anchor,
)
from keyfolio.report.sections.common import (
    MATRIX_MAX_POINTS,
    aggregate,
    column_values,
    key_mask,
)
from keyfolio.scoring import STRATEGY


def matrix_points(
    df: pd.DataFrame, max_points: int = MATRIX_MAX_POINTS
) -> tuple[pd.DataFrame, int]:
    """All key accounts and a reproducible random sample of the others, at most
    ``max_points`` together; returns the points and the number of others left out."""
    key = key_mask(df)
    others = df[~key]
    room = max(max_points - int(key.sum()), 0)
    left_out = 0
    if len(others) > room:
        others = others.sample(n=room, random_state=0)
        left_out = int((~key).sum()) - room
    pts = pd.concat([df[key], others])
    return pts, left_out


def matrix_section(d: ReportData) -> Section:
    s = Section("matrix", "The KAM matrix")
    df = d.selectable
    if not {"attractiveness", "strength"} <= set(df.columns):
        s.notes.append(
            "No attractiveness or strength scores in this run: the matrix needs the "
            "definition stage."
        )
        return s
    df = df[df["attractiveness"].notna() & df["strength"].notna()]
    m = d.policy.matrix
    pts, left_out = matrix_points(df)
    size_col = "revenue" if "revenue" in pts.columns else "clv"
    points = pd.DataFrame(
        {
            "account_id": pts["account_id"].astype(str),
            "name": pts.get("name", pts["account_id"]),
            "strength": column_values(pts, "strength"),
            "attractiveness": column_values(pts, "attractiveness"),
            "size": column_values(pts, size_col),
            "decision": pts["decision"].astype(str) if "decision" in pts else "not selected",
            "size_tier": pts.get("size_tier", ""),
            "quadrant": pts.get("quadrant", ""),
        }
    )
    anchors = {a: anchor(a) for a in d.key["account_id"]}
    s.intro.append(
        "Attractiveness of the customer (vertical) against our strength with it (horizontal), "
        f"cut at {num(m.attractiveness_cut)} and {num(m.strength_cut)}. Bubble area is "
        f"{size_col} ({d.currency}); marker and colour show the decision. Hover for the "
        "account; click a key account to open its detail."
    )
    if left_out:
        s.notes.append(
            f"The chart shows all {num(len(d.key))} key accounts and a random sample of "
            f"{num(len(pts) - len(d.key))} of the other {num(len(df) - len(d.key))} accounts "
            "(the full list is in the XLSX)."
        )
    s.items.append(
        Chart(
            "chart-matrix",
            charts.matrix_chart(
                points,
                a_cut=m.attractiveness_cut,
                s_cut=m.strength_cut,
                quadrants=STRATEGY,
                size_label=size_col,
                currency=d.currency,
                anchors=anchors,
            ),
        )
    )
    q = df.get("quadrant")
    if q is not None:
        rows = []
        for name in ("strategic", "star", "status", "streamline"):
            sub = df[(q == name).to_numpy()]
            a = aggregate(sub)
            rows.append(
                [
                    name,
                    num(a["accounts"]),
                    num(a["key"]),
                    money(a["revenue"]),
                    money(a["net_contribution"]),
                    STRATEGY[name],
                ]
            )
        s.items.append(
            Table(
                [
                    "quadrant",
                    "accounts",
                    "key",
                    f"revenue ({d.currency})",
                    f"net contribution ({d.currency})",
                    "recommended strategy",
                ],
                rows,
                numeric={1, 2, 3, 4},
                caption="Per quadrant",
            )
        )
    s.numbers.update(points=len(pts), left_out=left_out)
    return s

"""Section 5: the key-account list and a detail block per key account."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from keyfolio.fmt import hours, money, num, pct, text
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Block,
    Chart,
    Heading,
    Link,
    Section,
    Table,
    anchor,
    drop_empty,
)
from keyfolio.report.sections.common import (
    as_float,
    manager_names,
    manager_of,
)


def _key_sorted(d: ReportData) -> pd.DataFrame:
    key = d.key.copy()
    obj = (d.selection or {}).get("objective", "attractiveness")
    if obj not in key.columns:
        obj = "attractiveness" if "attractiveness" in key.columns else "net_contribution"
    key["_obj"] = pd.to_numeric(key[obj], errors="coerce") if obj in key.columns else 0.0
    return key.sort_values(["_obj", "account_id"], ascending=[False, True])


def _contrib_chart(c: pd.DataFrame, aid: str) -> Chart | None:
    if c.empty:
        return None
    hover = [
        f"raw {charts.esc(r.raw_text) if getattr(r, 'raw_text', '') else 'missing'}, "
        f"score {as_float(r.score):.0f}, weight {as_float(r.weight):.2f}"
        for r in c.itertuples()
    ]
    fig = charts.contribution_chart(
        c["criterion"].astype(str).tolist(),
        c["group"].astype(str).tolist(),
        c["contribution"].astype(float).tolist(),
        hover,
    )
    return Chart(f"chart-{anchor(aid)}", fig, small=True)


def _block(r: pd.Series, d: ReportData, names: dict[str, str], contrib: pd.DataFrame) -> Block:
    cur = d.currency
    aid = str(r["account_id"])
    facts = [
        ("tier", text(r.get("size_tier"))),
        ("quadrant", text(r.get("quadrant"))),
        ("attractiveness", num(r.get("attractiveness"), 1)),
        ("strength", num(r.get("strength"), 1)),
        ("p_key", num(r.get("p_key"), 2)),
        ("revenue", money(r.get("revenue"), cur)),
        ("net contribution", money(r.get("net_contribution"), cur)),
        ("cm %", pct(r.get("cm_pct"))),
        ("CLV", money(r.get("clv"), cur)),
        ("ROCI", pct(r.get("roci"), 0)),
        ("manager", manager_of(r.get("owner"), names)),
        ("KAM hours", hours(r.get("hours_needed"))),
    ]
    lines = []
    for label, col in (
        ("decision", "decision"),
        ("why", "reasons"),
        ("what would flip it", "flip"),
        ("rules", "rules"),
        ("override", "override"),
        ("strategy", "strategy"),
    ):
        v = r.get(col)
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip():
            lines.append((label, str(v)))
    chart = _contrib_chart(contrib, aid)
    return Block(
        anchor(aid),
        f"{text(r.get('name'))} ({aid})",
        facts,
        lines,
        chart,
        note="" if chart else "No criterion contributions recorded for this account.",
    )


def key_list_section(d: ReportData) -> Section:
    s = Section("key-list", "The key-account list")
    if "is_key" not in d.portfolio.columns:
        s.notes.append("No key-account decisions in this run (the definition stage did not run).")
        return s
    key = _key_sorted(d)
    cur = d.currency
    names = manager_names(d)
    s.numbers["key_ids"] = key["account_id"].astype(str).tolist()
    limited = str((d.selection or {}).get("limited_by") or "")
    if limited:
        s.intro.append(f"What decides the list: {limited}.")
    if key.empty:
        s.notes.append("No account is key in this run.")
        return s
    if "clv" not in key.columns or key["clv"].notna().sum() == 0:
        reason = (d.value_models or {}).get("reason") or "no value model in this run"
        s.notes.append(f"CLV not computed for the key accounts ({reason}); shown as —.")
    rows: list[list[Any]] = []
    for _, r in key.iterrows():
        aid = str(r["account_id"])
        rows.append(
            [
                Link(aid, "#" + anchor(aid)),
                text(r.get("name")),
                text(r.get("size_tier")),
                text(r.get("quadrant")),
                money(r.get("revenue")),
                money(r.get("net_contribution")),
                money(r.get("clv")),
                pct(r.get("roci"), 0),
                manager_of(r.get("owner"), names),
                text(r.get("decision")),
                text(r.get("reasons")),
            ]
        )
    s.intro.append(
        f"{num(len(key))} key accounts, ordered by the selection objective "
        f"({(d.selection or {}).get('objective', 'attractiveness')}). Click an account for its "
        "detail: the criteria behind its score and what would flip the decision."
    )
    table = Table(
        [
            "account",
            "name",
            "tier",
            "quadrant",
            f"revenue ({cur})",
            f"net ({cur})",
            f"CLV ({cur})",
            "ROCI",
            "manager",
            "decision",
            "reasons",
        ],
        rows,
        numeric={4, 5, 6, 7},
        wide=True,
    )
    s.items.append(drop_empty(table, {f"CLV ({cur})", "ROCI"}))
    s.items.append(Heading("Key accounts in detail"))
    c = d.contributions
    if c is None:
        s.notes.append("No criterion contributions in this run (contributions.parquet is absent).")
    by_id = dict(tuple(c.groupby("account_id", sort=False))) if c is not None else {}
    empty = pd.DataFrame(columns=["criterion", "group", "contribution"])
    for _, r in key.iterrows():
        s.items.append(_block(r, d, names, by_id.get(str(r["account_id"]), empty)))
    return s

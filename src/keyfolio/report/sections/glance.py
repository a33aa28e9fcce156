"""Section 2: the portfolio at a glance, per size tier and key / not key, and whether the
classic finding (large accounts earning a fraction of the middle group's margin) holds."""

from __future__ import annotations

from typing import Any

import numpy as np

from keyfolio.fmt import money, num, pct, short_money, text
from keyfolio.policy import TIERS
from keyfolio.ratios import per
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Chart,
    Kpis,
    Para,
    Section,
    Table,
)
from keyfolio.report.sections.common import (
    aggregate,
    key_mask,
)


def _agg_row(label: str, a: dict[str, float], tot: dict[str, float]) -> list[Any]:
    share = per(a["net_contribution"], tot["net_contribution"])
    return [
        label,
        num(a["accounts"]),
        num(a["key"]),
        money(a["revenue"]),
        pct(per(a["revenue"], tot["revenue"])),
        money(a["contribution_margin"]),
        pct(a["cm_pct"]),
        money(a["cost_to_serve"]),
        money(a["net_contribution"]),
        pct(a["net_pct"]),
        pct(share),
    ]


def _finding(
    key: dict[str, float], rest: dict[str, float], tiers: dict[str, dict[str, float]]
) -> str:
    med, large = tiers["medium"]["cm_pct"], tiers["large"]["cm_pct"]
    text = (
        f"Key accounts earn a contribution margin of {pct(key['cm_pct'])} of their revenue, "
        f"the other accounts {pct(rest['cm_pct'])}; by size, large accounts earn "
        f"{pct(large)}, the middle (medium) tier {pct(med)}, small accounts "
        f"{pct(tiers['small']['cm_pct'])}."
    )
    if not np.isfinite(med) or not np.isfinite(large) or med <= 0:
        return text
    ratio = large / med
    if ratio < 0.67:
        verdict = (
            f" The classic finding holds here: the large accounts that a size-based list would "
            f"call key earn {pct(ratio, 0)} of the middle group's margin."
        )
    elif ratio < 1:
        verdict = (
            f" Large accounts earn somewhat less margin than the middle group ({pct(ratio, 0)} of "
            "it), not the classic fraction."
        )
    else:
        verdict = (
            " The classic finding (large 'key' accounts earning a fraction of the middle "
            f"group's margin) does not hold here: large accounts earn {pct(ratio, 0)} of it."
        )
    if np.isfinite(key["cm_pct"]):
        verdict += f" The key accounts of this definition earn {pct(key['cm_pct'] / med, 0)} of it."
    return text + verdict


def glance_section(d: ReportData) -> Section:
    s = Section("glance", "The portfolio at a glance")
    df = d.selectable
    cur = d.currency
    tot = aggregate(df)
    key_m = key_mask(df)
    key, rest = aggregate(df[key_m]), aggregate(df[~key_m])
    tier = df["size_tier"].astype(object).fillna("small") if "size_tier" in df else None
    tiers = {
        t: aggregate(df[(tier == t).to_numpy()] if tier is not None else df.iloc[0:0])
        for t in TIERS
    }
    n_members = (
        int(d.portfolio["in_group"].fillna(False).astype(bool).sum())
        if "in_group" in d.portfolio
        else 0
    )
    s.intro.append(
        f"{num(len(df))} accounts ({num(len(d.portfolio))} rows; {num(n_members)} belong to a "
        f"group and are counted in it). Amounts in {cur} over the whole history "
        f"up to {d.meta.get('as_of') or 'the last order'}."
    )
    s.items.append(
        Kpis(
            [
                ("Revenue", short_money(tot["revenue"], cur), "all accounts"),
                (
                    "Contribution margin",
                    short_money(tot["contribution_margin"], cur),
                    f"{pct(tot['cm_pct'])} of revenue",
                ),
                (
                    "Net contribution",
                    short_money(tot["net_contribution"], cur),
                    f"after {short_money(tot['cost_to_serve'], cur)} cost to serve",
                ),
                (
                    "Key accounts",
                    num(key["accounts"]),
                    f"{pct(per(key['revenue'], tot['revenue']))} of revenue",
                ),
            ]
        )
    )
    cols = [
        "",
        "accounts",
        "key",
        "revenue",
        "% of revenue",
        "contribution margin",
        "cm %",
        "cost to serve",
        "net contribution",
        "net %",
        "% of net",
    ]
    tables = {
        f"Per size tier (amounts in {cur})": [*((t, tiers[t]) for t in TIERS), ("total", tot)],
        f"Key accounts and the rest (amounts in {cur})": [
            ("key accounts", key),
            ("other accounts", rest),
        ],
    }
    for caption, parts in tables.items():
        rows = [_agg_row(label, a, tot) for label, a in parts]
        s.items.append(Table(cols, rows, numeric=set(range(1, 11)), wide=True, caption=caption))
    if "decision" in df.columns:
        counts = df["decision"].astype(str).value_counts()
        s.items.append(
            Para("Decisions: " + ", ".join(f"{k} {num(v)}" for k, v in counts.items()) + ".")
        )
    s.items.append(Para(_finding(key, rest, tiers), emphasis=True))
    _lists_part(s, d)
    labels = ["Key accounts", "Other accounts", "Large tier", "Medium tier", "Small tier"]
    groups = [key, rest, tiers["large"], tiers["medium"], tiers["small"]]
    s.items.append(
        Chart(
            "chart-margins",
            charts.margin_chart(
                labels, [g["cm_pct"] for g in groups], [g["net_pct"] for g in groups]
            ),
            caption="Margin as a share of revenue: key accounts against the rest and by size.",
        )
    )
    if "share_of_wallet" not in df.columns or df["share_of_wallet"].notna().sum() == 0:
        s.notes.append("No wallet data (table `wallet`): share of wallet is not known.")
    s.numbers.update(
        total=tot,
        key=key,
        rest=rest,
        tiers=tiers,
        key_cm_pct=key["cm_pct"],
        rest_cm_pct=rest["cm_pct"],
        medium_cm_pct=tiers["medium"]["cm_pct"],
    )
    return s


def _lists_part(s: Section, d: ReportData) -> None:
    """The definition's list and each list people carry: its accounts against the rest."""
    rec = d.reconciliation
    if rec is None or rec.economics.empty:
        return
    e = rec.economics
    rows = [
        [
            ("the definition" if r.list_name == "definition" else text(r.list_name))
            if r.side == "on the list"
            else "",
            text(r.side), num(r.n_accounts), money(r.revenue), pct(r.cm_pct), pct(r.cts_pct),
            pct(r.net_pct),
        ]
        for r in e.itertuples()
    ]  # fmt: skip
    s.items.append(
        Table(
            ["list", "", "accounts", f"revenue ({d.currency})", "cm %", "cost to serve %",
             "net %"],
            rows, numeric={2, 3, 4, 5, 6},
            caption="Each list's accounts against the rest (% of revenue): the definition's "
            "and the ones people carry today",
        )
    )  # fmt: skip
    weak = rec.weaker_lists()
    s.numbers["weaker_lists"] = weak
    for name in weak:
        on = e[(e["list_name"] == name) & (e["side"] == "on the list")].iloc[0]
        off = e[(e["list_name"] == name) & (e["side"] == "the rest")].iloc[0]
        s.items.append(
            Para(
                f"The list “{name}” earns a contribution margin of {pct(on.cm_pct)} of revenue, "
                f"less than the {pct(off.cm_pct)} of the accounts not on it.",
                emphasis=True,
            )
        )

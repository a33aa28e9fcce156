"""Report sections 1–4: the definition, the portfolio at a glance, where the profit comes
from, and the KAM matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keyfolio.economics import whale_curve
from keyfolio.matrix import STRATEGY
from keyfolio.policy import Criterion, Policy
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.fmt import hours, money, num, pct, short_money
from keyfolio.report.model import Chart, Heading, Kpis, Para, Pre, Section, Table, anchor

MATRIX_MAX_POINTS = 3000
TIERS = ("large", "medium", "small")


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return pd.to_numeric(df[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=df.index, dtype=float)


def _key(df: pd.DataFrame) -> pd.Series:
    if "is_key" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["is_key"].fillna(False).astype(bool)


# -- 1. the definition -------------------------------------------------------------------------
_KIND = {
    "metric": "portfolio figure",
    "attribute": "account attribute",
    "assessment": "people's assessment",
    "feedback": "customer feedback",
}


def describe_source(c: Criterion) -> str:
    return f"{_KIND.get(c.kind, c.kind)} “{c.field}”"


def describe_scale(c: Criterion, policy: Policy) -> str:
    if c.scale == "percentile":
        text = "percentile rank among the accounts"
    elif c.scale == "minmax":
        text = "linear from the lowest (0) to the highest value (100)"
    elif c.scale == "bands":
        text = "bands at " + ", ".join(num(b, 2).rstrip("0").rstrip(".") for b in c.bands or [])
    elif c.scale == "map":
        text = "map: " + ", ".join(f"{k} = {num(v)}" for k, v in (c.map or {}).items())
    else:
        lo, hi = c.range or (policy.assessments.scale if c.kind == "assessment" else (0, 100))
        text = f"as given on {num(lo, 0)}–{num(hi, 0)}, rescaled to 0–100"
    if c.invert:
        text += "; lower is better"
    missing = c.missing or policy.assessments.missing
    return f"{text}; missing: {missing}"


def _criteria_table(group: str, crit: list[Criterion], policy: Policy) -> Table:
    total = sum(c.weight for c in crit) or 1.0
    rows: list[list[Any]] = [
        [
            c.name,
            describe_source(c),
            describe_scale(c, policy),
            num(c.weight, 1),
            pct(c.weight / total, 0),
        ]
        for c in crit
    ]
    return Table(
        ["criterion", "source", "scale", "weight", "share"],
        rows,
        numeric={3, 4},
        caption=f"{group.capitalize()} criteria",
    )


def _size_text(policy: Policy) -> str:
    s = policy.size
    basis = s.basis.replace("_", " ")
    if s.method == "pareto":
        a, b = s.cuts
        return (
            f"Size tiers by {basis}: large = the accounts that make the first {a:.0%} of it, "
            f"medium the next {b - a:.0%}, small the rest."
        )
    lo, hi = s.thresholds or (0.0, 0.0)
    return (
        f"Size tiers by {basis}: medium from {money(lo, policy.currency)}, large from "
        f"{money(hi, policy.currency)}."
    )


def _definition_text(policy: Policy) -> str:
    sel = policy.selection
    obj = "attractiveness score" if sel.objective == "attractiveness" else f"“{sel.objective}”"
    parts = [f"An account is key when the definition chooses it for the highest {obj}"]
    if sel.capacity_hours is not None:
        h = sel.hours
        parts.append(
            f" that fits in {hours(sel.capacity_hours)} of KAM time a year, a key account needing "
            f"{hours(h.get('large'))} (large), {hours(h.get('medium'))} (medium) or "
            f"{hours(h.get('small'))} (small)"
        )
    if sel.max_key_accounts is not None:
        parts.append(f", at most {sel.max_key_accounts:,} key accounts")
    if sel.capacity_by and sel.capacity:
        caps = ", ".join(f"{k} {hours(v)}" for k, v in sel.capacity.items())
        parts.append(f", with capacity by {sel.capacity_by}: {caps}")
    parts.append(
        f". An account already key stays key unless it falls more than {num(sel.keep_margin, 1)} "
        "points below the bar (the score of the last account in)."
    )
    if sel.value == "per_hour":
        parts.append(" Every KAM hour goes to the most attractive account that needs it.")
    return "".join(parts)


def _missing_sources(s: Section, d: ReportData, crit: list[Criterion]) -> None:
    """One line per criterion kind whose input table was not imported."""
    present = {t.table for t in d.tables}
    if not d.tables:
        return
    for kind, table in (("assessment", "assessments"), ("feedback", "feedback")):
        names = [c.name for c in crit if c.kind == kind]
        if names and table not in present:
            s.notes.append(
                f"No `{table}` table: the {len(names)} {kind} criteria ({', '.join(names)}) "
                f"score by the missing rule ({d.policy.assessments.missing})."
            )


def definition_section(d: ReportData) -> Section:
    p = d.policy
    s = Section("definition", "The definition of a key account")
    s.intro.append(_definition_text(p))
    sha = str((d.meta.get("policy") or {}).get("sha256") or p.sha256)
    s.items.append(
        Kpis(
            [
                ("Policy version", sha[:12], "sha256 of keyfolio.toml"),
                ("Policy date", str(d.meta.get("started", ""))[:10], f"run {d.run_id}"),
                ("KAM capacity", hours(p.selection.capacity_hours), "per year"),
                ("Key accounts", num(len(d.key)), f"of {num(len(d.selectable))} accounts"),
            ]
        )
    )
    crit = [("attractiveness", c) for c in p.attractiveness] + [("strength", c) for c in p.strength]
    if crit:
        totals = {g: sum(c.weight for gg, c in crit if gg == g) or 1.0 for g, _ in crit}
        shares = [c.weight / totals[g] for g, c in crit]
        s.items.append(Heading("Criteria and their weights"))
        s.items.append(
            Chart(
                "chart-weights",
                charts.weights_chart([g for g, _ in crit], [c.name for _, c in crit], shares),
                caption="Each criterion's share of its group's weight (weights are "
                "normalised within attractiveness and within strength).",
            )
        )
        for group, cl in (("attractiveness", p.attractiveness), ("strength", p.strength)):
            if cl:
                s.items.append(_criteria_table(group, cl, p))
        _missing_sources(s, d, [c for _, c in crit])
        s.numbers["weights"] = {c.name: w for (_, c), w in zip(crit, shares, strict=True)}
    else:
        s.notes.append("The policy names no criteria: every account scores neutral (50).")
    m = p.matrix
    s.items.append(Heading("The KAM matrix and the size tiers"))
    s.items.append(
        Table(
            ["quadrant", "attractiveness", "strength", "recommended strategy"],
            [
                [
                    "strategic",
                    f"≥ {num(m.attractiveness_cut)}",
                    f"≥ {num(m.strength_cut)}",
                    STRATEGY["strategic"],
                ],
                [
                    "star",
                    f"≥ {num(m.attractiveness_cut)}",
                    f"< {num(m.strength_cut)}",
                    STRATEGY["star"],
                ],
                [
                    "status",
                    f"< {num(m.attractiveness_cut)}",
                    f"≥ {num(m.strength_cut)}",
                    STRATEGY["status"],
                ],
                [
                    "streamline",
                    f"< {num(m.attractiveness_cut)}",
                    f"< {num(m.strength_cut)}",
                    STRATEGY["streamline"],
                ],
            ],
            caption="Quadrants (scores 0–100)",
        )
    )
    per_tier = ", ".join(f"{hours(h)} ({t})" for t, h in p.selection.hours.items())
    s.items.append(Para(f"{_size_text(p)} A key account needs {per_tier} of KAM time a year."))
    rules = [("must (always key, capacity permitting)", r) for r in p.selection.must] + [
        ("never", r) for r in p.selection.never
    ]
    if rules:
        s.items.append(Table(["rule", "condition"], [[k, r] for k, r in rules], caption="Rules"))
    else:
        s.items.append(Para("The policy has no must or never rules."))
    s.items.append(Pre(f"The policy file as used by this run (sha256 {sha[:12]})", p.text))
    return s


# -- 2. the portfolio at a glance --------------------------------------------------------------
def _agg(df: pd.DataFrame) -> dict[str, float]:
    rev, cm = _col(df, "revenue").sum(), _col(df, "contribution_margin").sum()
    cts, net = _col(df, "cost_to_serve").sum(), _col(df, "net_contribution").sum()
    return {
        "accounts": float(len(df)),
        "key": float(_key(df).sum()),
        "revenue": rev,
        "contribution_margin": cm,
        "cost_to_serve": cts,
        "net_contribution": net,
        "cm_pct": cm / rev if rev else np.nan,
        "net_pct": net / rev if rev else np.nan,
    }


def _share(part: float, whole: float) -> float:
    return part / whole if whole else float("nan")


def _agg_row(label: str, a: dict[str, float], tot: dict[str, float]) -> list[Any]:
    share = a["net_contribution"] / tot["net_contribution"] if tot["net_contribution"] else np.nan
    return [
        label,
        num(a["accounts"]),
        num(a["key"]),
        money(a["revenue"]),
        pct(a["revenue"] / tot["revenue"] if tot["revenue"] else np.nan),
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
            f"call key earn {ratio:.0%} of the middle group's margin."
        )
    elif ratio < 1:
        verdict = (
            f" Large accounts earn somewhat less margin than the middle group ({ratio:.0%} of "
            "it), not the classic fraction."
        )
    else:
        verdict = (
            " The classic finding (large 'key' accounts earning a fraction of the middle "
            f"group's margin) does not hold here: large accounts earn {ratio:.0%} of it."
        )
    if np.isfinite(key["cm_pct"]):
        verdict += f" The key accounts of this definition earn {key['cm_pct'] / med:.0%} of it."
    return text + verdict


def glance_section(d: ReportData) -> Section:
    s = Section("glance", "The portfolio at a glance")
    df = d.selectable
    cur = d.currency
    tot = _agg(df)
    key_m = _key(df)
    key, rest = _agg(df[key_m]), _agg(df[~key_m])
    tier = df["size_tier"].astype(object).fillna("small") if "size_tier" in df else None
    tiers = {
        t: _agg(df[(tier == t).to_numpy()] if tier is not None else df.iloc[0:0]) for t in TIERS
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
                    f"{pct(_share(key['revenue'], tot['revenue']))} of revenue",
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
    rows = [_agg_row(t, tiers[t], tot) for t in TIERS] + [_agg_row("total", tot, tot)]
    s.items.append(
        Table(
            cols,
            rows,
            numeric=set(range(1, 11)),
            wide=True,
            caption=f"Per size tier (amounts in {cur})",
        )
    )
    rows = [_agg_row("key accounts", key, tot), _agg_row("other accounts", rest, tot)]
    s.items.append(
        Table(
            cols,
            rows,
            numeric=set(range(1, 11)),
            wide=True,
            caption=f"Key accounts and the rest (amounts in {cur})",
        )
    )
    if "decision" in df.columns:
        counts = df["decision"].astype(str).value_counts()
        s.items.append(
            Para("Decisions: " + ", ".join(f"{k} {num(v)}" for k, v in counts.items()) + ".")
        )
    s.items.append(Para(_finding(key, rest, tiers), emphasis=True))
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


# -- 3. where the profit comes from ------------------------------------------------------------
def _whale(d: ReportData) -> pd.DataFrame:
    w = d.whale
    if w is None or "cum_net_contribution" not in w.columns:
        w = whale_curve(d.portfolio) if "pareto_rank_net" in d.portfolio else None
    if w is None:
        s = d.selectable.sort_values("net_contribution", ascending=False)
        net = _col(s, "net_contribution").fillna(0).to_numpy()
        n = max(len(s), 1)
        w = pd.DataFrame(
            {
                "share_of_accounts": np.arange(1, len(s) + 1) / n,
                "cum_net_contribution": net.cumsum(),
            }
        )
    return w.reset_index(drop=True)


def whale_label(share: float, peak: float, total: float, currency: str) -> str:
    rest = peak - total
    made = f"{peak / total:.0%} of profit" if total > 0 else f"{short_money(peak, currency)}"
    return (
        f"The top {share:.0%} of accounts make {made};<br>"
        f"the rest give {short_money(rest, currency)} back."
    )


def _pareto(s: Section, df: pd.DataFrame) -> None:
    n = len(df)
    if n == 0:
        return
    x = np.arange(1, n + 1) / n
    rev = np.sort(_col(df, "revenue").fillna(0).to_numpy())[::-1]
    net = np.sort(_col(df, "net_contribution").fillna(0).to_numpy())[::-1]
    cum_rev = rev.cumsum() / rev.sum() if rev.sum() else np.zeros(n)
    cum_net = net.cumsum() / net.sum() if net.sum() else np.zeros(n)
    k = max(int(np.ceil(0.2 * n)) - 1, 0)
    s.items.append(Heading("Pareto curves"))
    s.items.append(
        Para(
            f"The top 20% of accounts make {pct(cum_rev[k])} of revenue and {pct(cum_net[k])} of "
            "net contribution (each curve sorts the accounts by its own measure)."
        )
    )
    s.items.append(
        Chart(
            "chart-pareto",
            charts.pareto_chart(x, cum_rev, cum_net),
            caption="Cumulative share of revenue and of net contribution.",
        )
    )
    s.numbers.update(top20_revenue_share=float(cum_rev[k]), top20_net_share=float(cum_net[k]))


def _whale_part(s: Section, d: ReportData) -> None:
    w = _whale(d)
    if w.empty:
        return
    cum = w["cum_net_contribution"].astype(float).to_numpy()
    share = w["share_of_accounts"].astype(float).to_numpy()
    peak_i = int(np.argmax(cum))
    total, peak = float(cum[-1]), float(cum[peak_i])
    label = whale_label(float(share[peak_i]), peak, total, d.currency)
    s.items.append(Heading("The whale curve"))
    s.items.append(Para(label.replace("<br>", " ")))
    s.items.append(
        Chart(
            "chart-whale",
            charts.whale_chart(share, cum, peak_i, total, d.currency, label),
            caption="Cumulative net contribution, accounts sorted from most to least "
            "profitable; the dotted line is the total the company keeps.",
        )
    )
    s.numbers.update(
        whale_peak=peak,
        whale_total=total,
        whale_peak_share=float(share[peak_i]),
        whale_give_back=peak - total,
        whale_peak_accounts=peak_i + 1,
    )


def _cts_by_activity(d: ReportData, losers: pd.DataFrame) -> pd.Series:
    cols = [c for c in losers.columns if c.startswith("cts_") and c not in ("cts_pct",)]
    if cols:
        sums = losers[cols].apply(pd.to_numeric, errors="coerce").sum()
        sums.index = [c.removeprefix("cts_") for c in cols]
    elif d.cost_to_serve is not None and {"activity", "amount"} <= set(d.cost_to_serve.columns):
        c = d.cost_to_serve[d.cost_to_serve["account_id"].astype(str).isin(losers["account_id"])]
        sums = c.groupby("activity")["amount"].sum()
    else:
        return pd.Series(dtype=float)
    sums = sums[sums.abs() > 0]
    return sums.sort_values(ascending=False)


def _losers_part(s: Section, d: ReportData, df: pd.DataFrame) -> None:
    cur = d.currency
    s.items.append(Heading("Accounts that lose money"))
    if _col(df, "cost_to_serve").fillna(0).abs().sum() == 0:
        s.notes.append(
            "No cost-to-serve data (no `costs` table and no freight): net contribution equals "
            "contribution margin."
        )
    losers = df[_col(df, "net_contribution") < 0]
    s.numbers["losers"] = len(losers)
    if losers.empty:
        s.items.append(Para("No account loses money once cost to serve is counted."))
        return
    a = _agg(losers)
    s.items.append(
        Para(
            f"{num(len(losers))} accounts ({pct(len(losers) / len(df))}) lose money once cost to "
            f"serve is counted: {short_money(a['revenue'], cur)} revenue, "
            f"{short_money(a['contribution_margin'], cur)} contribution margin, "
            f"{short_money(a['cost_to_serve'], cur)} cost to serve, "
            f"{short_money(a['net_contribution'], cur)} net."
        )
    )
    by_act = _cts_by_activity(d, losers)
    if len(by_act):
        s.items.append(
            Chart(
                "chart-cts",
                charts.cts_chart(
                    [str(i).replace("_", " ") for i in by_act.index], by_act.to_list(), cur
                ),
                caption="Cost to serve of the accounts that lose money, by activity.",
            )
        )
        s.numbers["loser_cts_by_activity"] = by_act.to_dict()
    worst = losers.sort_values("net_contribution").head(10)
    rows = [
        [
            str(r.account_id),
            str(r.name) if pd.notna(r.name) else "—",
            str(getattr(r, "size_tier", "") or ""),
            money(r.revenue),
            money(r.contribution_margin),
            money(r.cost_to_serve),
            money(r.net_contribution),
        ]
        for r in worst.itertuples()
    ]
    s.items.append(
        Table(
            [
                "account",
                "name",
                "tier",
                f"revenue ({cur})",
                f"contribution margin ({cur})",
                f"cost to serve ({cur})",
                f"net contribution ({cur})",
            ],
            rows,
            numeric={3, 4, 5, 6},
            caption=f"The {min(len(losers), 10)} largest value destroyers",
            note=f"showing 10 of {num(len(losers))}; all accounts are in the XLSX"
            if len(losers) > 10
            else "",
        )
    )


def profit_section(d: ReportData) -> Section:
    s = Section("profit", "Where the profit comes from")
    df = d.selectable
    if df.empty or "net_contribution" not in df.columns:
        s.notes.append("No accounts with figures in this run: nothing to chart.")
        return s
    _pareto(s, df)
    _whale_part(s, d)
    _losers_part(s, d, df)
    return s


# -- 4. the KAM matrix -------------------------------------------------------------------------
def matrix_points(
    df: pd.DataFrame, max_points: int = MATRIX_MAX_POINTS
) -> tuple[pd.DataFrame, int]:
    """All key accounts and a reproducible random sample of the others, at most
    ``max_points`` together; returns the points and the number of others left out."""
    key = _key(df)
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
            "strength": _col(pts, "strength"),
            "attractiveness": _col(pts, "attractiveness"),
            "size": _col(pts, size_col),
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
            a = _agg(sub)
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

"""Section 1: the definition of a key account in plain language: criteria and weights, scales,
the matrix, size tiers, rules and the policy text."""

from __future__ import annotations

from typing import Any

from keyfolio.fmt import hours, money, num, pct
from keyfolio.policy import Criterion, Policy
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Chart,
    Heading,
    Kpis,
    Para,
    Pre,
    Section,
    Table,
)
from keyfolio.scoring import STRATEGY

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
            f"Size tiers by {basis}: large = the accounts that make the first {pct(a, 0)} of it, "
            f"medium the next {pct(b - a, 0)}, small the rest."
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
    parts.append(".")
    if sel.min_attractiveness is not None:
        parts.append(
            f" No account below an attractiveness of {num(sel.min_attractiveness)} is key, "
            "whatever the time left: the capacity is a ceiling, not a target."
        )
    parts.append(
        f" An account already key counts {num(sel.keep_margin, 1)} points more, so a newcomer "
        f"replaces it only by scoring more than {num(sel.keep_margin, 1)} points higher, and the "
        "better of two accounts already key is never dropped for the worse."
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

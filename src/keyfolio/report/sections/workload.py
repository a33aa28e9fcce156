"""Section 8: workload, hours needed per tier against capacity and per manager."""

from __future__ import annotations

from keyfolio.allocation import team_sizing, workload_by_manager, workload_by_tier
from keyfolio.fmt import hours, num, pct, text
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.model import (
    Chart,
    Heading,
    Para,
    Section,
    Table,
)
from keyfolio.report.sections.common import (
    MAX_MANAGERS,
)


def workload_section(d: ReportData) -> Section:
    s = Section("workload", "Workload")
    pf, policy = d.portfolio, d.policy
    if "is_key" not in pf.columns:
        s.notes.append("No key-account decisions in this run: no workload to show.")
        return s
    tiers = workload_by_tier(pf, policy)
    body = tiers[tiers["tier"] != "total"]
    body = body[body["hours_needed"] > 0]
    total = tiers[tiers["tier"] == "total"].iloc[0]
    cap = policy.selection.capacity_hours
    s.numbers.update(hours_needed=float(total["hours_needed"]), capacity_hours=cap)
    s.intro.append(
        f"The {num(total['key_accounts'])} key accounts need {hours(total['hours_needed'])} of KAM "
        "time a year"
        + (
            f", {pct(total['share_of_capacity'], 0)} of the {hours(cap)} available."
            if cap
            else "; the policy sets no capacity ([selection] capacity_hours)."
        )
    )
    s.items.append(
        Chart(
            "chart-workload-tier",
            charts.workload_tier_chart(
                body["tier"].tolist(),
                body["hours_needed"].astype(float).tolist(),
                None if cap is None else float(cap),
            ),
            caption="KAM hours needed by tier against capacity.",
        )
    )
    rows = [
        [
            text(r.tier),
            num(r.key_accounts),
            hours(r.hours_per_account),
            hours(r.hours_needed),
            pct(r.share_of_capacity, 0),
        ]
        for r in tiers.itertuples()
    ]
    s.items.append(
        Table(
            ["tier", "key accounts", "hours per account", "hours needed", "share of capacity"],
            rows,
            numeric={1, 2, 3, 4},
        )
    )
    _managers_part(s, d)
    return s


def _managers_part(s: Section, d: ReportData) -> None:
    s.items.append(Heading("Per manager"))
    man = workload_by_manager(d.portfolio, d.policy, d.team)
    if man is None:
        s.notes.append("Account owners are not known (accounts.owner): no workload per manager.")
        return
    if d.team is None:
        s.notes.append("No team table: managers' capacity is not known, only their hours.")
    shown = man[(man["key_accounts"] > 0) | man["known"]].head(MAX_MANAGERS)
    names = [
        f"{n} ({m})" if isinstance(n, str) and n else str(m)
        for m, n in zip(shown["manager_id"], shown["name"], strict=True)
    ]
    s.items.append(
        Chart(
            "chart-workload-manager",
            charts.workload_manager_chart(
                names, shown["hours_needed"].tolist(), shown["capacity_hours"].tolist()
            ),
            caption="Hours the key accounts need per manager against the manager's capacity.",
        )
    )
    over = man[man["over_capacity"]]
    s.numbers.update(managers=len(man), over_capacity=over["manager_id"].tolist())
    rows = [
        [
            text(m.manager_id),
            text(m.name),
            num(m.key_accounts),
            hours(m.hours_needed),
            hours(m.capacity_hours),
            pct(m.utilisation, 0),
            "over" if m.over_capacity else "",
        ]
        for m in shown.itertuples()
    ]
    s.items.append(
        Table(
            ["manager", "name", "key accounts", "hours needed", "capacity", "utilisation", ""],
            rows,
            numeric={2, 3, 4, 5},
            note=f"showing {MAX_MANAGERS} of {num(len(man))} managers"
            if len(man) > MAX_MANAGERS
            else "",
        )
    )
    ts = team_sizing(d.portfolio, d.policy, d.team)
    if ts.managers_needed is not None:
        s.items.append(
            Para(
                f"{num(len(over))} manager(s) are over capacity. The list needs "
                f"{hours(ts.hours_needed)}: {num(ts.managers_needed)} managers of the team's "
                f"median capacity ({hours(ts.typical_capacity_hours)}); the team has "
                f"{num(ts.managers_in_team)} with {hours(ts.team_capacity_hours)} together."
            )
        )

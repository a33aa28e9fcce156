"""Report sections 5–9: the key-account list with detail blocks, changes since the previous
run, contested accounts and reconciliation, workload, and data notes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from keyfolio.allocation import team_sizing, workload_by_manager, workload_by_tier
from keyfolio.report import charts
from keyfolio.report.data import ReportData
from keyfolio.report.fmt import DASH, hours, money, num, pct, text
from keyfolio.report.model import (
    Block,
    Chart,
    Heading,
    Link,
    Para,
    Section,
    Table,
    anchor,
    drop_empty,
)

MAX_CHANGES = 200
MAX_CONTESTED = 100
MAX_UNLISTED = 50
MAX_FAILING = 100
MAX_WARNINGS = 50
MAX_MANAGERS = 40

OPTIONAL_TABLES = {
    "costs": "cost to serve is only freight (if any)",
    "assessments": "assessment criteria score by the policy's missing rule",
    "wallet": "share of wallet is not known",
    "declared": "no reconciliation with the lists people carry",
    "feedback": "feedback criteria (how the customer sees us) score by the missing rule",
    "team": "managers' capacity is not known",
}


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _managers(d: ReportData) -> dict[str, str]:
    t = d.team
    if t is None or "name" not in t.columns:
        return {}
    return dict(zip(t["manager_id"].astype(str), t["name"].astype(str), strict=True))


def _manager(owner: Any, names: dict[str, str]) -> str:
    if owner is None or (isinstance(owner, float) and math.isnan(owner)) or owner is pd.NA:
        return DASH
    return names.get(str(owner), str(owner))


# -- 5. the key-account list -------------------------------------------------------------------
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
        f"score {_f(r.score):.0f}, weight {_f(r.weight):.2f}"
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
        ("manager", _manager(r.get("owner"), names)),
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
    names = _managers(d)
    s.numbers["key_ids"] = key["account_id"].astype(str).tolist()
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
                _manager(r.get("owner"), names),
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


# -- 6. changes since the previous run ---------------------------------------------------------
def changes_frame(d: ReportData) -> pd.DataFrame | None:
    if d.previous_run_dir is None:
        return None
    from keyfolio.selection.explain import diff_runs

    return diff_runs(d.previous_run_dir, d.run_dir)


def _prev_meta(d: ReportData) -> dict[str, Any]:
    import json

    assert d.previous_run_dir is not None
    p = d.previous_run_dir / "run.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = {}
    return data if isinstance(data, dict) else {}


def changes_section(d: ReportData, diff: pd.DataFrame | None) -> Section:
    s = Section("changes", "Changes since the previous run")
    if diff is None or d.previous_run_dir is None:
        s.notes.append(
            "This is the first run of the workspace: there is no previous run to compare with."
        )
        return s
    prev = d.previous_run_dir.name
    pm = _prev_meta(d)
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
    n_in = int((diff["change"] == "entered").sum())
    n_out = int((diff["change"] == "left").sum())
    s.numbers.update(entered=n_in, left=n_out, previous=prev)
    s.intro.append(
        f"Compared with run {prev}: {n_in} account(s) entered the key list, {n_out} left"
        + (f"; {'; '.join(facts)}." if facts else ".")
    )
    if diff.empty:
        s.items.append(Para("The key list did not change."))
        return s
    obj = diff.attrs.get("objective", "objective")
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
        for r in diff.head(MAX_CHANGES).itertuples()
    ]
    s.items.append(
        Table(
            ["change", "account", "name", "decision", f"{obj} before → now", "quadrant", "why"],
            rows,
            numeric={4},
            wide=True,
            note=f"showing {MAX_CHANGES} of {num(len(diff))}; all changes are in the XLSX"
            if len(diff) > MAX_CHANGES
            else "",
        )
    )
    return s


# -- 7. contested accounts and reconciliation --------------------------------------------------
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
            f"is contested when it is key in between {lo:.0%} and {hi:.0%} of the draws: "
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
        m[i, j] = m[j, i] = _f(r.jaccard)
    return names, m


def _reconciliation(s: Section, d: ReportData) -> None:
    s.items.append(Heading("Reconciliation with the declared lists"))
    rec = d.reconciliation
    if rec is None or rec.get("lists") is None or rec["lists"].empty:
        s.notes.append(
            "No declared key-account lists were imported (table `declared`): nothing to reconcile."
        )
        return
    lists = rec["lists"]
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
    ov = rec.get("overlap")
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
    fail = rec.get("failing")
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
    un = rec.get("unlisted")
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


# -- 8. workload -------------------------------------------------------------------------------
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


# -- 9. data notes -----------------------------------------------------------------------------
def _size(b: Any) -> str:
    v = _f(b)
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
        spent = ", ".join(f"{k} {_f(v):.1f} s" for k, v in timings.items())
        s.items.append(Para(f"Run timings: {spent}."))
    return s

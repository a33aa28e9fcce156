"""Rich tables of what the library computed: the run summary and the definition, an
explanation, a diff, a CLV check. Numbers are written by :mod:`keyfolio.fmt`; cells that
carry data are :class:`rich.text.Text`, never markup."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich import box
from rich.table import Table
from rich.text import Text

from keyfolio import fmt
from keyfolio.analysis.diff import Diff
from keyfolio.analysis.explain import Explanation
from keyfolio.analysis.summary import Summary
from keyfolio.cli.console import console, esc, plain, say, show
from keyfolio.selection import Definition, Reconciliation
from keyfolio.value.clv import BacktestResult

MAX_ROWS = 25


def _table(title: str, style: str = "bold") -> Table:
    return Table(title=Text(title), title_justify="left", title_style=style, box=box.SIMPLE_HEAD)


def _cells(*values: Any) -> list[Text]:
    return [v if isinstance(v, Text) else Text(str(v)) for v in values]


# -- keyfolio run ---------------------------------------------------------------------------
def summary(s: Summary) -> None:
    """The portfolio by size tier, the share losing money, destroyers and diamonds."""
    t = _table(f"Portfolio by size tier ({s.currency})")
    for col in ("tier", "accounts", "revenue", "margin", "cm %", "cost to serve", "net", "net %"):
        t.add_column(col, justify="left" if col == "tier" else "right")
    for r in s.tiers.itertuples():
        t.add_row(*_cells(
            r.size_tier, fmt.num(r.accounts), fmt.compact(r.revenue),
            fmt.compact(r.contribution_margin), fmt.pct(r.cm_pct), fmt.compact(r.cost_to_serve),
            fmt.compact(r.net_contribution), fmt.pct(r.net_pct),
        ))  # fmt: skip
    show(t)
    say(
        f"[bold]{s.losing_count:,}[/] of {s.accounts_with_orders:,} accounts with "
        f"orders ([bold]{fmt.pct(s.losing_share)}[/]) lose money once cost-to-serve is counted."
    )
    _accounts(s.destroyers, s.currency,
              "Biggest value destroyers (most negative net contribution)", "red")  # fmt: skip
    _accounts(
        s.diamonds, s.currency,
        "Diamonds in the rough (modest revenue, high net contribution, growing)", "green",
    )  # fmt: skip


def _accounts(df: pd.DataFrame, currency: str, title: str, style: str) -> None:
    if df.empty:
        plain(f"{title}: none.")
        return
    narrow = console.width < 100
    t = _table(f"{title} ({currency})", f"bold {style}")
    heads = ["account", "name", "tier", "revenue", "cm %", "cost to serve", "net", "growth"]
    rows = [
        [str(r.account_id), fmt.text(r.name), fmt.text(r.size_tier), fmt.compact(r.revenue),
         fmt.pct(r.cm_pct), fmt.compact(r.cost_to_serve), fmt.compact(r.net_contribution),
         fmt.pct(r.revenue_growth)]
        for r in df.itertuples()
    ]  # fmt: skip
    if narrow:  # leave out the margin %
        rows = [r[:4] + r[5:] for r in rows]
        heads = heads[:4] + heads[5:]
    for i, col in enumerate(heads):
        if col == "name":
            t.add_column(col, no_wrap=True, overflow="ellipsis", max_width=20 if narrow else 30)
        else:
            width = max(len(col) if " " not in col else 0, *(len(r[i]) for r in rows))
            t.add_column(col, justify="left" if i < 3 else "right", min_width=width)
    for row in rows:
        t.add_row(*_cells(*row))
    show(t)


def definition(defn: Definition) -> None:
    """The key-account list, capacity and bar, contested accounts, reconciliation."""
    pf = defn.portfolio
    sel = defn.selection
    key = pf[pf["is_key"].astype(bool)].sort_values(
        ["decision", "attractiveness"], ascending=[True, False]
    )
    narrow = console.width < 110
    t = _table(f"Key accounts: {len(key):,} of {int(sel['n_candidates']):,} candidates",
               "bold cyan")  # fmt: skip
    cols = ["account", "name", "tier", "quadrant", "attr.", "str.", "net", "decision", "p_key"]
    if narrow:  # leave out what the quadrant already implies
        cols = ["account", "name", "quadrant", "attr.", "net", "decision"]
    for col in cols:
        if col == "name":
            t.add_column(col, no_wrap=True, overflow="ellipsis", max_width=16 if narrow else 28)
        else:
            right = col in ("attr.", "str.", "net", "p_key")
            t.add_column(col, justify="right" if right else "left", no_wrap=True)
    for r in key.head(MAX_ROWS).itertuples():
        cells = {
            "account": str(r.account_id), "name": fmt.text(r.name),
            "tier": fmt.text(r.size_tier), "quadrant": fmt.text(r.quadrant),
            "attr.": fmt.score(r.attractiveness, 0), "str.": fmt.score(r.strength, 0),
            "net": fmt.compact(r.net_contribution), "decision": fmt.text(r.decision),
            "p_key": fmt.score(r.p_key, 2),
        }  # fmt: skip
        t.add_row(*_cells(*[cells[c] for c in cols]))
    show(t)
    if len(key) > MAX_ROWS:
        plain(f"... and {len(key) - MAX_ROWS:,} more (see portfolio.parquet or export).")
    _capacity(sel)
    key_vs_rest(defn.reconciliation)
    _contested(defn.contested)
    _reconciliation(defn.reconciliation)


def key_vs_rest(rec: Reconciliation) -> None:
    """Each list's accounts against the rest: revenue, margin, cost to serve, net."""
    e = rec.economics
    if e.empty:
        return
    t = _table("Key accounts against the rest, per list (% of revenue)", "bold cyan")
    for col in ("list", "", "accounts", "revenue", "cm %", "cts %", "net %"):
        t.add_column(col, justify="left" if col in ("list", "") else "right", no_wrap=True)
    for r in e.itertuples():
        label = "the definition" if r.list_name == "definition" else str(r.list_name)
        t.add_row(*_cells(
            label if r.side == "on the list" else "", r.side, fmt.num(r.n_accounts),
            fmt.compact(r.revenue), fmt.pct(r.cm_pct), fmt.pct(r.cts_pct), fmt.pct(r.net_pct),
        ))  # fmt: skip
    show(t)
    for name in rec.weaker_lists():
        plain(f"The list '{name}' earns a lower contribution margin than the accounts not on it.")


def _capacity(sel: dict[str, Any]) -> None:
    for name, c in sel.get("capacity", {}).items():
        used, avail = c.get("used"), c.get("available")
        if avail is None:
            continue
        share = used / avail if avail else float("nan")
        flag = " [bold](binding)[/]" if c.get("binding") else ""
        say(
            f"Capacity {esc(name)}: {fmt.num(used)} of {fmt.num(avail)} KAM hours "
            f"({fmt.pct(share)}){flag}"
        )
    if str(sel.get("limited_by", "")).startswith("capacity not binding"):
        plain(f"{str(sel['limited_by'])[0].upper()}{str(sel['limited_by'])[1:]}.")
    gap = sel.get("gap")
    gap_text = f", optimality gap {gap:.3%}" if isinstance(gap, float) else ""
    plain(f"Objective {sel['objective']}: solved by {sel['solver']} ({sel['status']}{gap_text}).")
    li, fo = sel.get("last_in"), sel.get("first_out")
    if li and fo:
        plain(f"Last in: {_who(li)}; first out: {_who(fo)}{_did_not_fit(li, fo)}.")
    decisions = ", ".join(f"{k} {v:,}" for k, v in sorted(sel.get("decisions", {}).items()))
    plain(f"Decisions: {decisions}.")


def _who(a: dict[str, Any]) -> str:
    """An account of the bar: id, score on the adjusted scale, hours."""
    extra = " as a key account" if a.get("was_key") else ""
    return f"{a['account_id']} ({fmt.score(a['score'])}{extra}, {fmt.hours(a.get('hours'))})"


def _did_not_fit(li: dict[str, Any], fo: dict[str, Any]) -> str:
    if float(fo["score"]) <= float(li["score"]):
        return ""
    return f", above the bar but its {fmt.hours(fo.get('hours'))} did not fit what was left"


def _contested(contested: pd.DataFrame) -> None:
    if contested.empty:
        plain("Contested accounts (robustness): none.")
        return
    t = _table(
        f"Contested accounts: {len(contested):,} selected in 20-80% of the robustness draws",
        "bold yellow",
    )
    for col in ("account", "name", "p_key", "key now", "quadrant"):
        t.add_column(col, justify="right" if col == "p_key" else "left")
    for r in contested.head(15).itertuples():
        t.add_row(*_cells(r.account_id, fmt.text(r.name)[:28], fmt.score(r.p_key, 2),
                          "yes" if r.is_key else "no", fmt.text(r.quadrant)))  # fmt: skip
    show(t)


def _reconciliation(rec: Reconciliation) -> None:
    if not rec.has_lists:
        plain("Reconciliation: no declared lists imported.")
        return
    t = _table("Declared key-account lists vs the definition", "bold magenta")
    for col in ("list", "accounts", "selected", "share"):
        t.add_column(col, justify="left" if col == "list" else "right")
    for r in rec.lists.itertuples():
        t.add_row(*_cells(r.list_name, fmt.num(r.n_declared), fmt.num(r.n_key),
                          fmt.pct(r.share_key)))  # fmt: skip
    show(t)
    if not rec.overlap.empty:
        pairs = ", ".join(
            f"{r.list_a}/{r.list_b} {fmt.score(r.jaccard, 2)}"
            for r in rec.overlap.head(8).itertuples()
        )
        plain(f"Overlap (Jaccard): {pairs}.")
    if not rec.failing.empty:
        t = _table(
            f"Declared key by several lists but not key by the definition: {len(rec.failing):,}",
            "bold red",
        )
        for col in ("account", "name", "lists", "why not"):
            t.add_column(col, overflow="fold" if col == "why not" else "ellipsis")
        for r in rec.failing.head(10).itertuples():
            t.add_row(*_cells(r.account_id, fmt.text(r.name)[:24], fmt.text(r.lists),
                              fmt.text(r.reasons)))  # fmt: skip
        show(t)
    if not rec.unlisted.empty:
        plain(f"Key accounts that no list names: {len(rec.unlisted):,}.")


# -- keyfolio explain / diff ----------------------------------------------------------------
def explanation(e: Explanation) -> None:
    a = e.account
    key = "KEY ACCOUNT" if a.get("is_key") else "not key"
    say(
        f"[bold]{esc(e.account_id)}[/] {esc(a.get('name') or '')} — [bold]{key}[/] "
        f"({esc(a.get('decision'))}); quadrant [bold]{esc(a.get('quadrant'))}[/]"
    )
    plain(f"  strategy: {a.get('strategy')}")
    for label, col in (("reason", "reasons"), ("to flip", "flip"), ("rules", "rules"),
                       ("override", "override")):  # fmt: skip
        if a.get(col):
            plain(f"  {label}: {a[col]}")
    p = a.get("p_key")
    if p is not None:
        plain(
            f"  p_key {fmt.score(p, 2)}" + (" (contested)" if a.get("contested") else "")
            + f"; growth band {a.get('growth_band')}, strategic band {a.get('strategic_band')}"
        )  # fmt: skip
    c = e.contributions
    for group in ("attractiveness", "strength"):
        rows = c[c["group"] == group] if len(c) else pd.DataFrame()
        t = Table(title=Text(f"{group} {fmt.score(a.get(group))}"), title_justify="left")
        for col in ("criterion", "source", "raw", "score", "weight", "contribution"):
            t.add_column(col, justify="left" if col in ("criterion", "source", "raw") else "right")
        for _, r in rows.iterrows() if len(rows) else []:
            raw = r["raw_text"] or f"(missing: {r['missing']})"
            if r.get("n_assessors", 0) and r["n_assessors"] > 1:
                raw += f" (n={r['n_assessors']}, sd={fmt.score(r['sd'], 2)})"
            nums = (fmt.score(r["score"]), fmt.score(r["weight"], 3),
                    fmt.score(r["contribution"], 2))  # fmt: skip
            t.add_row(*_cells(r["criterion"], r["source"], raw, *nums))
        show(t)
    s = e.selection
    if s.get("bar") is not None:
        li, fo = s.get("last_in") or {}, s.get("first_out") or {}
        text = f"  bar ({s.get('objective')}): {fmt.score(s['bar'])} = last in {_who(li)}"
        if fo:
            text += f"; first out {_who(fo)}{_did_not_fit(li, fo)}"
        plain(text + f"; keep_margin {s.get('keep_margin')} for key accounts")
    if s.get("limited_by"):
        plain(f"  what decides the list: {s['limited_by']}")


def diff(d: Diff) -> None:
    title = f"{d.run_a} → {d.run_b}"
    if d.changes.empty:
        plain(f"{title}: the key list did not change")
        return
    t = Table(title=Text(title), title_justify="left")
    for col in ("change", "account_id", "name", "decision", f"{d.objective} A→B", "quadrant",
                "why"):  # fmt: skip
        t.add_column(col)
    for _, r in d.changes.iterrows():
        style = "green" if r["change"] == "entered" else "red"
        quadrant = r["quadrant_b"] if isinstance(r["quadrant_b"], str) else r["quadrant_a"]
        t.add_row(
            Text(str(r["change"]), style=style),
            *_cells(r["account_id"], fmt.text(r["name"]), fmt.text(r["decision"]),
                    f"{fmt.score(r['objective_a'])} → {fmt.score(r['objective_b'])}",
                    fmt.text(quadrant), fmt.text(r["why"])),
        )  # fmt: skip
    show(t)


# -- keyfolio clv check ---------------------------------------------------------------------
def clv_check(r: BacktestResult, holdout_months: int) -> None:
    plain(
        f"Fitted on orders up to {r.cutoff}; holdout {r.cutoff} .. {r.holdout_end} "
        f"({holdout_months} months), {r.n_accounts:,} accounts predicted "
        f"({r.n_new_accounts:,} new accounts in the holdout not predicted)."
    )
    t = _table("Holdout: predicted vs actual", "")
    for col in ("", "predicted", "actual", "error", "MAE per account"):
        t.add_column(col, justify="left" if not col else "right")
    for label, p, a, mae in (
        ("order days", r.predicted_orders, r.actual_orders, r.mae_orders),
        ("margin", r.predicted_margin, r.actual_margin, r.mae_margin),
    ):
        err = (p - a) / a if a else float("nan")
        t.add_row(*_cells(label, fmt.num(p), fmt.num(a), fmt.signed_pct(err), fmt.num(mae, 2)))
    show(t)
    cal = _table("Calibration by predicted decile", "")
    for col in ("decile", "accounts", "pred. orders", "actual orders", "pred. margin", "actual"):
        cal.add_column(col, justify="right")
    for row in r.calibration.itertuples():
        cal.add_row(*_cells(
            row.decile, fmt.num(row.accounts), fmt.num(row.predicted_orders, 2),
            fmt.num(row.actual_orders, 2), fmt.num(row.predicted_margin),
            fmt.num(row.actual_margin),
        ))  # fmt: skip
    show(cal)


# -- keyfolio schema ------------------------------------------------------------------------
def schema(rows: list[dict[str, Any]], table_docs: dict[str, str]) -> None:
    for name in dict.fromkeys(str(r["table"]) for r in rows):
        t = _table(f"{name}: {table_docs.get(name, '')}")
        t.add_column("column", no_wrap=True)
        t.add_column("kind", no_wrap=True)
        t.add_column("meaning", overflow="fold")
        for r in rows:
            if r["table"] == name:
                col = f"{r['column']} *" if r["required"] else str(r["column"])
                t.add_row(*_cells(col, r["kind"], r["meaning"]))
        show(t)
    plain("* required")

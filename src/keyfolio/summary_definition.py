"""What ``keyfolio run`` prints about the key-account definition (rich tables).

The key-account list with quadrants and decisions, the capacity used and the binding
constraints, the last account in and the first out, the contested accounts (robustness)
and the reconciliation with the lists people carry.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from keyfolio.policy import Policy
from keyfolio.summary import money, pct

MAX_ROWS = 25


def _table(title: str, style: str = "bold") -> Table:
    return Table(title=title, title_justify="left", title_style=style, box=box.SIMPLE_HEAD)


def render_definition(defn: Any, policy: Policy, console: Console) -> None:
    pf: pd.DataFrame = defn.portfolio
    sel: dict[str, Any] = defn.selection
    key = pf[pf["is_key"].astype(bool)].sort_values(
        ["decision", "attractiveness"], ascending=[True, False]
    )
    narrow = console.width < 110
    t = _table(
        f"Key accounts: {len(key):,} of {int(sel['n_candidates']):,} candidates", "bold cyan"
    )
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
            "account": str(r.account_id), "name": str(r.name), "tier": str(r.size_tier),
            "quadrant": str(r.quadrant), "attr.": f"{r.attractiveness:.0f}",
            "str.": f"{r.strength:.0f}", "net": money(r.net_contribution),
            "decision": str(r.decision), "p_key": f"{r.p_key:.2f}",
        }  # fmt: skip
        t.add_row(*[cells[c] for c in cols])
    console.print(t)
    if len(key) > MAX_ROWS:
        console.print(f"... and {len(key) - MAX_ROWS:,} more (see portfolio.parquet or export).")
    _capacity(sel, console)
    _contested(defn.contested, console)
    _reconciliation(defn.reconciliation, console)


def _capacity(sel: dict[str, Any], console: Console) -> None:
    for name, c in sel.get("capacity", {}).items():
        used, avail = c.get("used"), c.get("available")
        if avail is None:
            continue
        share = used / avail if avail else float("nan")
        flag = " [bold](binding)[/]" if c.get("binding") else ""
        console.print(
            f"Capacity {name}: {used:,.0f} of {avail:,.0f} KAM hours ({pct(share)}){flag}"
        )
    gap = sel.get("gap")
    gap_text = f", optimality gap {gap:.3%}" if isinstance(gap, float) else ""
    console.print(
        f"Objective {sel['objective']}: solved by {sel['solver']} ({sel['status']}{gap_text})."
    )
    li, fo, margin = sel.get("last_in"), sel.get("first_out"), sel.get("margin")
    if li and fo:
        console.print(
            f"Last in: {li['account_id']} ({li['score']:.1f}); first out: {fo['account_id']} "
            f"({fo['score']:.1f}); margin {margin:.1f}."
        )
    decisions = ", ".join(f"{k} {v:,}" for k, v in sorted(sel.get("decisions", {}).items()))
    console.print(f"Decisions: {decisions}.")


def _contested(contested: pd.DataFrame, console: Console) -> None:
    if contested.empty:
        console.print("Contested accounts (robustness): none.")
        return
    t = _table(
        f"Contested accounts: {len(contested):,} selected in 20-80% of the robustness draws",
        "bold yellow",
    )
    for col in ("account", "name", "p_key", "key now", "quadrant"):
        t.add_column(col, justify="right" if col == "p_key" else "left")
    for r in contested.head(15).itertuples():
        t.add_row(str(r.account_id), str(r.name)[:28], f"{r.p_key:.2f}",
                  "yes" if r.is_key else "no", str(r.quadrant))  # fmt: skip
    console.print(t)


def _reconciliation(rec: dict[str, pd.DataFrame], console: Console) -> None:
    lists = rec.get("lists")
    if lists is None or lists.empty:
        console.print("Reconciliation: no declared lists imported.")
        return
    t = _table("Declared key-account lists vs the definition", "bold magenta")
    for col in ("list", "accounts", "selected", "share"):
        t.add_column(col, justify="left" if col == "list" else "right")
    for r in lists.itertuples():
        t.add_row(str(r.list_name), f"{r.n_declared:,}", f"{r.n_key:,}", pct(r.share_key))
    console.print(t)
    overlap = rec.get("overlap")
    if overlap is not None and not overlap.empty:
        pairs = ", ".join(
            f"{r.list_a}/{r.list_b} {r.jaccard:.2f}" for r in overlap.head(8).itertuples()
        )
        console.print(f"Overlap (Jaccard): {pairs}.")
    failing = rec.get("failing")
    if failing is not None and not failing.empty:
        t = _table(
            f"Declared key by several lists but not key by the definition: {len(failing):,}",
            "bold red",
        )
        for col in ("account", "name", "lists", "why not"):
            t.add_column(col, overflow="fold" if col == "why not" else "ellipsis")
        for r in failing.head(10).itertuples():
            t.add_row(str(r.account_id), str(r.name)[:24], str(r.lists), str(r.reasons))
        console.print(t)
    unlisted = rec.get("unlisted")
    if unlisted is not None and not unlisted.empty:
        console.print(f"Key accounts that no list names: {len(unlisted):,}.")

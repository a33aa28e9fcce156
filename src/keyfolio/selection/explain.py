"""Explain one account's decision, and compare two runs — from the run folder files.

:func:`explain_account` reads ``portfolio.parquet``, ``contributions.parquet`` and
``selection.json`` (see :data:`keyfolio.selection.define.FILES`); :func:`diff_runs` reads
two ``portfolio.parquet``. Each has a rich renderer; ``to_dict`` / DataFrames give JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from keyfolio.errors import KeyfolioError, WorkspaceError
from keyfolio.selection.define import FILES

_SHOW = (
    "name", "quadrant", "strategy", "growth_band", "strategic_band", "size_tier",
    "hours_needed", "attractiveness", "strength", "is_key", "decision", "was_key", "p_key",
    "contested", "assessors_disagree", "not_assessed", "rules", "override", "reasons", "flip",
)  # fmt: skip


@dataclass
class Explanation:
    account_id: str
    account: dict[str, Any]  # the portfolio row (selected columns)
    contributions: pd.DataFrame  # this account's rows of contributions.parquet
    selection: dict[str, Any]  # the run's selection.json

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "account_id": self.account_id,
                "account": self.account,
                "contributions": self.contributions.to_dict(orient="records"),
                "selection": {k: self.selection.get(k) for k in _SEL_KEYS},
            }
        )


_SEL_KEYS = ("objective", "bar", "keep_margin", "last_in", "first_out", "margin", "capacity")


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, str):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    return x


def _read_portfolio(run_dir: Path, columns: list[str] | None = None) -> pd.DataFrame:
    path = run_dir / FILES["portfolio"]
    if not path.is_file():
        raise WorkspaceError(f"{run_dir}: no {FILES['portfolio']} in this run")
    names = set(pq.read_schema(path).names)
    cols = None if columns is None else [c for c in columns if c in names]
    return pq.read_table(path, columns=cols).to_pandas()


def explain_account(run_dir: Path, account_id: str) -> Explanation:
    """Why ``account_id`` is or is not key in the run stored in ``run_dir``."""
    pf = _read_portfolio(run_dir)
    pf["account_id"] = pf["account_id"].astype(str)
    row = pf[pf["account_id"] == str(account_id)]
    if row.empty:
        close = [a for a in pf["account_id"] if str(account_id).lower() in a.lower()][:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise KeyfolioError(f"account {account_id!r} is not in run {run_dir.name}{hint}")
    rec = row.iloc[0]
    objective = "attractiveness"
    sel: dict[str, Any] = {}
    sel_path = run_dir / FILES["selection"]
    if sel_path.is_file():
        sel = json.loads(sel_path.read_text(encoding="utf-8"))
        objective = sel.get("objective", objective)
    cols = [c for c in (*_SHOW, objective) if c in rec.index]
    account = {c: rec[c] for c in dict.fromkeys(cols)}
    contrib = pd.DataFrame()
    c_path = run_dir / FILES["contributions"]
    if c_path.is_file():
        t = pq.read_table(c_path, filters=[("account_id", "=", str(account_id))])
        contrib = t.to_pandas().reset_index(drop=True)
    return Explanation(str(account_id), _clean(account), contrib, sel)


def render_explanation(e: Explanation, console: Console) -> None:
    a = e.account
    key = "KEY ACCOUNT" if a.get("is_key") else "not key"
    console.print(
        f"[bold]{e.account_id}[/] {a.get('name') or ''} — [bold]{key}[/] "
        f"({a.get('decision')}); quadrant [bold]{a.get('quadrant')}[/]"
    )
    console.print(f"  strategy: {a.get('strategy')}")
    for label, col in (("reason", "reasons"), ("to flip", "flip"), ("rules", "rules"),
                       ("override", "override")):  # fmt: skip
        if a.get(col):
            console.print(f"  {label}: {a[col]}")
    p = a.get("p_key")
    if p is not None:
        console.print(
            f"  p_key {p:.2f}" + (" (contested)" if a.get("contested") else "")
            + f"; growth band {a.get('growth_band')}, strategic band {a.get('strategic_band')}"
        )  # fmt: skip
    for group in ("attractiveness", "strength"):
        rows = (
            e.contributions[e.contributions["group"] == group]
            if len(e.contributions)
            else pd.DataFrame()
        )
        t = Table(title=f"{group} {a.get(group, float('nan')):.1f}", title_justify="left")
        for col in ("criterion", "source", "raw", "score", "weight", "contribution"):
            t.add_column(col, justify="left" if col in ("criterion", "source", "raw") else "right")
        for _, r in rows.iterrows() if len(rows) else []:
            raw = r["raw_text"] or f"(missing: {r['missing']})"
            if r.get("n_assessors", 0) and r["n_assessors"] > 1:
                raw += f" (n={r['n_assessors']}, sd={r['sd']:.2f})"
            t.add_row(r["criterion"], r["source"], raw, f"{r['score']:.1f}",
                      f"{r['weight']:.3f}", f"{r['contribution']:.2f}")  # fmt: skip
        console.print(t)
    s = e.selection
    if s.get("bar") is not None:
        li, fo = s.get("last_in") or {}, s.get("first_out") or {}
        console.print(
            f"  bar ({s.get('objective')}): {s['bar']:.1f} = last in {li.get('account_id')}; "
            f"first out {fo.get('account_id')} at {fo.get('score', float('nan')):.1f}; "
            f"keep_margin {s.get('keep_margin')}"
        )


_DIFF_COLS = ["account_id", "name", "is_key", "decision", "reasons", "quadrant", "p_key"]


def diff_runs(run_a_dir: Path, run_b_dir: Path) -> pd.DataFrame:
    """Who entered and who left the key list between run A (older) and run B, and why.

    Columns: account_id, name, change ('entered' / 'left'), decision (in B), objective_a,
    objective_b, quadrant_a, quadrant_b, why (B's reason).
    """
    objective = "attractiveness"
    sel_path = run_b_dir / FILES["selection"]
    if sel_path.is_file():
        objective = json.loads(sel_path.read_text(encoding="utf-8")).get("objective", objective)
    a = _read_portfolio(run_a_dir, [*_DIFF_COLS, objective])
    b = _read_portfolio(run_b_dir, [*_DIFF_COLS, objective])
    for df in (a, b):
        df["account_id"] = df["account_id"].astype(str)
        if objective not in df.columns:
            df[objective] = float("nan")
    m = a.merge(b, on="account_id", how="outer", suffixes=("_a", "_b"))
    key_a = m["is_key_a"].fillna(False).astype(bool)
    key_b = m["is_key_b"].fillna(False).astype(bool)
    m = m[key_a != key_b].copy()
    entered = m["is_key_b"].fillna(False).astype(bool)
    out = pd.DataFrame(
        {
            "account_id": m["account_id"],
            "name": m["name_b"].fillna(m["name_a"]),
            "change": entered.map({True: "entered", False: "left"}),
            "decision": m["decision_b"].fillna("not in run B"),
            "objective_a": m[f"{objective}_a"].astype(float),
            "objective_b": m[f"{objective}_b"].astype(float),
            "quadrant_a": m["quadrant_a"],
            "quadrant_b": m["quadrant_b"],
            "why": m["reasons_b"].fillna("account not in run B"),
        }
    )
    out = out.sort_values(["change", "objective_b"], ascending=[True, False], na_position="last")
    out.attrs["objective"] = objective
    return out.reset_index(drop=True)


def render_diff(d: pd.DataFrame, console: Console, *, title: str = "") -> None:
    if d.empty:
        console.print(f"{title}: the key list did not change" if title else "no change")
        return
    obj = d.attrs.get("objective", "objective")
    t = Table(title=title or None, title_justify="left")
    for col in ("change", "account_id", "name", "decision", f"{obj} A→B", "quadrant", "why"):
        t.add_column(col)
    for _, r in d.iterrows():
        style = "green" if r["change"] == "entered" else "red"
        t.add_row(
            f"[{style}]{r['change']}[/]", str(r["account_id"]), str(r["name"] or ""),
            str(r["decision"]), f"{_num(r['objective_a'])} → {_num(r['objective_b'])}",
            str(r["quadrant_b"] or r["quadrant_a"] or ""), str(r["why"]),
        )  # fmt: skip
    console.print(t)


def _num(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"

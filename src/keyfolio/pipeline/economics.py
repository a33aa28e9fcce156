"""The economics stage: per-account facts -> account economics (one row per account).

Works on small tables (one row per account) in pandas/numpy. Definitions:

* ``contribution_margin`` = revenue - variable cost (cogs); ``cm_pct`` = margin / revenue
  (NaN when revenue <= 0).
* ``cost_to_serve`` = sum of the account's cost-to-serve activities (``cts_<activity>``).
* ``net_contribution`` = contribution_margin - cost_to_serve.
* ``revenue_growth`` = revenue in the last growth window (``[growth] window_months``) /
  revenue in the window before - 1, defined only where the account's history covers the
  window before (it was a customer, per its first order or ``customer_since``, and the data
  reach back that far); otherwise NaN and ``is_new``. An account with no revenue in either
  window is -100%; one with none before and some now (revived) has no growth figure.
* ``revenue_cagr`` = compound annual growth over consecutive 12-month windows ending at
  the data's last order date, from the oldest window the account's history covers that has
  revenue to the latest (-100% when the latest has none).
* ``revenue_ttm`` / ``margin_ttm``: the trailing twelve months, whatever the growth window.
* ``share_of_wallet`` = trailing-12-month revenue / the customer's total spend in our
  categories (``wallet``; latest period per account).
* ``cts_since``: the first date the account had cost to serve (dated costs, freight).
* ``order_regularity``: share of the trailing twelve months with an order;
  ``category_breadth``: share of our product categories the account buys (a group: its
  widest member). Both are strength signals every ERP export supports.
* Groups: accounts whose ``parent_id`` is set roll up into their ultimate parent. The
  parent's row then carries the group's figures (``is_group``); member rows keep their own
  figures with ``group_id`` set and ``selectable`` False, so that totals, Pareto curves and
  selection count every sale once.
* Pareto and whale curve over selectable rows: ``pareto_rank_revenue``,
  ``cum_share_revenue``, ``pareto_rank_net``, ``cum_share_net`` and ``whale_cum_net`` (the
  cumulative net contribution, accounts sorted from most to least profitable).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.ids import isin
from keyfolio.pipeline.facts import Facts, add_months
from keyfolio.ratios import per

SUM_COLUMNS = [
    "revenue", "cogs", "contribution_margin", "cost_to_serve", "lines", "orders",
    "order_days", "returns", "return_lines", "revenue_ttm", "margin_ttm", "revenue_window",
    "revenue_prev", "margin_prev", "wallet_total_spend",
]  # fmt: skip


@dataclass
class Economics:
    portfolio: pd.DataFrame
    cost_by_activity: pd.DataFrame  # account_id, activity, amount (members only, not groups)
    warnings: list[str] = field(default_factory=list)


def _accounts_frame(accounts: pa.Table | None, facts: Facts) -> tuple[pd.DataFrame, list[str]]:
    warnings: list[str] = []
    if accounts is None:
        ids = facts.accounts["account_id"].to_pylist() if facts.accounts.num_rows else []
        base = pd.DataFrame({"account_id": pd.Series(sorted(set(ids)), dtype="string")})
        warnings.append("no accounts table: accounts derived from the order lines")
    else:
        base = accounts.to_pandas(types_mapper=_types_mapper)
        base["account_id"] = base["account_id"].astype("string")
        if facts.accounts.num_rows:
            known = set(base["account_id"].tolist())
            extra = sorted(set(facts.accounts["account_id"].to_pylist()) - known)
            if extra:
                warnings.append(
                    f"{len(extra)} account(s) with orders are not in the accounts table "
                    f"(e.g. {extra[0]!r}); added with no attributes"
                )
                add = pd.DataFrame({"account_id": pd.Series(extra, dtype="string")})
                base = pd.concat([base, add], ignore_index=True)
    for col in ("name", "parent_id", "country", "region", "industry", "owner", "status"):
        if col not in base.columns:
            base[col] = pd.Series(pd.NA, index=base.index, dtype="string")
    if "market_leader" not in base.columns:
        base["market_leader"] = pd.Series(pd.NA, index=base.index, dtype="boolean")
    base["name"] = base["name"].fillna(base["account_id"])
    return base, warnings


def _types_mapper(t: pa.DataType) -> object | None:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return None


def _merge_facts(base: pd.DataFrame, facts: Facts) -> pd.DataFrame:
    if facts.accounts.num_rows:
        f = facts.accounts.to_pandas()
        f["account_id"] = f["account_id"].astype("string")
        f = f.rename(columns={"margin": "contribution_margin"})
        df = base.merge(f, on="account_id", how="left")
    else:
        df = base.copy()
    for col in ("revenue", "cogs", "contribution_margin", "lines", "orders", "order_days",
                "returns", "return_lines", "revenue_ttm", "margin_ttm", "revenue_window",
                "revenue_prev", "margin_prev", "active_months_ttm",
                "categories_bought"):  # fmt: skip
        if col not in df.columns:
            df[col] = 0.0
        df[col] = df[col].astype("float64").fillna(0.0)
    for col in [c for c in df.columns if c.startswith("revenue_w")]:
        df[col] = df[col].astype("float64").fillna(0.0)
    for col in ("first_order", "last_order"):
        if col not in df.columns:
            df[col] = pd.NaT
        df[col] = pd.to_datetime(df[col])
    if "years_active" not in df.columns:
        df["years_active"] = 0
    df["years_active"] = df["years_active"].fillna(0).astype("int64")
    return df


def _merge_costs(df: pd.DataFrame, costs: pa.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    long = costs.to_pandas()
    long["account_id"] = long["account_id"].astype("string")
    df["cts_since"] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    if long.empty:
        df["cost_to_serve"] = 0.0
        return df, long
    wide = long.pivot_table(index="account_id", columns="activity", values="amount", aggfunc="sum")
    wide.columns = [f"cts_{c}" for c in wide.columns]
    wide["cost_to_serve"] = wide.sum(axis=1)
    df = df.merge(wide.reset_index(), on="account_id", how="left")
    for col in list(wide.columns):
        df[col] = df[col].astype("float64").fillna(0.0)
    if "first_date" in long.columns:
        since = pd.to_datetime(long["first_date"]).groupby(long["account_id"]).min()
        df["cts_since"] = pd.to_datetime(df["account_id"].map(since))
    return df, long


def _merge_wallet(df: pd.DataFrame, wallet: pa.Table | None) -> pd.DataFrame:
    if wallet is None or wallet.num_rows == 0:
        df["wallet_total_spend"] = np.nan
        return df
    w = wallet.to_pandas()
    w["account_id"] = w["account_id"].astype("string")
    if "period" in w.columns and w["period"].notna().any():
        latest = w["period"].astype("string").fillna("").groupby(w["account_id"]).transform("max")
        w = w[w["period"].astype("string").fillna("") == latest]
    s = w.groupby("account_id")["total_spend"].sum().rename("wallet_total_spend")
    return df.merge(s.reset_index(), on="account_id", how="left")


def resolve_groups(df: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """The ultimate parent of each account (itself when it has none); cycles are broken."""
    warnings: list[str] = []
    ids = df["account_id"].tolist()
    parents = df["parent_id"].tolist()
    parent = {a: p for a, p in zip(ids, parents, strict=True) if _names_parent(a, p)}
    top = list(ids)  # most accounts have no parent: only the others are walked
    for i, acc in enumerate(ids):
        if acc not in parent:
            continue
        seen = [acc]
        cur = acc
        while True:
            p = parent.get(cur)
            if p is None:
                break
            if p in seen:
                warnings.append(f"parent_id cycle through {p!r}: group roll-up stops there")
                break
            seen.append(p)
            cur = p
        top[i] = cur
    return pd.Series(top, index=df.index, dtype="string"), warnings


def _names_parent(acc: object, p: object) -> bool:
    return not (p is None or p is pd.NA or p == "" or p == acc or (isinstance(p, float) and p != p))


OWN_COLUMNS = [
    "revenue", "contribution_margin", "cost_to_serve", "revenue_ttm", "margin_ttm", "orders",
    "wallet_total_spend",
]  # fmt: skip


def _roll_up_groups(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    # each account's own figures, before a group head's row is replaced by its group's
    for col in OWN_COLUMNS:
        df[f"own_{col}"] = df[col]
    df["own_first_order"] = df["first_order"]
    df["own_cts_since"] = df["cts_since"]
    ultimate, warnings = resolve_groups(df)
    df["group_id"] = ultimate.where(ultimate != df["account_id"], pd.NA).astype("string")
    members = df[df["group_id"].notna()]
    df["is_group"] = False
    df["in_group"] = df["group_id"].notna()
    df["group_members"] = 0
    df["countries"] = 1
    if members.empty:
        df["selectable"] = True
        return df, warnings
    heads = sorted(set(members["group_id"].tolist()))
    known = set(df["account_id"].tolist())
    missing = [h for h in heads if h not in known]
    if missing:
        warnings.append(
            f"{len(missing)} parent_id(s) are not accounts (e.g. {missing[0]!r}): "
            "a group row is created for each"
        )
        add = pd.DataFrame({"account_id": pd.Series(missing, dtype="string")})
        add["name"] = add["account_id"] + " (group)"
        df = pd.concat([df, add], ignore_index=True)
        for col in OWN_COLUMNS[:-1]:
            df[f"own_{col}"] = df[f"own_{col}"].fillna(0.0)
        df["is_group"] = df["is_group"].fillna(False).astype(bool)
        df["in_group"] = df["in_group"].fillna(False).astype(bool)
    sum_cols = [
        c
        for c in df.columns
        if c in SUM_COLUMNS or c == "margin_since" or c.startswith(("cts_", "revenue_w"))
    ]
    head_mask = isin(df["account_id"], heads)
    fam_key = df["group_id"].fillna(df["account_id"])
    family = df[head_mask | df["in_group"]].copy()
    family["_fam"] = fam_key[family.index]
    agg: dict[str, object] = {c: "sum" for c in sum_cols}
    agg |= {"first_order": "min", "last_order": "max", "years_active": "max", "cts_since": "min"}
    agg["active_months_ttm"] = "max"  # months are not additive across a group's members
    agg["categories_bought"] = "max"  # nor categories (the union is not kept): the widest
    rolled = family.groupby("_fam").agg(agg)
    if "wallet_total_spend" in rolled:
        has_wallet = family["wallet_total_spend"].notna().groupby(family["_fam"]).any()
        rolled.loc[~has_wallet, "wallet_total_spend"] = np.nan
    rolled["group_members"] = family.groupby("_fam").size() - 1
    rolled["countries"] = family.groupby("_fam")["country"].nunique().clip(lower=1)
    if "market_leader" in family:
        leader = family["market_leader"].fillna(False).astype(bool)
        rolled["market_leader"] = leader.groupby(family["_fam"]).any()
    idx = df.index[head_mask]
    for col in rolled.columns:
        df.loc[idx, col] = df.loc[idx, "account_id"].map(rolled[col]).to_numpy()
    df.loc[idx, "is_group"] = True
    df["selectable"] = ~df["in_group"].astype(bool)
    return df, warnings


def _ratios(df: pd.DataFrame, facts: Facts, window_months: int) -> pd.DataFrame:
    rev = df["revenue"]
    df["cm_pct"] = per(df["contribution_margin"], rev)
    df["net_contribution"] = df["contribution_margin"] - df["cost_to_serve"]
    df["net_pct"] = per(df["net_contribution"], rev)
    df["cts_pct"] = per(df["cost_to_serve"], rev)
    start = _history_start(df)
    df["revenue_growth"], df["is_new"] = _growth(df, start, facts, window_months)
    df["revenue_cagr"] = _cagr(df, start, facts)
    # regular order flow: share of the trailing twelve months with at least one order
    df["order_regularity"] = (df["active_months_ttm"] / 12.0).clip(upper=1.0)
    # breadth: share of our product categories the account buys
    df["category_breadth"] = (
        df["categories_bought"] / facts.categories if facts.categories else np.nan
    )
    df["share_of_wallet"] = per(df["revenue_ttm"].clip(lower=0), df["wallet_total_spend"]).clip(
        upper=1.0
    )
    return df


def _history_start(df: pd.DataFrame) -> pd.Series:
    """When the account became a customer: its first order, or ``customer_since`` if earlier."""
    start = pd.to_datetime(df["first_order"])
    if "customer_since" in df.columns:
        since = pd.to_datetime(df["customer_since"], errors="coerce")
        start = start.where(~(since < start), since)
    return start


def _covered(start: pd.Series, facts: Facts, window_start: dt.date) -> np.ndarray:
    """Rows whose history covers the window that begins the day after ``window_start``: the
    account was a customer by then, and the data reach back that far."""
    begin = pd.Timestamp(window_start) + pd.Timedelta(days=1)
    data_ok = facts.first is not None and pd.Timestamp(facts.first) <= begin
    return (start.notna() & (start <= begin)).to_numpy() & data_ok


def _growth(
    df: pd.DataFrame, start: pd.Series, facts: Facts, window_months: int
) -> tuple[pd.Series, pd.Series]:
    if facts.as_of is None:
        return pd.Series(np.nan, index=df.index), pd.Series(False, index=df.index)
    covered = _covered(start, facts, add_months(facts.as_of, -2 * window_months))
    now, before = df["revenue_window"], df["revenue_prev"]
    growth = per(now, before) - 1
    dead = covered & (before <= 0) & (now <= 0)
    growth = growth.where(covered, np.nan).mask(dead, -1.0)
    is_new = pd.Series(~covered & (df["orders"] > 0).to_numpy(), index=df.index)
    return growth, is_new


def _cagr(df: pd.DataFrame, start: pd.Series, facts: Facts) -> np.ndarray:
    cols = sorted((c for c in df.columns if c.startswith("revenue_w") and c[9:].isdigit()),
                  key=lambda c: int(c[9:]))  # fmt: skip
    if len(cols) < 2 or facts.as_of is None:
        return np.full(len(df), np.nan)
    w = df[cols].to_numpy(dtype="float64")  # column k = window ending k years before as_of
    covered = np.column_stack(
        [_covered(start, facts, add_months(facts.as_of, -12 * (k + 1))) for k in range(len(cols))]
    )
    # the oldest window the history covers and that has revenue, at least a year back
    usable = covered & (w > 0) & (np.arange(w.shape[1]) >= 1)
    oldest = np.where(usable, np.arange(w.shape[1]), -1).max(axis=1)
    latest = w[:, 0]
    base = w[np.arange(len(w)), np.maximum(oldest, 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        cagr = np.where(
            oldest >= 1,
            np.where(latest > 0, (latest / base) ** (1.0 / np.maximum(oldest, 1)) - 1, -1.0),
            np.nan,
        )
    return cagr


def pareto(df: pd.DataFrame) -> pd.DataFrame:
    """Pareto ranks, cumulative shares and the whale curve over the selectable rows (sorted
    in Arrow on the two columns: a copy of the selectable rows' ~80 columns and a pandas sort
    by text ids took 8 s at 1M accounts)."""
    rows = np.flatnonzero(df["selectable"].astype(bool).to_numpy())
    ids = pa.array(df["account_id"].to_numpy(dtype=object)[rows], pa.string())
    out = {c: np.full(len(df), np.nan) for c in (
        "pareto_rank_revenue", "cum_share_revenue", "pareto_rank_net", "cum_share_net",
        "whale_cum_net")}  # fmt: skip
    rev = df["revenue"].to_numpy(dtype=float)[rows]
    at = rows[_descending(rev, ids)]
    out["pareto_rank_revenue"][at] = np.arange(1, len(at) + 1)
    total = _nansum(np.clip(rev, 0, None))
    cum = _cumsum(np.clip(df["revenue"].to_numpy(dtype=float)[at], 0, None))
    out["cum_share_revenue"][at] = cum / total if total > 0 else np.nan
    net = df["net_contribution"].to_numpy(dtype=float)[rows]
    at = rows[_descending(net, ids)]
    out["pareto_rank_net"][at] = np.arange(1, len(at) + 1)
    cum_net = _cumsum(df["net_contribution"].to_numpy(dtype=float)[at])
    total_net = _nansum(net)
    out["whale_cum_net"][at] = cum_net
    out["cum_share_net"][at] = cum_net / total_net if total_net != 0 else np.nan
    for col, values in out.items():
        df[col] = values
    return df


def _descending(values: np.ndarray, ids: pa.Array) -> np.ndarray:
    """Positions by ``values`` from the largest (missing last), ties by account id: pandas'
    ``sort_values([col, "account_id"], ascending=[False, True])``."""
    t = pa.table({"v": pa.array(values, pa.float64(), from_pandas=True), "id": ids})
    order = pc.sort_indices(t, [("v", "descending"), ("id", "ascending")])  # nulls at the end
    return np.asarray(order.to_numpy(), dtype=np.int64)


def _cumsum(x: np.ndarray) -> np.ndarray:
    """pandas' cumsum: a missing value stays missing and is skipped by the running sum."""
    out = np.nancumsum(x)
    out[np.isnan(x)] = np.nan
    return out


def _nansum(x: np.ndarray) -> float:
    return float(np.nansum(x))


def whale_curve(portfolio: pd.DataFrame) -> pd.DataFrame:
    """The whale-curve series: accounts sorted from most to least profitable."""
    cols = ["account_id", "pareto_rank_net", "net_contribution"]  # not the ~100 columns
    s = portfolio.loc[portfolio["selectable"].astype(bool), cols]
    s = s.sort_values("pareto_rank_net")
    total = s["net_contribution"].sum()
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(s) + 1),
            "account_id": s["account_id"].to_numpy(),
            "share_of_accounts": np.arange(1, len(s) + 1) / max(len(s), 1),
            "cum_net_contribution": s["net_contribution"].cumsum().to_numpy(),
        }
    )
    out["cum_share_of_profit"] = out["cum_net_contribution"] / total if total else np.nan
    return out


def compute_economics(
    facts: Facts,
    *,
    accounts: pa.Table | None = None,
    wallet: pa.Table | None = None,
    window_months: int = 12,
) -> Economics:
    base, warnings = _accounts_frame(accounts, facts)
    df = _merge_facts(base, facts)
    df, cost_long = _merge_costs(df, facts.costs)
    unknown = set(cost_long["account_id"].tolist()) - set(df["account_id"].tolist())
    if unknown:
        warnings.append(
            f"cost-to-serve rows for {len(unknown)} unknown account(s) ignored "
            f"(e.g. {sorted(unknown)[0]!r})"
        )
    df = _merge_wallet(df, wallet)
    df, group_warnings = _roll_up_groups(df)
    warnings += group_warnings
    df = _ratios(df, facts, window_months)
    df = pareto(df)
    df["has_orders"] = df["orders"] > 0
    return Economics(portfolio=df, cost_by_activity=cost_long, warnings=warnings)

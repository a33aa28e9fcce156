"""Customer lifetime value, ROCI, profit potential, return on customer and a holdout backtest.

Everything here works on one row per account (pandas); order lines only enter through the Ibis
expressions of :mod:`keyfolio.value.summary` (in :func:`backtest`).

Time grid
---------
The horizon (``horizon_years``) is cut into ``steps_per_year`` equal steps (monthly by default).
Step ``k`` ends at ``y_k = k · horizon_years / n`` years, i.e. ``t_k = y_k · 365.25 /
time_unit_days`` model time units after the cutoff, and everything that happens in step ``k`` is
discounted with ``δ_k = (1 + discount_rate) ** -y_k`` (end-of-step discounting).

Model path (``clv_method = "bgnbd_gg"``; accounts with frequency > 0 when BG/NBD could be fit)
  * orders in step k: ``ΔE_k = E[X(t_k)] - E[X(t_{k-1})]`` (BG/NBD conditional expectation);
    ``expected_orders = E[X(t_n)]``; ``expected_orders_discounted = Σ ΔE_k δ_k``;
  * ``margin_per_order``: Gamma-Gamma conditional expected margin per order day (fit on the
    accounts with frequency > 0 and positive mean margin); accounts whose mean repeat margin
    is <= 0 keep their observed mean (``clv_method = "bgnbd_observed_margin"``);
  * ``P_k = survival(t_k)`` = P(active at the end of step k) from BG/NBD.
Retention path (``clv_method = "retention"``: frequency 0, no orders, or no BG/NBD fit)
  * yearly retention ``ρ`` (``fallback_retention`` or, when None, the share of accounts first
    seen at least a year before the cutoff that ordered in the last year, smoothed as
    ``(k + 1) / (n + 2)``); ``p_alive = ρ ** (years since the last order)`` (0 without orders);
    ``P_k = p_alive · ρ ** y_k``;
  * annual margin ``M = max(revenue, 0) · cm_pct_used`` (last year's contribution margin);
    annual order rate ``f = n_days / max(T in years, 1)``;
  * ``expected_orders = f · Δy · Σ P_k``, ``expected_orders_discounted = f · Δy · Σ P_k δ_k``,
    ``margin_per_order = M / f`` (0 when f = 0).
Both paths (``Δy = horizon_years / n``)
  * ``value_generated = expected_orders_discounted · margin_per_order`` (discounted expected
    contribution margin over the horizon);
  * ``cost_to_serve_pv = cost_to_serve_per_year · Δy · Σ P_k δ_k``;
  * ``kam_investment_pv = tier_hours[size_tier] · kam_hour_cost · Δy · Σ δ_k`` (the yearly KAM
    hours are spent whether or not the account buys);
  * ``clv = value_generated - cost_to_serve_pv``;
  * ``investment = kam_investment_pv + cost_to_serve_pv``;
  * ``roci = (value_generated - investment) / investment`` (NaN when investment is 0);
  * ``headroom = max(wallet_total_spend - revenue, 0)`` (``revenue`` = last year's revenue;
    NaN and ``wallet_flag = "no wallet data"`` without wallet); ``profit_potential = clv +
    headroom · cm_pct_used``: the profit still to come from the relationship plus the margin on
    the part of the customer's wallet we do not have (the wallet term 0 where the wallet is not
    known, so every account has a potential), where ``cm_pct_used`` is the account's cm_pct
    when revenue > 0 and -1 <= cm_pct <= 1, else the median of the meaningful cm_pct of its
    tier (then of the portfolio, then 0); ``cm_pct_source`` says which.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from keyfolio.errors import ModelError
from keyfolio.value._math import FloatArray, factorize_rows
from keyfolio.value.bgnbd import BetaGeo
from keyfolio.value.gamma_gamma import GammaGamma
from keyfolio.value.summary import period_orders, rfm_summary

DAYS_PER_YEAR = 365.25
PATH_BLOCK_ELEMENTS = 2_000_000  # (steps x accounts) evaluated at once in the model path
SUMMARY_COLUMNS = ("account_id", "frequency", "recency", "T", "monetary_margin", "n_days")
ACCOUNT_COLUMNS = (
    "account_id",
    "size_tier",
    "cost_to_serve_per_year",
    "cm_pct",
    "revenue",
    "wallet_total_spend",
)
METHOD_MODEL = "bgnbd_gg"
METHOD_OBSERVED = "bgnbd_observed_margin"
METHOD_RETENTION = "retention"


@dataclass
class ValueModels:
    """Fitted models (None when not fitted) and why a model is missing."""

    bgnbd: BetaGeo | None
    gamma_gamma: GammaGamma | None
    reason: str = ""
    n_repeat: int = 0
    info: dict[str, Any] = field(default_factory=dict)


def _require(df: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ModelError(
            f"{name}: expected columns {', '.join(columns)}; missing {', '.join(missing)}"
        )
    if df["account_id"].duplicated().any():
        dup = df.loc[df["account_id"].duplicated(), "account_id"].iloc[0]
        raise ModelError(f"{name}: expected one row per account_id, found {dup!r} twice")


def fit_value_models(
    summary: pd.DataFrame, *, min_repeat_customers: int, penalizer: float = 0.0
) -> ValueModels:
    """Fit BG/NBD on all accounts and Gamma-Gamma on margin per order of repeat accounts.

    BG/NBD is not fitted (``bgnbd`` None, ``reason`` says why) when fewer than
    ``min_repeat_customers`` accounts have frequency > 0, or the fit fails.
    """
    # the fit sums over the rows: their order (the engine's group order, which varies from
    # run to run) must not move the estimates, so rows are taken in the order of their values
    cols = [summary[c].to_numpy(float) for c in ("monetary_margin", "T", "recency", "frequency")]
    order = np.lexsort(cols)
    x = cols[3][order]
    n_repeat = int((x > 0).sum())
    if n_repeat < min_repeat_customers:
        reason = f"fewer than {min_repeat_customers} repeat customers (found {n_repeat})"
        return ValueModels(None, None, reason, n_repeat)
    tx, t_obs = cols[2][order], cols[1][order]
    bg = BetaGeo(penalizer=penalizer).fit(x, tx, t_obs)
    params = np.array(list(bg.params_.values()))
    if not np.all(np.isfinite(params)) or not np.isfinite(bg.loglik_):
        return ValueModels(None, None, "BG/NBD fit failed (non-finite estimates)", n_repeat)
    info: dict[str, Any] = {"bgnbd": bg.params_, "bgnbd_converged": bg.converged_}
    if bg.homogeneous_dropout_:
        p = bg.dropout_probability
        info["bgnbd_note"] = (
            "nobody drops out (a, b run away with a / (a + b) = 0): the limiting model is used"
            if p < 1e-6
            else f"every account drops out with the same probability, {p:.2%} after a repeat "
            "order (a, b run away together): the limiting model is used"
        )
    m = cols[0][order]
    usable = (x > 0) & (m > 0)
    gg: GammaGamma | None = None
    if usable.sum() >= 2:
        gg = GammaGamma(penalizer=penalizer).fit(x[usable], m[usable])
        if gg.q_ <= 1.0 or not np.isfinite(gg.loglik_):
            gg = None
        else:
            info["gamma_gamma"] = gg.params_
    return ValueModels(bg, gg, "", n_repeat, info)


def margin_per_order(models: ValueModels, x: FloatArray, m: FloatArray) -> FloatArray:
    """Expected margin per order day: Gamma-Gamma where possible, else the observed mean.

    frequency 0: the Gamma-Gamma population mean (or the mean of the repeat accounts' means).
    """
    gg = models.gamma_gamma
    out = np.where(x > 0, m, 0.0)
    pos = (x > 0) & (m > 0)
    if gg is not None:
        out[pos] = gg.expected_spend(x[pos], m[pos])
        out[x == 0] = gg.population_mean()
    else:
        rep = x > 0
        out[x == 0] = float(np.mean(m[rep])) if rep.any() else 0.0
    return out


def _grid(horizon_years: float, steps_per_year: int) -> tuple[FloatArray, float]:
    if not horizon_years > 0:
        raise ModelError(f"horizon_years: expected > 0, found {horizon_years}")
    if steps_per_year < 1:
        raise ModelError(f"steps_per_year: expected >= 1, found {steps_per_year}")
    n = max(1, math.ceil(horizon_years * steps_per_year - 1e-9))
    years = horizon_years * np.arange(1, n + 1) / n
    return years, horizon_years / n


def annuity_factor(horizon_years: float, discount_rate: float, steps_per_year: int = 12) -> float:
    """Present value of 1 a year spent evenly over the horizon, on the CLV time grid
    (``Δy · Σ δ_k``): the KAM investment is ``hours · hourly cost · annuity_factor``."""
    years, dy = _grid(horizon_years, steps_per_year)
    return dy * float(((1.0 + discount_rate) ** -years).sum())


def roci_of(value: FloatArray, investment: FloatArray) -> FloatArray:
    """(value generated − investment) / investment; NaN where nothing is invested."""
    return np.divide(
        value - investment, investment, out=np.full(len(value), np.nan), where=investment > 0
    )


def _model_path(
    models: ValueModels,
    s: pd.DataFrame,
    years: FloatArray,
    disc: FloatArray,
    dy: float,
    unit: float,
) -> dict[str, FloatArray]:
    bg = models.bgnbd
    assert bg is not None
    x, tx, t_obs = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    p_alive = bg.p_alive(x, tx, t_obs)
    (xu, tu), inverse = factorize_rows([x, t_obs])  # the steps depend on (x, T) only
    t_steps = years * DAYS_PER_YEAR / unit
    last, orders_pv, alive_pv = (np.empty(len(xu)) for _ in range(3))
    # all steps of a block of distinct (x, T) rows in one vectorised call, shape (steps,
    # rows); blocks bound the memory (every element is computed on its own: same numbers)
    block = max(1, PATH_BLOCK_ELEMENTS // len(years))
    for lo in range(0, len(xu), block):
        part = slice(lo, lo + block)
        t_grid = np.broadcast_to(t_steps[:, None], (len(years), len(xu[part])))
        xs, ts = np.broadcast_to(xu[part], t_grid.shape), np.broadcast_to(tu[part], t_grid.shape)
        cum = bg.expected_purchases_if_active(t_grid.ravel(), xs.ravel(), ts.ravel())
        cum = cum.reshape(t_grid.shape)
        surv = bg.survival_if_active(t_grid.ravel(), xs.ravel(), ts.ravel())
        steps = np.diff(cum, axis=0, prepend=0.0)
        last[part] = cum[-1]
        orders_pv[part] = np.einsum("k,kn->n", disc, steps)  # no BLAS (see _math.dot)
        alive_pv[part] = np.einsum("k,kn->n", disc, surv.reshape(t_grid.shape))
    return {
        "p_alive": p_alive,
        "expected_orders": last[inverse] * p_alive,
        "expected_orders_discounted": orders_pv[inverse] * p_alive,
        "margin_per_order": margin_per_order(models, x, s["monetary_margin"].to_numpy(float)),
        "alive_pv": alive_pv[inverse] * p_alive * dy,  # Σ_k Δy P_k δ_k
    }


def estimate_retention(s: pd.DataFrame, unit: float) -> float:
    """Share of accounts first seen >= 1 year before the cutoff that ordered in the last year.

    Smoothed as (k + 1) / (n + 2) so it is defined (0.5) for an empty portfolio.
    """
    year = DAYS_PER_YEAR / unit
    has = s["n_days"].to_numpy(float) > 0
    t_obs = s["T"].to_numpy(float)
    gap = t_obs - s["recency"].to_numpy(float)
    eligible = has & (t_obs >= year)
    kept = eligible & (gap <= year)
    return float((kept.sum() + 1.0) / (eligible.sum() + 2.0))


def _retention_path(
    s: pd.DataFrame,
    annual_margin: FloatArray,
    rho: float,
    years: FloatArray,
    disc: FloatArray,
    dy: float,
    unit: float,
) -> dict[str, FloatArray]:
    per_year = unit / DAYS_PER_YEAR
    n_days = s["n_days"].to_numpy(float)
    has = n_days > 0
    since = (s["T"].to_numpy(float) - s["recency"].to_numpy(float)) * per_year
    p_alive = np.where(has, rho ** np.maximum(since, 0.0), 0.0)
    rate = np.where(has, n_days / np.maximum(s["T"].to_numpy(float) * per_year, 1.0), 0.0)
    keep = rho**years  # P_k = p_alive * rho ** y_k
    alive = p_alive * float(keep.sum()) * dy
    alive_pv = p_alive * float((keep * disc).sum()) * dy
    mpo = np.divide(annual_margin, rate, out=np.zeros(len(s)), where=rate > 0)
    return {
        "p_alive": p_alive,
        "expected_orders": rate * alive,
        "expected_orders_discounted": rate * alive_pv,
        "margin_per_order": mpo,
        "alive_pv": alive_pv,
    }


def cm_pct_used(accounts: pd.DataFrame) -> tuple[FloatArray, np.ndarray]:
    """The cm_pct used for potential and the retention path, and where it came from."""
    cm = pd.to_numeric(accounts["cm_pct"], errors="coerce").to_numpy(float)
    rev = pd.to_numeric(accounts["revenue"], errors="coerce").to_numpy(float)
    ok = np.isfinite(cm) & np.isfinite(rev) & (rev > 0) & (cm >= -1) & (cm <= 1)
    tiers = accounts["size_tier"].astype(str).to_numpy()
    tier_median = pd.Series(cm[ok]).groupby(tiers[ok]).median().to_dict()
    overall = float(np.median(cm[ok])) if ok.any() else 0.0
    used = cm.copy()
    source = np.full(len(cm), "account", dtype=object)
    for i in np.flatnonzero(~ok):
        if tiers[i] in tier_median:
            used[i], source[i] = tier_median[tiers[i]], "tier median"
        elif ok.any():
            used[i], source[i] = overall, "portfolio median"
        else:
            used[i], source[i] = 0.0, "none"
    return used, source


def _joined(
    summary: pd.DataFrame, accounts: pd.DataFrame, tier_hours: dict[str, float]
) -> pd.DataFrame:
    _require(summary, "summary", SUMMARY_COLUMNS)
    _require(accounts, "accounts", ACCOUNT_COLUMNS)
    tiers = accounts["size_tier"].astype(str)
    unknown = sorted(set(tiers) - set(tier_hours))
    if unknown:
        raise ModelError(
            f"tier_hours: expected hours for every size_tier ({', '.join(sorted(tier_hours))}), "
            f"missing {', '.join(unknown)}"
        )
    for col in ("cost_to_serve_per_year", "revenue"):
        vals = pd.to_numeric(accounts[col], errors="coerce")
        if vals.isna().any():
            bad = accounts.loc[vals.isna(), "account_id"].iloc[0]
            raise ModelError(f"accounts.{col}: expected a number, found none for account {bad!r}")
    s = summary[list(SUMMARY_COLUMNS)].copy()
    s["account_id"] = s["account_id"].astype(str)
    acc = accounts[list(ACCOUNT_COLUMNS)].copy()
    acc["account_id"] = acc["account_id"].astype(str)
    out = acc.merge(s, on="account_id", how="left", validate="one_to_one")
    fill = {"frequency": 0.0, "recency": 0.0, "T": 0.0, "monetary_margin": 0.0, "n_days": 0.0}
    return out.fillna(fill)


@dataclass(frozen=True)
class AccountValue:
    """The result of :func:`account_value`: one row per account (``frame``) and the fitted
    models' parameters, the fallback's retention and why a model is missing (``models``)."""

    frame: pd.DataFrame
    models: dict[str, Any]


def account_value(
    summary: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    horizon_years: float,
    discount_rate: float,
    time_unit_days: float,
    kam_hour_cost: float,
    tier_hours: dict[str, float],
    min_repeat_customers: int,
    fallback_retention: float | None = None,
    steps_per_year: int = 12,
    penalizer: float = 0.0,
) -> AccountValue:
    """CLV, p_alive, expected orders, ROCI, headroom and profit potential per account.

    ``summary``: the :func:`~keyfolio.value.summary.rfm_summary` columns (accounts without
    orders may be absent; all its accounts with orders inform the model fit).
    ``accounts``: account_id, size_tier, cost_to_serve_per_year, cm_pct, revenue (last
    year), wallet_total_spend (NaN = unknown). ``tier_hours``: KAM hours per account and
    year by size tier. The exact definitions are in the module docstring.
    Returns one row per row of ``accounts`` (same order) and the fitted parameters.
    """
    if not 0 <= discount_rate < 1:
        raise ModelError(f"discount_rate: expected 0 <= rate < 1, found {discount_rate}")
    if fallback_retention is not None and not 0 <= fallback_retention <= 1:
        raise ModelError(f"fallback_retention: expected 0..1, found {fallback_retention}")
    df = _joined(summary, accounts, tier_hours)
    unit = float(time_unit_days)
    years, dy = _grid(horizon_years, steps_per_year)
    disc = (1.0 + discount_rate) ** -years
    cm_used, cm_source = cm_pct_used(df)
    annual_margin = np.maximum(df["revenue"].to_numpy(float), 0.0) * cm_used
    # the models learn from every account with orders in the summary, listed or not
    models = fit_value_models(
        summary[summary["n_days"] > 0],
        min_repeat_customers=min_repeat_customers,
        penalizer=penalizer,
    )
    rho = estimate_retention(df, unit) if fallback_retention is None else fallback_retention
    res = _retention_path(df, annual_margin, rho, years, disc, dy, unit)
    method = np.full(len(df), METHOD_RETENTION, dtype=object)
    reason = np.where(df["n_days"] > 0, "frequency 0 (one order day)", "no orders").astype(object)
    x = df["frequency"].to_numpy(float)
    if models.bgnbd is None:
        reason[x > 0] = models.reason
    elif (x > 0).any():
        rep = x > 0
        mod = _model_path(models, df.loc[rep], years, disc, dy, unit)
        for key, vals in mod.items():
            res[key][rep] = vals
        m = df["monetary_margin"].to_numpy(float)
        method[rep] = np.where(m[rep] > 0, METHOD_MODEL, METHOD_OBSERVED)
        reason[rep] = ""
    return _assemble(
        df,
        res,
        method,
        reason,
        cm_used,
        cm_source,
        tier_hours,
        kam_hour_cost,
        disc,
        dy,
        models,
        rho,
    )


def _assemble(
    df: pd.DataFrame,
    res: dict[str, FloatArray],
    method: np.ndarray,
    reason: np.ndarray,
    cm_used: FloatArray,
    cm_source: np.ndarray,
    tier_hours: dict[str, float],
    kam_hour_cost: float,
    disc: FloatArray,
    dy: float,
    models: ValueModels,
    rho: float,
) -> AccountValue:
    value = res["expected_orders_discounted"] * res["margin_per_order"]
    cts_pv = df["cost_to_serve_per_year"].to_numpy(float) * res["alive_pv"]
    hours = df["size_tier"].astype(str).map(tier_hours).to_numpy(float)
    kam_pv = hours * kam_hour_cost * dy * float(disc.sum())  # = annuity_factor(...) per hour
    investment = kam_pv + cts_pv
    roci = roci_of(value, investment)
    wallet = pd.to_numeric(df["wallet_total_spend"], errors="coerce").to_numpy(float)
    headroom = np.maximum(wallet - df["revenue"].to_numpy(float), 0.0)  # NaN stays NaN
    out = pd.DataFrame(
        {
            "account_id": df["account_id"].to_numpy(),
            "clv": value - cts_pv,
            "clv_method": method,
            "clv_reason": reason,
            "p_alive": res["p_alive"],
            "expected_orders": res["expected_orders"],
            "expected_orders_discounted": res["expected_orders_discounted"],
            "margin_per_order": res["margin_per_order"],
            "value_generated": value,
            "cost_to_serve_pv": cts_pv,
            "kam_investment_pv": kam_pv,
            "investment": investment,
            "roci": roci,
            "headroom": headroom,
            "cm_pct_used": cm_used,
            "cm_pct_source": cm_source,
            "profit_potential": (value - cts_pv) + np.nan_to_num(headroom * cm_used),
            "wallet_flag": np.where(np.isnan(wallet), "no wallet data", ""),
        }
    )
    info = {
        **models.info,
        "reason": models.reason,
        "repeat_customers": models.n_repeat,
        "retention": rho,
    }
    return AccountValue(out, info)


@dataclass(frozen=True)
class ReturnOnCustomer:
    per_account: pd.DataFrame  # account_id, equity_start, equity_end, cash_flow, roc
    portfolio: float  # (Σ cash flow + Σ Δ equity) / Σ equity_start


def return_on_customer(
    prev: pd.DataFrame, curr: pd.DataFrame, cash_flow: pd.DataFrame
) -> ReturnOnCustomer:
    """Return on customer (Peppers & Rogers): (cash flow + Δ customer equity) / equity at start.

    ``prev`` / ``curr``: account_id, clv of two runs (start and end of the period);
    ``cash_flow``: account_id, net_contribution realised in the period. Accounts missing from a
    side count as equity 0 / cash flow 0. Per-account roc is NaN when the starting equity is
    <= 0 (undefined); the portfolio figure uses the totals.
    """
    for name, df, col in (
        ("prev", prev, "clv"),
        ("curr", curr, "clv"),
        ("cash_flow", cash_flow, "net_contribution"),
    ):
        _require(df, name, ("account_id", col))
    a = prev[["account_id", "clv"]].rename(columns={"clv": "equity_start"})
    b = curr[["account_id", "clv"]].rename(columns={"clv": "equity_end"})
    c = cash_flow[["account_id", "net_contribution"]].rename(
        columns={"net_contribution": "cash_flow"}
    )
    out = a.merge(b, on="account_id", how="outer").merge(c, on="account_id", how="left")
    out = out.fillna({"equity_start": 0.0, "equity_end": 0.0, "cash_flow": 0.0})
    gain = out["cash_flow"] + out["equity_end"] - out["equity_start"]
    start = out["equity_start"].to_numpy(float)
    out["roc"] = np.divide(
        gain.to_numpy(float), start, out=np.full(len(out), np.nan), where=start > 0
    )
    total_start = float(start.sum())
    portfolio = float(gain.sum()) / total_start if total_start > 0 else float("nan")
    return ReturnOnCustomer(out.reset_index(drop=True), portfolio)


@dataclass(frozen=True)
class BacktestResult:
    """Predicted vs actual orders (order days) and margin in a holdout after ``cutoff``."""

    cutoff: dt.date
    holdout_end: dt.date
    holdout_length: float  # model time units
    n_accounts: int
    n_new_accounts: int  # first ordered in the holdout: not predicted
    predicted_orders: float
    actual_orders: float
    predicted_margin: float
    actual_margin: float
    mae_orders: float
    mae_margin: float
    params: dict[str, Any]
    calibration: pd.DataFrame  # by predicted-orders decile
    accounts: pd.DataFrame  # per account predicted / actual

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly figures (no tables but the calibration)."""
        keys = (
            "holdout_length",
            "n_accounts",
            "n_new_accounts",
            "predicted_orders",
            "actual_orders",
            "predicted_margin",
            "actual_margin",
            "mae_orders",
            "mae_margin",
        )
        out: dict[str, Any] = {k: getattr(self, k) for k in keys}
        out["cutoff"], out["holdout_end"] = self.cutoff.isoformat(), self.holdout_end.isoformat()
        out["params"] = self.params
        out["calibration"] = self.calibration.to_dict(orient="records")
        return out


def _calibration_table(acc: pd.DataFrame) -> pd.DataFrame:
    n_bins = min(10, len(acc))
    rank = acc["predicted_orders"].rank(method="first")
    acc = acc.assign(decile=pd.qcut(rank, n_bins, labels=range(1, n_bins + 1)).astype(int))
    cols = ["predicted_orders", "actual_orders", "predicted_margin", "actual_margin"]
    table = acc.groupby("decile")[cols].mean()
    table.insert(0, "accounts", acc.groupby("decile").size())
    return table.reset_index()


def backtest(
    lines: ir.Table,
    *,
    holdout_months: int,
    time_unit_days: float = 7.0,
    min_repeat_customers: int = 30,
    start: Any = None,
    penalizer: float = 0.0,
) -> BacktestResult:
    """Fit on order days up to ``latest - holdout_months`` and predict the rest.

    ``cutoff = latest order date - holdout_months`` (calendar months); the models see the
    order days in ``[start, cutoff]`` and predict, for each account seen by then, its order
    days and margin in ``(cutoff, latest]``; accounts first seen in the holdout are counted
    in ``n_new_accounts`` but not predicted.
    """
    if holdout_months < 1:
        raise ModelError(f"holdout_months: expected >= 1, found {holdout_months}")
    latest = lines.order_date.cast("date").max().to_pyarrow().as_py()
    if latest is None:
        raise ModelError("backtest: expected order lines, found none")
    cutoff = (pd.Timestamp(latest) - pd.DateOffset(months=holdout_months)).date()
    summary = rfm_summary(lines, cutoff=cutoff, time_unit_days=time_unit_days, start=start)
    s = summary.to_pyarrow().to_pandas()
    if s.empty:
        raise ModelError(f"backtest: expected order lines on or before {cutoff}, found none")
    hold = period_orders(lines, start=cutoff + dt.timedelta(days=1), end=latest)
    h = hold.to_pyarrow().to_pandas()
    models = fit_value_models(s, min_repeat_customers=min_repeat_customers, penalizer=penalizer)
    if models.bgnbd is None:
        raise ModelError(f"backtest: cannot fit BG/NBD: {models.reason}")
    length = (latest - cutoff).days / float(time_unit_days)
    x, tx, t_obs = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    pred = models.bgnbd.expected_purchases(length, x, tx, t_obs)
    mpo = margin_per_order(models, x, s["monetary_margin"].to_numpy(float))
    acc = pd.DataFrame(
        {"account_id": s["account_id"], "predicted_orders": pred, "predicted_margin": pred * mpo}
    )
    acc = acc.merge(h[["account_id", "orders", "margin"]], on="account_id", how="left")
    acc = acc.rename(columns={"orders": "actual_orders", "margin": "actual_margin"})
    acc = acc.fillna({"actual_orders": 0.0, "actual_margin": 0.0})
    return BacktestResult(
        cutoff=cutoff,
        holdout_end=latest,
        holdout_length=length,
        n_accounts=len(acc),
        n_new_accounts=int((~h["account_id"].isin(s["account_id"])).sum()),
        predicted_orders=float(acc["predicted_orders"].sum()),
        actual_orders=float(acc["actual_orders"].sum()),
        predicted_margin=float(acc["predicted_margin"].sum()),
        actual_margin=float(acc["actual_margin"].sum()),
        mae_orders=float((acc["predicted_orders"] - acc["actual_orders"]).abs().mean()),
        mae_margin=float((acc["predicted_margin"] - acc["actual_margin"]).abs().mean()),
        params=models.info,
        calibration=_calibration_table(acc),
        accounts=acc,
    )

"""Pipeline stages after size segmentation: customer value, then the key-account definition.

Each stage is a plain function ``(ws, policy, portfolio, facts, con, warnings, **options)
-> (portfolio, side_tables)``; side tables are written into the run folder by name
(DataFrames as Parquet, callables are called with the run folder, anything else as JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keyfolio.workspace import Workspace

if TYPE_CHECKING:
    from rich.console import Console

    from keyfolio.facts import Facts
    from keyfolio.pipeline import ExtraStage, RunResult
    from keyfolio.policy import Policy

DAYS_PER_YEAR = 365.25
_SUM_VALUE = ["clv", "value_generated", "cost_to_serve_pv", "expected_orders",
              "expected_orders_discounted", "headroom", "profit_potential"]  # fmt: skip


def _data_years(facts: Facts, portfolio: pd.DataFrame) -> float:
    first = pd.to_datetime(portfolio["first_order"]).min()
    if facts.as_of is None or pd.isna(first):
        return 1.0
    return max(1.0, (pd.Timestamp(facts.as_of) - first).days / DAYS_PER_YEAR)


def value_engine(*, ws: Workspace, policy: Policy, facts: Facts, con: Any) -> pd.DataFrame | None:
    """The value stage's pass over the order lines (the RFM summary per account), run by the
    pipeline while the engine is still open after the facts stage."""
    from keyfolio.facts import value_lines
    from keyfolio.value.summary import rfm_summary

    if facts.as_of is None:
        return None
    lines = value_lines(con, ws)
    summary = con.to_pyarrow(
        rfm_summary(lines, cutoff=facts.as_of, time_unit_days=policy.value.time_unit_days)
    ).to_pandas()
    summary["account_id"] = summary["account_id"].astype(str)
    return summary


def value_stage(
    *, ws: Workspace, policy: Policy, portfolio: pd.DataFrame, facts: Facts, con: Any = None,
    warnings: list[str], engine: pd.DataFrame | None = None, **_: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """CLV (BG/NBD + Gamma-Gamma on margin), p_alive, ROCI, headroom and profit potential.

    The models see each account's own orders (a group member is a customer of its own);
    a group's row then carries the sum of its family's value (``p_alive``: the highest) and
    its ROCI is recomputed with the group's KAM hours. ``engine``: the RFM summary from
    :func:`value_engine` (computed here with ``con`` when not given).
    """
    from keyfolio.value.clv import account_value

    v = policy.value
    if facts.as_of is None:
        for col in ("clv", "p_alive", "roci", "profit_potential", "headroom"):
            portfolio[col] = np.nan
        portfolio["clv_method"] = "no orders"
        return portfolio, {}
    summary = engine if engine is not None else value_engine(ws=ws, policy=policy, facts=facts,
                                                               con=con)  # fmt: skip
    assert summary is not None
    years = _data_years(facts, portfolio)
    own_rev = portfolio["own_revenue"].astype(float)
    own = pd.DataFrame(
        {
            "account_id": portfolio["account_id"].astype(str),
            # members and group heads' own entities carry no KAM hours: the group does
            "size_tier": np.where(
                portfolio["is_group"] | portfolio["in_group"], "member", portfolio["size_tier"]
            ),
            "cost_to_serve_per_year": portfolio["own_cost_to_serve"].astype(float) / years,
            "cm_pct": np.where(
                own_rev > 0, portfolio["own_contribution_margin"] / own_rev.where(own_rev > 0),
                np.nan,
            ),
            "revenue": portfolio["own_revenue_ttm"].astype(float),
            "wallet_total_spend": portfolio["own_wallet_total_spend"].astype(float),
        }
    )  # fmt: skip
    hours: dict[str, float] = {str(k): float(h) for k, h in policy.selection.hours.items()}
    hours["member"] = 0.0
    value = account_value(
        summary, own, horizon_years=policy.horizon_years, discount_rate=policy.discount_rate,
        time_unit_days=v.time_unit_days, kam_hour_cost=v.kam_hour_cost, tier_hours=hours,
        min_repeat_customers=v.min_repeat_customers,
    )  # fmt: skip
    models = dict(value.attrs.get("value_models", {}))
    if models.get("reason"):
        warnings.append(f"CLV: {models['reason']}; accounts valued with the retention fallback")
    value = value.drop(columns=["account_id"]).set_index(portfolio.index)
    value = _roll_up_value(portfolio, value, policy, hours)
    for col in value.columns:
        portfolio[col] = value[col]
    extras: dict[str, Any] = {"value_models": models}
    roc = _return_on_customer(ws, portfolio, facts, years)
    if roc is not None:
        extras["return_on_customer"] = roc
    return portfolio, extras


def _return_on_customer(
    ws: Workspace, portfolio: pd.DataFrame, facts: Facts, data_years: float
) -> dict[str, Any] | None:
    """Return on customer (Peppers & Rogers) against the previous run, when there is one.

    ROC = (cash flow in the period + change in customer equity) / equity at the start, with
    customer equity = CLV. The period runs from the previous run's last order date to this
    one's; its cash flow is the contribution margin made in it minus the cost-to-serve
    pro-rated to its length. With the same data in both runs the period is empty and ROC is
    the change in the estimate alone.
    """
    from keyfolio.value.clv import return_on_customer

    if not ws.runs():
        return None
    prev_path = ws.run_dir() / "portfolio.parquet"
    if not prev_path.is_file():
        return None
    prev = _read_columns(prev_path, ("account_id", "clv", "selectable"))
    if "clv" not in prev.columns:
        return None
    sel = portfolio["selectable"].astype(bool)
    cur = portfolio.loc[sel]
    period_years = 0.0
    margin = pd.Series(0.0, index=cur.index)
    if facts.since is not None and facts.as_of is not None and "margin_since" in cur.columns:
        period_years = (facts.as_of - facts.since).days / DAYS_PER_YEAR
        margin = cur["margin_since"].astype(float).fillna(0.0)
    cash = margin - cur["cost_to_serve"].astype(float) / data_years * period_years
    ids = cur["account_id"].astype(str)
    prev_sel = prev[prev.get("selectable", pd.Series(True, index=prev.index)).astype(bool)]
    result = return_on_customer(
        pd.DataFrame({"account_id": prev_sel["account_id"].astype(str), "clv": prev_sel["clv"]}),
        pd.DataFrame({"account_id": ids, "clv": cur["clv"].astype(float)}),
        pd.DataFrame({"account_id": ids, "net_contribution": cash}),
    )
    roc = result.per_account.set_index("account_id")["roc"]
    portfolio["return_on_customer"] = portfolio["account_id"].astype(str).map(roc)
    return {
        "previous_run": ws.run_dir().name,
        "period": [str(facts.since) if facts.since else None, str(facts.as_of)],
        "period_years": period_years,
        "portfolio_roc": result.portfolio,
    }


def _roll_up_value(
    portfolio: pd.DataFrame, value: pd.DataFrame, policy: Policy, hours: dict[str, float]
) -> pd.DataFrame:
    from keyfolio.value.clv import annuity_factor, roci_of

    heads = portfolio["is_group"].astype(bool)
    if not heads.any():
        return value
    fam = portfolio["group_id"].fillna(portfolio["account_id"]).astype(str)
    sums = value[_SUM_VALUE].groupby(fam.to_numpy()).sum(min_count=1)
    alive = value["p_alive"].groupby(fam.to_numpy()).max()
    ids = portfolio.loc[heads, "account_id"].astype(str)
    for col in _SUM_VALUE:
        value.loc[heads, col] = ids.map(sums[col]).to_numpy()
    value.loc[heads, "p_alive"] = ids.map(alive).to_numpy()
    tier_hours = portfolio.loc[heads, "size_tier"].astype(str).map(hours).to_numpy(float)
    annuity = annuity_factor(policy.horizon_years, policy.discount_rate)
    kam = tier_hours * policy.value.kam_hour_cost * annuity
    invest = kam + value.loc[heads, "cost_to_serve_pv"].to_numpy(float)
    value.loc[heads, "kam_investment_pv"] = kam
    value.loc[heads, "investment"] = invest
    value.loc[heads, "roci"] = roci_of(value.loc[heads, "value_generated"].to_numpy(float), invest)
    value.loc[heads, "clv_method"] = "group sum"
    return value


def definition_stage(
    *, ws: Workspace, policy: Policy, portfolio: pd.DataFrame, warnings: list[str],
    robustness_draws: int | None = None, **_: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """Scores, the KAM matrix, selection under capacity, decisions, robustness, reconciliation."""
    from keyfolio.db.overrides import list_overrides
    from keyfolio.selection import define_key_accounts, write_definition

    if robustness_draws is not None:
        rob = policy.robustness.model_copy(update={"draws": robustness_draws})
        policy = policy.model_copy(update={"robustness": rob})
    previous = None
    if ws.runs():
        prev_path = ws.run_dir() / "portfolio.parquet"
        if prev_path.is_file():
            previous = _read_columns(prev_path, ("account_id", "is_key"))
    defn = define_key_accounts(
        portfolio, policy=policy, assessments=_frame(ws, "assessments"),
        feedback=_frame(ws, "feedback"), declared=_frame(ws, "declared"), previous=previous,
        overrides=list_overrides(ws),
    )  # fmt: skip
    warnings.extend(defn.warnings)

    def write(folder: Path) -> None:
        write_definition(defn, folder, portfolio=False)  # the pipeline writes the portfolio

    return defn.portfolio, {"definition": write, "_definition": defn}


def _read_columns(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """The named columns (those present) of a previous run's portfolio: reading all of its
    ~100 columns at 1M accounts takes gigabytes."""
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in columns if c in present])


def _frame(ws: Workspace, table: str) -> pd.DataFrame | None:
    if not ws.has_table(table):
        return None
    df = ws.read_table(table).to_pandas()
    for col in df.columns:
        if col.endswith("_id") or col in ("criterion", "metric", "list_name", "assessor"):
            df[col] = df[col].astype("string")
    return df


def _stages() -> list[ExtraStage]:
    from keyfolio.pipeline import ExtraStage

    return [
        ExtraStage("value", value_stage, engine=value_engine),
        ExtraStage("definition", definition_stage),
    ]


def __getattr__(name: str) -> Any:  # STAGES is built lazily to avoid an import cycle
    if name == "STAGES":
        return _stages()
    raise AttributeError(name)


def render_extras(result: RunResult, console: Console) -> None:
    """Print what the stages after segmentation produced (key list, capacity, ...)."""
    defn = result.extras.get("_definition")
    if defn is None:
        return
    from keyfolio.summary_definition import render_definition

    render_definition(defn, result.policy, console)


def finish_demo(ws: Workspace, console: Console) -> None:
    """The last step of ``keyfolio demo``: say where the results are."""
    from keyfolio.report import build_report

    run_dir = ws.run_dir()
    report = build_report(ws)
    console.print(
        f"\nReport: [bold]{report}[/]"
        f"\nResults: {run_dir}/portfolio.parquet (one row per account), run.json (how it was "
        f"made).\nNext: `keyfolio explain {ws.root} ACCOUNT`, "
        f"`keyfolio export {ws.root} --format xlsx` for the CRM."
    )


Writer = Callable[[Path], None]

"""``keyfolio clv check``: can the customer-value models be trusted on this data?"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from keyfolio.cli import app, console
from keyfolio.cli_core import JsonOpt, WorkspaceArg, print_json, user_errors
from keyfolio.workspace import Workspace

clv_app = typer.Typer(help="Customer lifetime value: check the models on your own data.")
app.add_typer(clv_app, name="clv")


def clv_check(ws: Workspace, holdout_months: int) -> Any:
    """Fit on the data before the holdout, predict the holdout, compare (library function)."""
    from keyfolio.facts import connect, value_lines
    from keyfolio.policy import load_policy
    from keyfolio.value.clv import backtest

    policy = load_policy(ws.policy_path)
    con = connect()
    return backtest(
        value_lines(con, ws),
        holdout_months=holdout_months,
        time_unit_days=policy.value.time_unit_days,
        min_repeat_customers=policy.value.min_repeat_customers,
    )


@clv_app.command("check")
def check(
    workspace: WorkspaceArg,
    holdout_months: Annotated[
        int, typer.Option("--holdout-months", help="Months at the end of the data to predict.")
    ] = 6,
    as_json: JsonOpt = False,
) -> None:
    """Backtest: fit before the holdout, predict orders and margin in it, compare."""
    with user_errors():
        result = clv_check(Workspace.open(workspace), holdout_months)
    if as_json:
        print_json(result.to_dict())
        return
    r = result
    console.print(
        f"Fitted on orders up to {r.cutoff}; holdout {r.cutoff} .. {r.holdout_end} "
        f"({holdout_months} months), {r.n_accounts:,} accounts predicted "
        f"({r.n_new_accounts:,} new accounts in the holdout not predicted)."
    )
    t = Table(box=box.SIMPLE_HEAD, title="Holdout: predicted vs actual", title_justify="left")
    for col in ("", "predicted", "actual", "error", "MAE per account"):
        t.add_column(col, justify="left" if not col else "right")
    for label, p, a, mae in (
        ("order days", r.predicted_orders, r.actual_orders, r.mae_orders),
        ("margin", r.predicted_margin, r.actual_margin, r.mae_margin),
    ):
        err = (p - a) / a if a else float("nan")
        t.add_row(label, f"{p:,.0f}", f"{a:,.0f}", f"{err:+.1%}", f"{mae:,.2f}")
    console.print(t)
    cal = Table(box=box.SIMPLE_HEAD, title="Calibration by predicted decile", title_justify="left")
    for col in ("decile", "accounts", "pred. orders", "actual orders", "pred. margin", "actual"):
        cal.add_column(col, justify="right")
    for row in r.calibration.itertuples():
        cal.add_row(
            str(row.decile),
            f"{row.accounts:,}",
            f"{row.predicted_orders:,.2f}",
            f"{row.actual_orders:,.2f}",
            f"{row.predicted_margin:,.0f}",
            f"{row.actual_margin:,.0f}",
        )
    console.print(cal)

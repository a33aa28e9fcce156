"""``keyfolio clv check``: can the customer-value models be trusted on this data?"""

from __future__ import annotations

from typing import Annotated

import typer

from keyfolio.analysis.clv_check import clv_check
from keyfolio.cli import render
from keyfolio.cli.console import handled, print_json
from keyfolio.cli.options import EngineOpt, JsonOpt, WorkspaceArg
from keyfolio.workspace import Workspace


def check(
    workspace: WorkspaceArg,
    holdout_months: Annotated[
        int, typer.Option("--holdout-months", help="Months at the end of the data to predict.")
    ] = 6,
    as_json: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """Backtest: fit before the holdout, predict orders and margin in it, compare."""
    result = clv_check(Workspace.open(workspace), holdout_months, engine)
    if as_json:
        print_json(result.to_dict())
    else:
        render.clv_check(result, holdout_months)


def register(app: typer.Typer) -> None:
    clv = typer.Typer(help="Customer lifetime value: check the models on your own data.")
    clv.command("check")(handled(check))
    app.add_typer(clv, name="clv")

"""Commands about the key-account decision: explain, diff, override."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from keyfolio.cli import app, console, err_console, fail
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace folder.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


@app.command()
def explain(
    workspace: WorkspaceArg,
    account: Annotated[str, typer.Argument(help="The account id.", show_default=False)],
    run: Annotated[str | None, typer.Option(help="Run id (default: the latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Why an account is or is not key, criterion by criterion, and what would flip it."""
    from keyfolio.selection.explain import explain_account, render_explanation

    try:
        ws = Workspace.open(workspace)
        e = explain_account(ws.run_dir(run), account)
    except KeyfolioError as exc:
        fail(str(exc))
    if as_json:
        _echo_json(e.to_dict())
    else:
        render_explanation(e, console)


@app.command()
def diff(
    workspace: WorkspaceArg,
    run_a: Annotated[str | None, typer.Argument(help="Older run (default: second latest).")] = None,
    run_b: Annotated[str | None, typer.Argument(help="Newer run (default: latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who became key, who was deselected between two runs, and why."""
    from keyfolio.selection.explain import diff_runs, render_diff

    try:
        ws = Workspace.open(workspace)
        if (run_a is None) != (run_b is None):
            raise KeyfolioError("give both RUN_A and RUN_B, or neither (the last two runs)")
        if run_a is None or run_b is None:
            runs = ws.runs()
            if len(runs) < 2:
                raise KeyfolioError(
                    f"{workspace}: diff needs two runs, found {len(runs)} "
                    f"(use `keyfolio run {workspace}`)"
                )
            run_a, run_b = runs[-2], runs[-1]
        d = diff_runs(ws.run_dir(run_a), ws.run_dir(run_b))
    except KeyfolioError as exc:
        fail(str(exc))
    if as_json:
        records = json.loads(d.to_json(orient="records"))
        _echo_json({"run_a": run_a, "run_b": run_b, "changes": records})
    else:
        render_diff(d, console, title=f"{run_a} → {run_b}")


@app.command()
def override(
    workspace: WorkspaceArg,
    account: Annotated[str, typer.Argument(help="The account id.", show_default=False)],
    force_in: Annotated[bool, typer.Option("--in", help="Force the account in.")] = False,
    force_out: Annotated[bool, typer.Option("--out", help="Force the account out.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (required to add).")] = None,
    by: Annotated[str | None, typer.Option(help="Who decides (default: your login).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the override.")] = False,
) -> None:
    """Force an account in or out of the key list (with a reason), or remove an override.
    Overrides apply from the next run and count against the KAM capacity."""
    from keyfolio.db.overrides import add_override, remove_override

    who = by or getpass.getuser()
    try:
        ws = Workspace.open(workspace)
        if remove:
            if force_in or force_out:
                raise KeyfolioError("--remove takes no --in/--out")
            if not remove_override(ws, account, who):
                raise KeyfolioError(f"account {account!r} has no active override")
            console.print(f"removed the override of {account}; it applies from the next run")
            return
        if force_in == force_out:
            raise KeyfolioError("say --in or --out (exactly one)")
        if not reason or not reason.strip():
            raise KeyfolioError("an override needs --reason TEXT")
        _warn_unknown(ws, account)
        o = add_override(ws, account, "in" if force_in else "out", reason, who)
    except KeyfolioError as exc:
        fail(str(exc))
    console.print(
        f"override {o.direction} for {o.account_id} by {o.who}: {o.reason} "
        "(applies from the next run)"
    )


def _warn_unknown(ws: Workspace, account: str) -> None:
    """Warn (not fail) when the latest run does not know the account."""
    if not ws.runs():
        return
    import pyarrow.parquet as pq

    from keyfolio.selection.define import FILES

    path = ws.run_dir() / FILES["portfolio"]
    if not path.is_file():
        return
    ids = set(map(str, pq.read_table(path, columns=["account_id"]).column(0).to_pylist()))
    if account not in ids:
        err_console.print(f"[yellow]warning:[/] account {account!r} is not in the latest run")

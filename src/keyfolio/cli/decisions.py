"""Commands about the key-account decision: explain, diff, override."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from keyfolio import runs
from keyfolio.analysis.diff import diff as diff_of
from keyfolio.analysis.explain import explain_account
from keyfolio.cli import render
from keyfolio.cli.console import handled, plain, print_json, warn
from keyfolio.cli.options import JsonOpt, RunOpt, WorkspaceArg
from keyfolio.db.overrides import add_override, remove_override
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

AccountArg = Annotated[str, typer.Argument(help="The account id.", show_default=False)]


def explain(
    workspace: WorkspaceArg, account: AccountArg, run: RunOpt = None, as_json: JsonOpt = False
) -> None:
    """Why an account is or is not key, criterion by criterion, and what would flip it."""
    e = explain_account(runs.get(Workspace.open(workspace), run), account)
    if as_json:
        print_json(e.to_dict())
    else:
        render.explanation(e)


def diff(
    workspace: WorkspaceArg,
    run_a: Annotated[str | None, typer.Argument(help="Older run (default: second latest).")] = None,
    run_b: Annotated[str | None, typer.Argument(help="Newer run (default: latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who became key, who was deselected between two runs, and why."""
    d = diff_of(Workspace.open(workspace), run_a, run_b)
    if as_json:
        print_json(d.to_dict())
    else:
        render.diff(d)


def override(
    workspace: WorkspaceArg,
    account: AccountArg,
    force_in: Annotated[bool, typer.Option("--in", help="Force the account in.")] = False,
    force_out: Annotated[bool, typer.Option("--out", help="Force the account out.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (required to add).")] = None,
    by: Annotated[str | None, typer.Option(help="Who decides (default: your login).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the override.")] = False,
) -> None:
    """Force an account in or out of the key list (with a reason), or remove an override.
    Overrides apply from the next run and count against the KAM capacity."""
    who = by or getpass.getuser()
    ws = Workspace.open(workspace)
    if remove:
        if force_in or force_out:
            raise KeyfolioError("--remove takes no --in/--out")
        if not remove_override(ws, account, who):
            raise KeyfolioError(f"account {account!r} has no active override")
        plain(f"removed the override of {account}; it applies from the next run")
        return
    if force_in == force_out:
        raise KeyfolioError("say --in or --out (exactly one)")
    if not reason or not reason.strip():
        raise KeyfolioError("an override needs --reason TEXT")
    latest = runs.latest(ws)
    if latest is not None and latest.has(runs.PORTFOLIO):
        ids = set(latest.portfolio(["account_id"])["account_id"])
        if account not in ids:
            warn(f"account {account!r} is not in the latest run", stderr=True)
    o = add_override(ws, account, "in" if force_in else "out", reason, who)
    plain(
        f"override {o.direction} for {o.account_id} by {o.who}: {o.reason} "
        "(applies from the next run)"
    )


def register(app: typer.Typer) -> None:
    app.command()(handled(explain))
    app.command()(handled(diff))
    app.command()(handled(override))

"""Commands about the web app: ``user add|list|disable`` and ``serve``."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from keyfolio.cli.console import handled, plain, print_json, show
from keyfolio.cli.options import JsonOpt, WorkspaceArg
from keyfolio.db.engine import ENV_VAR
from keyfolio.db.users import ROLES, add_user, disable_user, list_users
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

EmailArg = Annotated[str, typer.Argument(help="The user's email address.", show_default=False)]
ByOpt = Annotated[
    str | None, typer.Option("--by", help="Who makes the change (default: your login).")
]
WEB_ENV = {"workspace": "KEYFOLIO_WORKSPACE", "secure": "KEYFOLIO_SECURE_COOKIES"}


def add(
    workspace: WorkspaceArg,
    email: EmailArg,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.", show_default=False)],
    by: ByOpt = None,
    manager_id: Annotated[
        str | None,
        typer.Option(
            "--manager-id",
            help="The team table's manager_id this user is (the accounts whose owner it is "
            "are theirs to assess).",
        ),
    ] = None,
) -> None:
    """Add a user of the web app. The password is prompted for (twice), or read as one line
    from standard input when that is not a terminal."""
    ws = Workspace.open(workspace)
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    user = add_user(ws, email, role, password, by or getpass.getuser(), manager_id=manager_id)
    owns = f", manager {user.manager_id}" if user.manager_id else ""
    plain(f"added {user.email} ({user.role}{owns})")


def list_(workspace: WorkspaceArg, as_json: JsonOpt = False) -> None:
    """The users of the web app."""
    users = list_users(Workspace.open(workspace))
    if as_json:
        print_json(
            [
                {
                    "email": u.email,
                    "role": u.role,
                    "disabled": u.disabled,
                    "created_at": u.created_at,
                    "manager_id": u.manager_id,
                }
                for u in users
            ]
        )
        return
    table = Table("email", "role", "manager", "disabled", "created")
    for u in users:
        table.add_row(
            Text(u.email),
            u.role,
            Text(u.manager_id or ""),
            "yes" if u.disabled else "",
            u.created_at.strftime("%Y-%m-%d"),
        )
    show(table)


def disable(workspace: WorkspaceArg, email: EmailArg, by: ByOpt = None) -> None:
    """Disable a user (they are signed out everywhere and cannot sign in)."""
    user = disable_user(Workspace.open(workspace), email, by or getpass.getuser())
    plain(f"disabled {user.email}")


def serve(
    workspace: WorkspaceArg,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    db: Annotated[
        str | None,
        typer.Option("--db", help=f"App database URL (default: ${ENV_VAR} or the workspace's)."),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark cookies Secure (behind HTTPS).")
    ] = False,
) -> None:
    """Serve the web app over WORKSPACE."""
    import uvicorn

    ws = Workspace.open(workspace)
    if not list_users(ws):
        raise KeyfolioError(
            f"no users yet: add one first with `keyfolio user add {workspace} EMAIL --role admin`"
        )
    # The app is built by its factory from these settings (keyfolio.web.settings).
    os.environ[WEB_ENV["workspace"]] = str(ws.root)
    os.environ[WEB_ENV["secure"]] = "1" if secure_cookies else "0"
    if db:
        os.environ[ENV_VAR] = db
    uvicorn.run("keyfolio.web:create_app", factory=True, host=host, port=port)


def register(app: typer.Typer) -> None:
    users = typer.Typer(name="user", help="Users of the web app.", no_args_is_help=True)
    users.command("add")(handled(add))
    users.command("list")(handled(list_))
    users.command("disable")(handled(disable))
    app.add_typer(users)
    app.command()(handled(serve))

"""The ``keyfolio`` command line. Each command is a thin wrapper over one library function.

Library errors (:class:`~keyfolio.errors.KeyfolioError`) become one line on stderr and
exit code 1; usage mistakes exit 2 (typer/click). Commands of larger areas live in
``keyfolio.cli_*`` modules that register themselves on :data:`app`.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from keyfolio.errors import KeyfolioError

app = typer.Typer(
    name="keyfolio",
    help="Keyfolio: a clear, shared, versioned definition of your key accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print a one-line error and exit 1."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def main() -> None:
    """Console-script entry point: run the app, turning library errors into one line."""
    _load_command_modules()
    try:
        app()
    except KeyfolioError as exc:  # pragma: no cover - commands catch their own errors
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)


def _load_command_modules() -> None:
    import keyfolio.cli_core  # noqa: F401
    import keyfolio.cli_report  # noqa: F401
    import keyfolio.cli_selection  # noqa: F401
    import keyfolio.cli_value  # noqa: F401

"""The ``keyfolio`` command line. Each command is a thin wrapper over one library function.

:func:`build_app` registers the command modules on a new Typer app (none of them imports
this package back); :mod:`keyfolio.cli.console` is the only place that prints and turns
library errors into one line on stderr with exit code 1. Usage mistakes exit 2 (click).
"""

from __future__ import annotations

import typer

from keyfolio.cli import data, decisions, run, value


def build_app() -> typer.Typer:
    """The ``keyfolio`` app with every command registered."""
    app = typer.Typer(
        name="keyfolio",
        help="Keyfolio: a clear, shared, versioned definition of your key accounts.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module in (data, run, decisions, value):
        module.register(app)
    return app


def main() -> None:
    """Console-script entry point."""
    build_app()()

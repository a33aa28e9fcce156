"""The ``keyfolio`` command line. Each command is a thin wrapper over one library function.

:func:`build_app` registers the command modules on a new Typer app (none of them imports
this package back); :mod:`keyfolio.cli.console` is the only place that prints and turns
library errors into one line on stderr with exit code 1. Usage mistakes exit 2 (click).
"""

from __future__ import annotations

import os
import sys

import typer

from keyfolio.cli import data, decisions, run, value
from keyfolio.cli.console import warn


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
    sys.unraisablehook = _unraisable
    build_app()()


def _unraisable(u: sys.UnraisableHookArgs) -> None:
    """An error Python cannot raise (a library's stream failing again as it is collected,
    after a full disk already ended the command) is one line, not a traceback."""
    if os.environ.get("KEYFOLIO_DEBUG"):
        sys.__unraisablehook__(u)
        return
    warn(f"while cleaning up: {type(u.exc_value).__name__}: {u.exc_value}", stderr=True)

"""The ``keyfolio`` command line. Each command is a thin wrapper over one library function.

:func:`build_app` registers the command modules on a new Typer app (none of them imports
this package back); :mod:`keyfolio.cli.console` is the only place that prints and turns
library errors into one line on stderr with exit code 1. Usage mistakes (an unknown option,
``--draws -5``) are one line too, with exit code 2 (:func:`main`).
"""

from __future__ import annotations

import os
import sys

import typer

from keyfolio.cli import data, decisions, run, users, value
from keyfolio.cli.console import warn

try:  # typer >= 0.22 carries its own copy of click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer on click itself
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[assignment]


def build_app() -> typer.Typer:
    """The ``keyfolio`` app with every command registered."""
    app = typer.Typer(
        name="keyfolio",
        help="Keyfolio: a clear, shared, versioned definition of your key accounts.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module in (data, run, decisions, value, users):
        module.register(app)
    return app


def main() -> None:
    """Console-script entry point. Click's usage errors, which it prints as a usage line, a
    hint and a framed message, become one line on stderr (exit code 2); the help shown for a
    bare ``keyfolio`` stays as it is."""
    sys.unraisablehook = _unraisable
    try:
        code = build_app()(standalone_mode=False)
    except NoArgsIsHelpError as exc:  # the help, printed while it was made (rich) or here
        if help_text := exc.format_message().strip():
            typer.echo(help_text)
        sys.exit(exc.exit_code)
    except ClickException as exc:
        message = " ".join(exc.format_message().split())
        typer.echo(f"error: {message} (see --help)", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _unraisable(u: sys.UnraisableHookArgs) -> None:
    """An error Python cannot raise (a library's stream failing again as it is collected,
    after a full disk already ended the command) is one line, not a traceback."""
    if os.environ.get("KEYFOLIO_DEBUG"):
        sys.__unraisablehook__(u)
        return
    warn(f"while cleaning up: {type(u.exc_value).__name__}: {u.exc_value}", stderr=True)

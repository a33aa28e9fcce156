"""Arguments and options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace folder.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Run id (default: the latest).")]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Engine URL for the pass over the order lines: duckdb://, "
        "pyspark://?master=local[2], sc://host:port or any Ibis URL (default: "
        "KEYFOLIO_ENGINE, else the policy's [engine] url, else duckdb://).",
        show_default=False,
    ),
]


def at_least(low: int) -> Callable[[int | None], int | None]:
    """An option callback: a whole number >= ``low`` (a usage error saying what it found)."""

    def check(value: int | None) -> int | None:
        if value is not None and value < low:
            raise typer.BadParameter(f"expected a whole number at least {low}, found {value}")
        return value

    return check

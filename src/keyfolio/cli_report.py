"""``keyfolio report``: the report that communicates the key-account definition."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keyfolio.cli import app, console, fail
from keyfolio.errors import KeyfolioError


@app.command()
def report(
    workspace: Annotated[Path, typer.Argument(help="The workspace folder.", show_default=False)],
    run: Annotated[
        str | None, typer.Option("--run", help="Run id (default: the latest run).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="html, pdf or xlsx.", case_sensitive=False)
    ] = "html",
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Output file (default: runs/<run>/report.<format>)."),
    ] = None,
) -> None:
    """Write the report of a run: the definition, the key-account list and why (HTML, PDF, XLSX)."""
    from keyfolio.report import build_report

    try:
        path = build_report(workspace, run_id=run, fmt=fmt.lower(), out=out)
    except KeyfolioError as exc:
        fail(str(exc))
    console.print(f"Report written: {path}", highlight=False, soft_wrap=True)

"""Commands that set a workspace up: init, import, sample."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from keyfolio.cli import render
from keyfolio.cli.console import bars, esc, handled, print_json, say, warn
from keyfolio.cli.options import JsonOpt, WorkspaceArg
from keyfolio.errors import KeyfolioError
from keyfolio.ingest import import_files
from keyfolio.sample import make_sample
from keyfolio.schema import TABLE_DOCS, describe
from keyfolio.workspace import Workspace, init_workspace


def init(
    workspace: WorkspaceArg,
    force: Annotated[bool, typer.Option(help="Overwrite an existing policy file.")] = False,
) -> None:
    """Create a new workspace with a commented policy (keyfolio.toml)."""
    ws = init_workspace(workspace, force=force)
    say(
        f"Workspace ready: {esc(ws.root)}. Edit {esc(ws.policy_path.name)}, then `keyfolio import`."
    )


def import_(
    workspace: WorkspaceArg,
    table: Annotated[
        str | None, typer.Argument(help="Canonical table (one-table form).", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Source file: CSV or text, XLSX, XLS, ODS or Parquet.", show_default=False
        ),  # fmt: skip
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping file (TOML) for several tables.")
    ] = None,
    col: Annotated[
        list[str] | None,
        typer.Option("--col", help="canonical=Source column, repeatable (one-table form)."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="Delimiter: ';', '|+|', tab or whitespace (aligned text).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="File encoding, e.g. latin-1.")] = None,
    date_format: Annotated[
        list[str] | None,
        typer.Option(help='strftime format, e.g. "%d.%m.%Y"; repeatable, tried in order.'),
    ] = None,
    decimal: Annotated[str | None, typer.Option(help='Decimal mark: "." or ",".')] = None,
    sheet: Annotated[
        str | None, typer.Option(help="Spreadsheet sheet: a name or a 1-based number.")
    ] = None,
    header_row: Annotated[int | None, typer.Option(help="1-based row of the header.")] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="No header row: every row is data.")
    ] = False,
    names: Annotated[
        list[str] | None,
        typer.Option(help="Column names of a file without a header: a,b,c (with --no-header)."),
    ] = None,
    missing: Annotated[
        list[str] | None, typer.Option(help="A string that means missing, repeatable.")
    ] = None,
    where: Annotated[str | None, typer.Option(help="Filter on source columns.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import source files into the workspace, validating everything first.

    Either --mapping FILE for several tables, or TABLE FILE [--col canonical=Source ...].
    An import that finds problems lists them all and changes nothing. `keyfolio schema`
    lists the canonical tables and columns (e.g. net_revenue: the line's amount).
    """
    opts = {
        "delimiter": delimiter, "encoding": encoding, "date_format": date_format,
        "decimal": decimal, "sheet": sheet, "header_row": header_row, "missing": missing,
        "where": where, "header": False if no_header else None,
        "names": [n for v in names for n in v.split(",")] if names else None,
    }  # fmt: skip
    try:
        with bars() as cb:
            result = import_files(
                Workspace.open(workspace), table=table, file=file, mapping=mapping,
                columns=col or [], options={k: v for k, v in opts.items() if v is not None},
                progress=cb,
            )  # fmt: skip
    except KeyfolioError as exc:
        if not as_json:
            raise
        problems = getattr(exc, "problems", None)  # an ImportValidationError lists them
        print_json({"ok": False, "error": str(exc).splitlines()[0],
                    "problems": [dataclasses.asdict(p) for p in problems or []]})  # fmt: skip
        raise typer.Exit(1) from None
    if as_json:
        print_json({"ok": True, **dataclasses.asdict(result)})
        return
    for name, rows in result.tables.items():
        where = result.read_from.get(name)
        source = f" from {esc(where)}" if where else ""
        say(f"imported [bold]{esc(name)}[/]: {rows:,} rows{source}")
    for w in result.warnings:
        warn(w)


def sample(
    out: Annotated[Path, typer.Argument(help="Folder for the new sample workspace.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 2000,
    lines: Annotated[int, typer.Option(help="Number of order lines.")] = 200_000,
    years: Annotated[int, typer.Option(help="Years of history.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    sources: Annotated[
        bool, typer.Option("--sources", help="Also write CSV source files and a mapping.")
    ] = False,
) -> None:
    """Write a ready-to-run synthetic workspace at any scale (streams to Parquet)."""
    with bars() as cb:
        info = make_sample(out, accounts=accounts, lines=lines, years=years, seed=seed,
                           sources=sources, progress=cb)  # fmt: skip
    say(f"Sample workspace written to {esc(info.path)} ({info.seconds:.1f} s).")


def schema(
    table: Annotated[
        str | None, typer.Argument(help="One canonical table (default: all).", show_default=False)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The canonical tables and columns an import maps to, with their meaning."""
    rows = describe(table)
    if as_json:
        print_json(rows)
    else:
        render.schema(rows, TABLE_DOCS)


def register(app: typer.Typer) -> None:
    app.command()(handled(init, writes="init"))
    app.command("import")(handled(import_, writes="import"))
    app.command()(handled(sample))
    app.command()(handled(schema))

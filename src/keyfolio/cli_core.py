"""Core commands: init, import, run, export, sample, demo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from keyfolio.cli import app, console, err_console, fail
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace folder.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors into one-line messages and exit code 1."""
    try:
        yield
    except KeyfolioError as exc:
        fail(str(exc))


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


@app.command()
def init(
    workspace: WorkspaceArg,
    force: Annotated[bool, typer.Option(help="Overwrite an existing policy file.")] = False,
) -> None:
    """Create a new workspace with a commented policy (keyfolio.toml)."""
    from keyfolio.workspace_ops import init_workspace

    with user_errors():
        ws = init_workspace(workspace, force=force)
    console.print(
        f"Workspace ready: {ws.root}. Edit {ws.policy_path.name}, then `keyfolio import`."
    )


@app.command("import")
def import_(
    workspace: WorkspaceArg,
    table: Annotated[
        str | None, typer.Argument(help="Canonical table (one-table form).", show_default=False)
    ] = None,
    file: Annotated[
        Path | None, typer.Argument(help="Source file: CSV, XLSX or Parquet.", show_default=False)
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping file (TOML) for several tables.")
    ] = None,
    col: Annotated[
        list[str] | None,
        typer.Option("--col", help="canonical=Source column, repeatable (one-table form)."),
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter.")] = None,
    encoding: Annotated[str | None, typer.Option(help="File encoding, e.g. latin-1.")] = None,
    date_format: Annotated[
        str | None, typer.Option(help='strftime format, e.g. "%d.%m.%Y".')
    ] = None,
    decimal: Annotated[str | None, typer.Option(help='Decimal mark: "." or ",".')] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet name.")] = None,
    header_row: Annotated[int | None, typer.Option(help="1-based row of the header.")] = None,
    missing: Annotated[
        list[str] | None, typer.Option(help="A string that means missing, repeatable.")
    ] = None,
    where: Annotated[str | None, typer.Option(help="Filter on source columns.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import source files into the workspace, validating everything first.

    Either --mapping FILE for several tables, or TABLE FILE [--col canonical=Source ...].
    An import that finds problems lists them all and changes nothing.
    """
    from keyfolio.workspace_ops import run_import

    opts = {
        "delimiter": delimiter, "encoding": encoding, "date_format": date_format,
        "decimal": decimal, "sheet": sheet, "header_row": header_row, "missing": missing,
        "where": where,
    }  # fmt: skip
    with user_errors():
        result = run_import(
            Workspace.open(workspace), table=table, file=file, mapping=mapping,
            columns=col or [], options={k: v for k, v in opts.items() if v is not None},
        )  # fmt: skip
    if as_json:
        print_json(result)
        return
    for name, rows in result["tables"].items():
        console.print(f"imported [bold]{name}[/]: {rows:,} rows")
    for w in result.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")


@app.command()
def run(
    workspace: WorkspaceArg,
    threads: Annotated[
        int | None, typer.Option(help="Engine threads (default: all cores).")
    ] = None,
    draws: Annotated[
        int | None, typer.Option(help="Robustness draws (default: the policy's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole pipeline and write a new run (portfolio.parquet, run.json)."""
    from keyfolio.pipeline import run as run_pipeline
    from keyfolio.summary import render, summarise

    with user_errors():
        ws = Workspace.open(workspace)
        with _spinner(not as_json) as step:
            result = run_pipeline(ws, progress=step, threads=threads, robustness_draws=draws)
    summary = summarise(result.portfolio, result.policy.currency)
    if as_json:
        print_json({"run_id": result.run_id, "run_dir": str(result.run_dir),
                    "summary": summary.to_dict(), "warnings": result.warnings,
                    "timings_s": result.meta["timings_s"]})  # fmt: skip
        return
    render(summary, console)
    from keyfolio.stages import render_extras

    render_extras(result, console)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    total = sum(result.meta["timings_s"].values())
    console.print(f"Run [bold]{result.run_id}[/] written to {result.run_dir} in {total:.1f} s.")


@contextmanager
def _spinner(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as prog:  # fmt: skip
        task = prog.add_task("starting", total=None)

        def step(name: str) -> None:
            prog.update(task, description=f"stage: {name}")

        yield step


@app.command()
def export(
    workspace: WorkspaceArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or xlsx.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file.")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Run id (default: latest).")] = None,
) -> None:
    """Write the portfolio (tier and key flag per account) for a CRM."""
    from keyfolio.export import export_portfolio

    with user_errors():
        if fmt not in ("csv", "xlsx"):
            raise KeyfolioError(f"unknown export format {fmt!r}; expected csv or xlsx")
        path = export_portfolio(Workspace.open(workspace), fmt, output, run_id)  # type: ignore[arg-type]
    console.print(f"Portfolio written to {path}")


@app.command()
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
    from keyfolio.workspace_ops import make_sample

    with user_errors(), _bar() as cb:
        info = make_sample(out, accounts=accounts, lines=lines, years=years, seed=seed,
                           sources=sources, progress=cb)  # fmt: skip
    console.print(f"Sample workspace written to {info.path} ({info.seconds:.1f} s).")


@contextmanager
def _bar() -> Iterator[Any]:
    with Progress(
        TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as prog:  # fmt: skip
        tasks: dict[str, Any] = {}

        def cb(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=total)
            prog.update(tasks[stage], completed=done, total=total)

        yield cb


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="Where to build the demo workspace.")] = Path(
        "keyfolio-demo"
    ),
) -> None:
    """Build the sample workspace, run it, and print where the results are."""
    from keyfolio.workspace_ops import make_sample

    with user_errors():
        with _bar() as cb:
            info = make_sample(folder, progress=cb, replace=True)
        console.print(f"Sample workspace: {info.path}")
    run(info.path, threads=None, draws=None, as_json=False)
    from keyfolio.stages import finish_demo

    finish_demo(Workspace.open(info.path), console)

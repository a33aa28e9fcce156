"""Commands that run the pipeline and publish its result: run, demo, export, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keyfolio import runs
from keyfolio.analysis.summary import records, summarise
from keyfolio.cli import render
from keyfolio.cli.console import bars, esc, handled, plain, print_json, say, spinner, warn
from keyfolio.cli.options import EngineOpt, JsonOpt, RunOpt, WorkspaceArg, at_least
from keyfolio.export import export_portfolio
from keyfolio.pipeline import RunOptions
from keyfolio.pipeline import run as run_pipeline
from keyfolio.report import build_report
from keyfolio.sample import make_sample
from keyfolio.workspace import Workspace


def run(
    workspace: WorkspaceArg,
    threads: Annotated[
        int | None, typer.Option(callback=at_least(1), help="Engine threads (default: all cores).")
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option(callback=at_least(0), help="Robustness draws (default: the policy's)."),
    ] = None,
    as_json: JsonOpt = False,
    engine: EngineOpt = None,
) -> None:
    """Run the whole pipeline and write a new run (portfolio.parquet, run.json)."""
    ws = Workspace.open(workspace)
    with spinner(not as_json) as step:
        result = run_pipeline(ws, RunOptions(threads=threads, robustness_draws=draws,
                                             progress=step, engine=engine))  # fmt: skip
    s = summarise(result.portfolio, result.policy.currency)
    if as_json:
        rec = result.definition.reconciliation
        print_json({"run_id": result.run_id, "run_dir": str(result.run_dir),
                    "summary": s.to_dict(), "limited_by": result.definition.selection["limited_by"],
                    "key_vs_rest": records(rec.economics), "weaker_lists": rec.weaker_lists(),
                    "warnings": result.warnings, "timings_s": result.timings})  # fmt: skip
        return
    render.summary(s)
    render.definition(result.definition)
    for w in result.warnings:
        warn(w)
    total = sum(result.timings.values())
    say(f"Run [bold]{esc(result.run_id)}[/] written to {esc(result.run_dir)} in {total:.1f} s.")


def demo(
    folder: Annotated[Path, typer.Argument(help="Where to build the demo workspace.")] = Path(
        "keyfolio-demo"
    ),
) -> None:
    """Build the sample workspace, run it, write the report and say where the results are."""
    with bars() as cb:
        info = make_sample(folder, progress=cb, replace=True)
    plain(f"Sample workspace: {info.path}")
    run(info.path, threads=None, draws=None, as_json=False, engine=None)
    ws = Workspace.open(info.path)
    report = build_report(ws)
    latest = runs.get(ws)
    say(
        f"\nReport: [bold]{esc(report)}[/]"
        f"\nResults: {esc(latest.dir)}/portfolio.parquet (one row per account), run.json (how "
        f"it was made).\nNext: `keyfolio explain {esc(ws.root)} ACCOUNT`, "
        f"`keyfolio export {esc(ws.root)} --format xlsx` for the CRM."
    )


def export(
    workspace: WorkspaceArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or xlsx.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file.")] = None,
    run_id: RunOpt = None,
) -> None:
    """Write the portfolio (tier and key flag per account) for a CRM."""
    path = export_portfolio(Workspace.open(workspace), fmt, output, run_id)
    plain(f"Portfolio written to {path}")


def report(
    workspace: WorkspaceArg,
    run_id: RunOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="html, pdf or xlsx.", case_sensitive=False)
    ] = "html",
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Output file (default: runs/<run>/report.<format>)."),
    ] = None,
) -> None:
    """Write the report of a run: the definition, the key-account list and why (HTML, PDF, XLSX)."""
    path = build_report(workspace, run_id=run_id, fmt=fmt.lower(), out=out)
    plain(f"Report written: {path}")


def register(app: typer.Typer) -> None:
    app.command()(handled(run, writes="run"))
    app.command()(handled(demo))
    app.command()(handled(export, writes="export"))
    app.command()(handled(report, writes="report"))

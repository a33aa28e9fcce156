"""The report that communicates the key-account definition: HTML, PDF and XLSX.

Generated from a run folder alone (``portfolio.parquet``, ``run.json`` and the run's side
tables), plus the workspace's previous run (changes) and its data tables (data notes, team),
so an old run can always be re-rendered::

    from keyfolio.report import build_report
    path = build_report(Workspace.open("ws"), fmt="html")   # runs/<run_id>/report.html

Sections, in order: the definition, the portfolio at a glance, where the profit comes from,
the KAM matrix, the key-account list with detail blocks, changes since the previous run,
contested accounts and reconciliation, workload, data notes. A section whose inputs are
missing says so in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from keyfolio import runs
from keyfolio.errors import KeyfolioError
from keyfolio.fmt import DASH, num
from keyfolio.report.data import ReportData, load_run
from keyfolio.report.model import Report
from keyfolio.report.render.html import render_html
from keyfolio.report.render.pdf import html_to_pdf
from keyfolio.report.render.xlsx import write_xlsx
from keyfolio.report.sections import (
    changes,
    contested,
    data_notes,
    definition,
    glance,
    key_list,
    matrix,
    profit,
    workload,
)
from keyfolio.workspace import Workspace, atomic_write_text

Format = Literal["html", "pdf", "xlsx"]
FORMATS: tuple[str, ...] = ("html", "pdf", "xlsx")

__all__ = ["FORMATS", "Report", "ReportData", "build_model", "build_report", "load_run"]


def build_model(data: ReportData) -> Report:
    """The report's sections, in order, from the loaded run."""
    sections = [
        definition.definition_section(data),
        glance.glance_section(data),
        profit.profit_section(data),
        matrix.matrix_section(data),
        key_list.key_list_section(data),
        changes.changes_section(data, changes.changes(data)),
        contested.contested_section(data),
        workload.workload_section(data),
        data_notes.data_notes_section(data),
    ]
    m = data.meta
    meta = [
        ("Run", data.run_id),
        ("Data up to", str(m.get("as_of") or DASH)),
        ("Accounts", num(len(data.selectable))),
        ("Key accounts", num(len(data.key))),
        ("Currency", data.currency),
        ("Policy", str((m.get("policy") or {}).get("sha256", ""))[:12]),
    ]
    return Report(
        title="Key accounts: the definition and the list",
        subtitle=f"{data.run.dir.parent.parent.name}: what makes an account key here, which "
        "accounts are, and why",
        run_id=data.run_id,
        sections=sections,
        meta=meta,
    )


def _resolve(ws: Workspace | Path | str, run_id: str | None) -> runs.Run:
    if isinstance(ws, Workspace):
        return runs.get(ws, run_id)
    path = Path(ws)
    if (path / runs.RUN_JSON).is_file() and run_id is None:
        return runs.open_folder(path)  # a run folder given directly
    return runs.get(Workspace.open(path), run_id)


def build_report(
    ws: Workspace | Path | str,
    run_id: str | None = None,
    fmt: str = "html",
    out: Path | str | None = None,
) -> Path:
    """Write the report of a run (the latest by default) as HTML, PDF or XLSX.

    ``ws`` is a workspace (or its folder, or a run folder). The default output is
    ``runs/<run_id>/report.<fmt>``. Returns the path written.
    """
    if fmt not in FORMATS:
        raise KeyfolioError(f"unknown report format {fmt!r}; expected one of html, pdf, xlsx")
    run = _resolve(ws, run_id)
    target = Path(out) if out is not None else run.path(f"report.{fmt}")
    if target.is_dir():
        target = target / f"report-{run.id}.{fmt}"
    if fmt == "xlsx":
        write_xlsx(load_run(run, contributions_for_key_only=True), target)
        return target
    data = load_run(run)
    text = render_html(build_model(data))
    if fmt == "html":
        atomic_write_text(target, text)
        return target
    html_to_pdf(text, target, run_id=data.run_id)
    return target

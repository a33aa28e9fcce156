"""Import source files into a workspace's canonical tables, all-or-nothing.

Every source column is read as it is written (strings for CSV/XLSX), converted to the
canonical kinds with vectorised masks, and checked, one batch at a time, each staged to a
hidden folder of the workspace (:mod:`~keyfolio.ingest.load`,
:mod:`~keyfolio.ingest.staging`); then each table as a whole
(:mod:`~keyfolio.ingest.tables`) and the tables together (:mod:`~keyfolio.ingest.checks`)
are checked by DuckDB over the staged files. Every problem in every file is collected and
raised together as :class:`ImportValidationError`. Only when there are none do the staged
tables replace the workspace's (renames), so a failed import changes nothing, and memory
holds a batch, not the file.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyfolio.errors import ImportValidationError, KeyfolioError, Problem
from keyfolio.ingest.checks import check_references, cost_warning, derive_accounts
from keyfolio.ingest.load import Progress, Staged, stage
from keyfolio.ingest.mapping import TableMapping, check_columns, load_mapping, numbered_columns
from keyfolio.ingest.options import option_style
from keyfolio.ingest.readers import ReadOptions, csv_line_numbers, file_kind, file_sha256
from keyfolio.ingest.sql import col, select
from keyfolio.ingest.staging import Staging
from keyfolio.ingest.tables import check_table, final_view
from keyfolio.ingest.validate import Collector
from keyfolio.schema import spec
from keyfolio.workspace import Workspace

_FIRST_AT = re.compile(r"first at row (\d+)")


@dataclass
class ImportResult:
    """What an import wrote."""

    tables: dict[str, int] = field(default_factory=dict)  # table -> rows written
    warnings: list[str] = field(default_factory=list)
    derived: dict[str, int] = field(default_factory=dict)  # e.g. accounts derived from lines
    sources: dict[str, str] = field(default_factory=dict)  # source file -> sha256
    read_from: dict[str, str] = field(default_factory=dict)  # table -> the file's real path
    filtered: dict[str, int] = field(default_factory=dict)  # table -> rows dropped by `where`


def import_mapping(
    ws: Workspace, mapping_path: Path, progress: Progress | None = None
) -> ImportResult:
    """Import every table of a mapping file; all tables are written or none."""
    return run_import(ws, load_mapping(Path(mapping_path)), progress)


def import_table(
    ws: Workspace,
    table: str,
    file: Path,
    columns: dict[str, str],
    options: ReadOptions | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one table (``--col canonical=Source``; no columns: same-named columns)."""
    spec(table)
    canonical, extra = check_columns(table, dict(columns), "--col")
    mapping = TableMapping(
        table=table,
        file=Path(file),
        columns=canonical,
        keep=extra,
        options=options or ReadOptions(),
        origin=f"import {table}",
    )
    return run_import(ws, [mapping], progress)


def parse_columns(pairs: list[str]) -> dict[str, str]:
    """``["account_id=CustomerID", ...]`` (the one-table form's ``--col``) as a dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        canon, sep, src = pair.partition("=")
        if not sep or not canon.strip() or not src.strip():
            raise KeyfolioError(
                f"--col {pair!r}: expected canonical=Source, e.g. account_id=CustomerID"
            )
        out[canon.strip()] = src.strip()
    return out


def import_files(
    ws: Workspace,
    *,
    table: str | None = None,
    file: Path | None = None,
    mapping: Path | None = None,
    columns: list[str] | None = None,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """``keyfolio import``: with a mapping file (several tables), or one table from one
    file with ``columns`` as ``canonical=Source`` pairs and reading ``options``."""
    if mapping is not None:
        if table is not None or file is not None or columns or options:
            raise KeyfolioError(
                "use either --mapping FILE or TABLE FILE [--col ...] with reading options, not both"
            )
        return import_mapping(ws, mapping, progress)
    if table is None or file is None:
        raise KeyfolioError(
            "expected --mapping FILE, or TABLE FILE (e.g. `accounts customers.csv`)"
        )
    with option_style("cli"):  # hints name --header-row, not the mapping's header_row
        opts = ReadOptions(**options) if options else None
        cols = numbered_columns(parse_columns(columns or []), opts, table)
        return import_table(ws, table, file, cols, opts, progress)


def run_import(
    ws: Workspace, mappings: list[TableMapping], progress: Progress | None = None
) -> ImportResult:
    """Stage every mapping's source, check each table and the tables together, then
    replace the workspace's tables; on any problem nothing is written. ``progress(what,
    done, total)`` hears each file's reading, then the checks (tables done of all)."""
    out = Collector()
    result = ImportResult()
    report = progress or (lambda what, done, total: None)
    with ws.writing("import"), Staging(ws) as st:
        staged: dict[str, Staged] = {}
        for m in mappings:
            got = stage(m, st, out, f"s_{m.table}", progress)
            if got is not None:
                staged[m.table] = got
        rows = {}
        for i, (name, got) in enumerate(staged.items()):
            report("checking tables", i, len(staged) + 1)
            rows[name] = check_table(got, st, out)
        report("checking tables", len(staged), len(staged) + 1)
        failed = {m.table for m in mappings} - set(staged)
        for got in staged.values():
            result.warnings.extend(got.notes)
        check_references(st, staged, failed, out, result.warnings)
        report("checking tables", len(staged) + 1, len(staged) + 1)
        if out.count:
            raise ImportValidationError(_true_rows(mappings, out.finish()))
        derived = derive_accounts(st, staged, result.warnings)
        cost_warning(st, staged, result.warnings)
        queries = {
            name: select([col(c) for c in got.columns], final_view(got))
            for name, got in staged.items()
            if got.rewrite
        }
        files = {name: got.final_path for name, got in staged.items() if not got.rewrite}
        st.publish(queries, {"accounts": derived} if derived is not None else {}, files)
    if derived is not None:
        result.derived["accounts"] = derived.num_rows
    for name, got in staged.items():
        result.tables[name] = rows[name]
        result.sources[got.file] = file_sha256(got.mapping.file)
        # where the file really is (a path out of the mapping's folder, a symlink: said)
        result.read_from[name] = str(got.mapping.file.resolve())
        if got.filtered:
            result.filtered[name] = got.filtered
    return result


def _true_rows(mappings: list[TableMapping], problems: list[Problem]) -> list[Problem]:
    """Problem rows of CSV files as the lines an editor shows (blank lines, quoted breaks)."""
    for m in mappings:
        file = str(m.file)
        if not m.file.is_file() or file_kind(m.file) != "csv":
            continue
        wanted = {p.row for p in problems if p.file == file and p.row is not None}
        for p in problems:
            if p.file == file:
                wanted.update(int(r) for r in _FIRST_AT.findall(p.found))
        lines = csv_line_numbers(m.file, m.options, wanted)
        if all(k == v for k, v in lines.items()):
            continue

        problems = _remap_rows(problems, file, lines)
    return problems


def _remap_rows(problems: list[Problem], file: str, lines: dict[int, int]) -> list[Problem]:
    def fix(match: re.Match[str]) -> str:
        row = int(match.group(1))
        return f"first at row {lines.get(row, row)}"

    out = []
    for p in problems:
        if p.file == file:
            row = lines.get(p.row, p.row) if p.row is not None else None
            p = dataclasses.replace(p, row=row, found=_FIRST_AT.sub(fix, p.found))
        out.append(p)
    return out


__all__ = ["ImportResult", "import_mapping", "import_table", "run_import"]

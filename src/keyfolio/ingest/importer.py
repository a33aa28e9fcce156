"""Import source files into a workspace's canonical tables, all-or-nothing.

Every source column is read as it is written (strings for CSV/XLSX), converted to the
canonical kinds with vectorised masks, and checked; every problem in every file is
collected and raised together as :class:`ImportValidationError`. Only when there are none
are the tables written, through :meth:`Workspace.write_tables` (temporary files, then
renames), so a failed import changes nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keyfolio.errors import ImportValidationError, KeyfolioError, Problem
from keyfolio.ingest.mapping import (
    TableMapping,
    check_columns,
    load_mapping,
    numbered_columns,
)
from keyfolio.ingest.options import option_style
from keyfolio.ingest.readers import (
    ROW,
    ReadOptions,
    csv_line_numbers,
    file_kind,
    file_sha256,
    open_source,
)
from keyfolio.ingest.validate import (
    Collector,
    all_numbers,
    apply_where,
    check_currency,
    check_discount,
    check_non_negative,
    compile_where,
    convert,
    duplicate_rows,
    expectation,
)
from keyfolio.schema import TABLES, spec
from keyfolio.workspace import Workspace

DERIVED_KEY = b"keyfolio.derived_from"
_FIRST_AT = re.compile(r"first at row (\d+)")
BAD = "__bad"  # rows with a conversion problem: left out of cross-table checks


@dataclass
class ImportResult:
    """What an import wrote."""

    tables: dict[str, int] = field(default_factory=dict)  # table -> rows written
    warnings: list[str] = field(default_factory=list)
    derived: dict[str, int] = field(default_factory=dict)  # e.g. accounts derived from lines
    sources: dict[str, str] = field(default_factory=dict)  # source file -> sha256
    filtered: dict[str, int] = field(default_factory=dict)  # table -> rows dropped by `where`


@dataclass
class Loaded:
    """One source converted to its canonical table (plus ``__row``)."""

    mapping: TableMapping
    data: pa.Table
    filtered: int = 0

    @property
    def file(self) -> str:
        return str(self.mapping.file)

    def source_col(self, canon: str) -> str:
        return self.mapping.columns.get(canon, canon)


def import_mapping(ws: Workspace, mapping_path: Path) -> ImportResult:
    """Import every table of a mapping file; all tables are written or none."""
    return run_import(ws, load_mapping(Path(mapping_path)))


def import_table(
    ws: Workspace,
    table: str,
    file: Path,
    columns: dict[str, str],
    options: ReadOptions | None = None,
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
    return run_import(ws, [mapping])


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
) -> ImportResult:
    """``keyfolio import``: with a mapping file (several tables), or one table from one
    file with ``columns`` as ``canonical=Source`` pairs and reading ``options``."""
    if mapping is not None:
        if table is not None or file is not None or columns or options:
            raise KeyfolioError(
                "use either --mapping FILE or TABLE FILE [--col ...] with reading options, not both"
            )
        return import_mapping(ws, mapping)
    if table is None or file is None:
        raise KeyfolioError(
            "expected --mapping FILE, or TABLE FILE (e.g. `accounts customers.csv`)"
        )
    with option_style("cli"):  # hints name --header-row, not the mapping's header_row
        opts = ReadOptions(**options) if options else None
        cols = numbered_columns(parse_columns(columns or []), opts, table)
        return import_table(ws, table, file, cols, opts)


def run_import(ws: Workspace, mappings: list[TableMapping]) -> ImportResult:
    out = Collector()
    loaded: dict[str, Loaded] = {}
    result = ImportResult()
    for m in mappings:
        got = _load(m, out)
        if got is not None:
            loaded[m.table] = got
    failed = {m.table for m in mappings} - set(loaded)
    _check_references(ws, loaded, failed, out, result.warnings)
    if out.count:
        raise ImportValidationError(_true_rows(mappings, out.finish()))
    tables = {name: got.data.drop_columns([ROW, BAD]) for name, got in loaded.items()}
    derived = _derive_accounts(ws, tables, result.warnings)
    if derived is not None:
        tables["accounts"] = derived
        result.derived["accounts"] = derived.num_rows
    _cost_warning(ws, tables, result.warnings)
    ws.write_tables(tables)
    for name, got in loaded.items():
        result.tables[name] = got.data.num_rows
        result.sources[got.file] = file_sha256(got.mapping.file)
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


# -- one source ----------------------------------------------------------------------------


def _suggest(name: str, found: list[str]) -> str:
    lower = {c.lower(): c for c in found}
    if name.lower() in lower:
        return f"; did you mean {lower[name.lower()]!r}?"
    close = difflib.get_close_matches(name, found, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _found_columns(found: list[str]) -> str:
    shown = ", ".join(found[:20]) + (" ..." if len(found) > 20 else "")
    return f"columns {shown}"


def _check_mapped_columns(m: TableMapping, found: list[str], out: Collector) -> bool:
    """Required and mapped columns exist in the source; False when reading is pointless."""
    file, ok = str(m.file), True
    tspec = TABLES[m.table]
    for canon in tspec.required:
        if canon not in m.columns:
            hint = _suggest(canon, found)
            out.add(
                Problem(
                    file,
                    None,
                    canon,
                    f'a column for required {m.table}.{canon} (map it: {canon} = "SourceColumn")',
                    _found_columns(found) + hint,
                )
            )
            ok = False
    pairs: list[tuple[str | None, str]] = [
        *m.columns.items(),
        *((None, k) for k in m.keep.values()),
    ]
    numbered = not m.options.header and m.options.names is None
    for target, source in pairs:
        if source not in found:
            what = f"mapped to {target}" if target else "kept as an attribute"
            if numbered and source.isdigit():  # a column number beyond the last
                expected = f"a column number from 1 to {len(found)} ({what})"
                out.add(Problem(file, None, source, expected, f"column {source}; the rows have "
                                f"{len(found)} fields"))  # fmt: skip
            else:
                expected = f"a column {source!r} ({what})"
                out.add(Problem(file, None, source, expected,
                                _found_columns(found) + _suggest(source, found)))  # fmt: skip
            ok = False
    if m.table == "order_lines":
        cols = set(m.columns)
        if "order_id" not in cols and not {"account_id", "order_date"} <= cols:
            out.add(
                Problem(
                    file,
                    None,
                    None,
                    "order_id (header + lines) or account_id and "
                    "order_date (flat lines) among the mapped columns",
                    f"mapped {', '.join(sorted(cols)) or 'nothing'}",
                )
            )
            ok = False
        if not cols & {"net_revenue", "unit_price"}:
            out.add(
                Problem(
                    file,
                    None,
                    None,
                    "net_revenue or unit_price among the mapped "
                    "columns (revenue = net_revenue or quantity × unit_price × (1 − discount))",
                    f"mapped {', '.join(sorted(cols))}",
                )
            )
            ok = False
    return ok


def _load(m: TableMapping, out: Collector) -> Loaded | None:
    expected = [*m.columns.values(), *m.keep.values()]
    try:
        src = open_source(m.file, m.options, expected)
        if not m.columns:
            m.columns = {c: c for c in TABLES[m.table].names if c in src.columns}
        if not _check_mapped_columns(m, src.columns, out):
            return None
        query = compile_where(m.options.where, src.columns, m.origin) if m.options.where else None
        parts: list[pa.Table] = []
        filtered = 0
        for batch in src.batches:
            if query is not None:
                before = batch.num_rows
                batch = apply_where(batch, query)
                filtered += before - batch.num_rows
            parts.append(_convert_batch(m, batch, out))
    except ImportValidationError as e:
        for p in e.problems:
            out.add(p)
        return None
    data = pa.concat_tables(parts) if parts else None
    if data is None or data.num_rows == 0:
        what = "no rows left after where" if filtered else "no data rows"
        out.add(Problem(str(m.file), None, None, "at least one data row", what))
        return None
    data = _finish_keep(m, data)
    got = Loaded(m, data, filtered)
    _check_table(got, out)
    return got


def _convert_batch(m: TableMapping, batch: pa.Table, out: Collector) -> pa.Table:
    tspec = TABLES[m.table]
    file = str(m.file)
    arrays: dict[str, pa.Array] = {}
    missing: dict[str, pa.Array] = {}
    row_bad = pa.array([False] * batch.num_rows, pa.bool_())
    for canon, source in m.columns.items():
        kind = tspec.column(canon).kind
        c = convert(batch[source], kind, m.options)
        if kind not in ("id", "text"):
            expected = f"{expectation(kind, m.options)} for {canon}"
            out.add_mask(file, source, expected, batch, c.bad, c.raw)
            row_bad = pc.or_(row_bad, c.bad)
        if tspec.column(canon).required:
            out.add_mask(
                file, source, f"a value (required for {m.table}.{canon})", batch, c.missing
            )
            row_bad = pc.or_(row_bad, c.missing)
        arrays[canon] = c.values
        missing[canon] = c.missing
    if m.table == "order_lines":
        _check_revenue_given(m, batch, missing, out)
    for name, source in m.keep.items():
        arrays[name] = convert(batch[source], "text", m.options).values
    arrays[ROW] = batch[ROW].combine_chunks()
    arrays[BAD] = row_bad
    return pa.table(arrays)


def _check_revenue_given(
    m: TableMapping, batch: pa.Table, missing: dict[str, pa.Array], out: Collector
) -> None:
    """Every line needs net_revenue or unit_price (empty fields only; bad values are reported)."""
    given = [c for c in ("unit_price", "net_revenue") if c in missing]
    if not given:
        return
    no_rev = missing[given[0]]
    for c in given[1:]:
        no_rev = pc.and_(no_rev, missing[c])
    expected = "a unit_price or net_revenue on every line: it gives the revenue"
    out.add_mask(str(m.file), m.columns[given[0]], expected, batch, no_rev)


def _finish_keep(m: TableMapping, data: pa.Table) -> pa.Table:
    """Kept extra columns become numbers when every present value is one."""
    for name in m.keep:
        col = data[name].combine_chunks()
        if all_numbers(col, m.options):
            idx = data.column_names.index(name)
            data = data.set_column(idx, name, convert(col, "number", m.options).values)
    return data


def _check_table(got: Loaded, out: Collector) -> None:
    m, t, file = got.mapping, got.data, got.file
    key = TABLES[m.table].key
    if key and all(k in t.column_names for k in key):
        rows, firsts, text = duplicate_rows(t, key)
        if len(rows):
            found = [
                f"{v!r} again (first at row {f})"
                for v, f in zip(text, firsts.to_pylist(), strict=True)
            ]
            col = got.source_col(key[-1])
            out.add_rows(file, col, f"a unique {' + '.join(key)}", rows, found)
    cols = t.column_names
    if "discount" in cols:
        check_discount(t, file, got.source_col("discount"), out)
    if "freight" in cols:
        check_non_negative(t, "freight", file, got.source_col("freight"), out)
    if "currency" in cols:
        check_currency(t, file, got.source_col("currency"), out)


# -- across tables -------------------------------------------------------------------------


def _existing(ws: Workspace, table: str, columns: list[str]) -> pa.Table | None:
    """An already imported table (only ``columns`` that it has), or None."""
    if not ws.has_table(table):
        return None
    path = ws.table_path(table)
    schema = pq.read_schema(path)
    if table == "accounts" and schema.metadata and DERIVED_KEY in schema.metadata:
        return None  # derived accounts are re-derived, never a reference
    have = [c for c in columns if c in schema.names]
    return pq.read_table(path, columns=have)


def _ids(
    ws: Workspace, loaded: dict[str, Loaded], table: str, column: str
) -> tuple[pa.Array | None, str]:
    """Distinct ids of ``table.column`` from this import or the workspace, and where from."""
    if table in loaded:
        got = loaded[table]
        return pc.unique(got.data[column]).drop_null(), got.file
    old = _existing(ws, table, [column])
    if old is None or column not in old.column_names:
        return None, ""
    return pc.unique(old[column]).drop_null(), f"the workspace's {table}"


def _check_references(
    ws: Workspace,
    loaded: dict[str, Loaded],
    failed: set[str],
    out: Collector,
    warnings: list[str],
) -> None:
    """Orders, lines and account ids resolve (tables that failed to load are not used)."""
    order_ids, orders_from = _ids(ws, loaded, "orders", "order_id")
    lines = loaded.get("order_lines")
    if lines is not None and "orders" not in failed:
        _check_line_orders(lines, order_ids, orders_from, out)
    account_ids, accounts_from = _ids(ws, loaded, "accounts", "account_id")
    if account_ids is not None and "accounts" not in failed:
        for table in ("orders", "order_lines"):
            got = loaded.get(table)
            if got is None or "account_id" not in got.data.column_names:
                continue
            t = got.data
            unknown = pc.invert(pc.is_in(t["account_id"], value_set=account_ids))
            unknown = pc.and_(unknown, t["account_id"].is_valid())
            out.add_mask(
                got.file,
                got.source_col("account_id"),
                f"an account_id present in accounts ({accounts_from})",
                t,
                unknown,
                t["account_id"],
            )
        for table in ("costs", "assessments", "wallet", "declared", "feedback"):
            got = loaded.get(table)
            if got is not None:
                _warn_unknown(got, "account_id", account_ids, "accounts", warnings)
    product_ids, _ = _ids(ws, loaded, "products", "product_id")
    if product_ids is not None and lines is not None and "product_id" in lines.data.column_names:
        _warn_unknown(lines, "product_id", product_ids, "products", warnings)
    _warn_orphans(ws, loaded, warnings)


def _warn_orphans(ws: Workspace, loaded: dict[str, Loaded], warnings: list[str]) -> None:
    """Re-importing a referenced table alone can orphan rows already in the workspace."""
    pairs = [("orders", "order_id", "order_lines"), ("accounts", "account_id", "orders"),
             ("accounts", "account_id", "order_lines")]  # fmt: skip
    for parent, column, child in pairs:
        if parent not in loaded or child in loaded:
            continue
        old = _existing(ws, child, [column])
        if old is None or column not in old.column_names:
            continue
        values = old[column]
        known = loaded[parent].data[column]
        orphan = pc.and_(values.is_valid(), pc.invert(pc.is_in(values, value_set=known)))
        n = pc.sum(orphan).as_py() or 0
        if n:
            example = pc.filter(values, orphan)[0].as_py()
            warnings.append(
                f"{n} row(s) of the workspace's {child} refer to a {column} not in the new "
                f"{parent} (e.g. {example!r}); re-import {child} too"
            )


def _warn_unknown(
    got: Loaded, column: str, known: pa.Array, table: str, warnings: list[str]
) -> None:
    values = got.data[column]
    unknown = pc.and_(values.is_valid(), pc.invert(pc.is_in(values, value_set=known)))
    n = pc.sum(unknown).as_py() or 0
    if n:
        example = pc.filter(values, unknown)[0].as_py()
        warnings.append(f"{got.file}: {n} row(s) with a {column} not in {table} (e.g. {example!r})")


def _check_line_orders(
    lines: Loaded, order_ids: pa.Array | None, orders_from: str, out: Collector
) -> None:
    t, file = lines.data, lines.file
    cols = t.column_names
    n = t.num_rows
    resolved = pa.array([False] * n, pa.bool_())
    unknown = resolved
    if "order_id" in cols and order_ids is not None:
        known = pc.fill_null(pc.is_in(t["order_id"], value_set=order_ids), False)
        unknown = pc.and_(t["order_id"].is_valid(), pc.invert(known))
        out.add_mask(
            file,
            lines.source_col("order_id"),
            f"an order_id present in orders ({orders_from})",
            t,
            unknown,
            t["order_id"],
        )
        resolved = pc.and_(known, t["order_id"].is_valid())
    flat_cols = "account_id" in cols and "order_date" in cols
    if "order_id" in cols and order_ids is None and not flat_cols:
        out.add(
            Problem(
                file,
                None,
                lines.source_col("order_id"),
                "an orders table to resolve order_id (import orders in the same mapping, "
                "or map account_id and order_date on the lines)",
                "no orders table in this import or the workspace",
            )
        )
        return
    if flat_cols:
        flat = pc.and_(t["account_id"].is_valid(), t["order_date"].is_valid())
    else:
        flat = pa.array([False] * n, pa.bool_())
    unresolved = pc.invert(pc.or_(pc.or_(resolved, flat), unknown))
    unresolved = pc.and_(unresolved, pc.invert(t[BAD]))  # already reported
    column = lines.source_col("order_id") if "order_id" in cols else lines.source_col("account_id")
    out.add_mask(
        file,
        column,
        "an order_id of a known order, or both account_id and order_date",
        t,
        unresolved,
    )


def _derive_accounts(
    ws: Workspace, tables: dict[str, pa.Table], warnings: list[str]
) -> pa.Table | None:
    """Accounts derived from orders/lines when no accounts table exists anywhere."""
    if "accounts" in tables or not ({"orders", "order_lines"} & set(tables)):
        return None
    if _existing(ws, "accounts", ["account_id"]) is not None:
        return None
    parts: list[pa.Array] = []
    used: list[str] = []
    for name in ("orders", "order_lines"):
        t = tables.get(name)
        if t is None:
            t = _existing(ws, name, ["account_id"])
        if t is not None and "account_id" in t.column_names:
            parts.append(t["account_id"].combine_chunks().drop_null())
            used.append(name)
    if not parts:
        return None
    ids = pc.unique(pa.concat_arrays(parts))
    ids = pc.take(ids, pc.sort_indices(ids))
    table = pa.table({"account_id": ids.cast(pa.string())})
    table = table.replace_schema_metadata({DERIVED_KEY: ",".join(used).encode()})
    warnings.append(
        f"no accounts table: derived {table.num_rows} accounts from {' and '.join(used)} "
        "(import accounts to add names and attributes)"
    )
    return table


def _cost_warning(ws: Workspace, tables: dict[str, pa.Table], warnings: list[str]) -> None:
    lines = tables.get("order_lines")
    if lines is None or "unit_cost" in lines.column_names:
        return
    products = tables.get("products")
    if products is None:
        products = _existing(ws, "products", ["unit_cost"])
    if products is not None and "unit_cost" in products.column_names:
        if products["unit_cost"].null_count < products.num_rows:
            return
    warnings.append(
        "no unit_cost on the order lines or the products: cost of goods is unknown, "
        "so contribution margin will equal revenue"
    )


__all__ = ["ImportResult", "import_mapping", "import_table", "run_import"]

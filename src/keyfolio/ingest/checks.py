"""Checks across tables, in DuckDB over the staged tables and the workspace's: every line
finds its order (or carries its account and date), every order and line its account;
warnings for costs, assessments or lines naming unknown accounts or products, and for rows
a re-import would orphan. Also the accounts derived from the lines when no accounts table
exists anywhere, and the warning when no cost of goods is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from keyfolio.errors import Problem
from keyfolio.ingest.load import BAD, Staged
from keyfolio.ingest.sql import ident, isin, select, text
from keyfolio.ingest.staging import Check, Staging
from keyfolio.ingest.tables import final_view
from keyfolio.ingest.validate import Collector

DERIVED_KEY = b"keyfolio.derived_from"


@dataclass(frozen=True)
class Ids:
    """Where the ids of a referenced table come from: a view and how to name it."""

    view: str
    column: str
    origin: str

    def contains(self, column: str) -> str:
        """SQL: ``column`` is one of these ids (NULL when ``column`` is NULL)."""
        return text(isin(column, self.view, self.column))


class Tables:
    """The tables of one import (staged, by name) and the workspace's, as DuckDB views."""

    def __init__(self, st: Staging, staged: dict[str, Staged], failed: set[str]) -> None:
        self.st = st
        self.staged = staged
        self.failed = failed

    def existing(self, table: str) -> list[str] | None:
        """The columns of a table already in the workspace (viewed as ``w_<table>``), or
        None: not imported, or accounts derived from the lines (re-derived, never a
        reference)."""
        ws = self.st.ws
        if not ws.has_table(table):
            return None
        schema = ws.table_metadata(table).schema.to_arrow_schema()  # damaged: named
        if table == "accounts" and schema.metadata and DERIVED_KEY in schema.metadata:
            return None
        self.st.view(f"w_{table}", ws.table_path(table))
        return list(schema.names)

    def ids(self, table: str, column: str) -> Ids | None:
        """Ids of ``table.column`` from this import or the workspace."""
        if table in self.staged:
            return Ids(final_view(self.staged[table]), column, self.staged[table].file)
        cols = self.existing(table)
        if cols is None or column not in cols:
            return None
        return Ids(f"w_{table}", column, f"the workspace's {table}")


def check_references(
    st: Staging, staged: dict[str, Staged], failed: set[str], out: Collector, warnings: list[str]
) -> None:
    """Orders, lines and account ids resolve (tables that failed to load are not used)."""
    t = Tables(st, staged, failed)
    orders = t.ids("orders", "order_id")
    lines = staged.get("order_lines")
    if lines is not None and "orders" not in failed:
        _check_line_orders(st, lines, orders, out)
    accounts = t.ids("accounts", "account_id")
    if accounts is not None and "accounts" not in failed:
        for table in ("orders", "order_lines"):
            got = staged.get(table)
            if got is None or "account_id" not in got.columns:
                continue
            where = f'"account_id" IS NOT NULL AND NOT {accounts.contains("account_id")}'
            st.report(out, final_view(got), [
                Check(got.file, got.source_col("account_id"),
                      f"an account_id present in accounts ({accounts.origin})", where,
                      '"account_id"'),
            ])  # fmt: skip
        for table in ("costs", "assessments", "wallet", "declared", "feedback"):
            got = staged.get(table)
            if got is not None:
                _warn_unknown(st, got, "account_id", accounts, "accounts", warnings)
    products = t.ids("products", "product_id")
    if products is not None and lines is not None and "product_id" in lines.columns:
        _warn_unknown(st, lines, "product_id", products, "products", warnings)
    _warn_orphans(t, warnings)


def _warn_orphans(t: Tables, warnings: list[str]) -> None:
    """Re-importing a referenced table alone can orphan rows already in the workspace."""
    pairs = [("orders", "order_id", "order_lines"), ("accounts", "account_id", "orders"),
             ("accounts", "account_id", "order_lines")]  # fmt: skip
    for parent, column, child in pairs:
        if parent not in t.staged or child in t.staged:
            continue
        cols = t.existing(child)
        if cols is None or column not in cols:
            continue
        known = Ids(final_view(t.staged[parent]), column, "")
        c = ident(column)
        where = f"{c} IS NOT NULL AND NOT {known.contains(column)}"
        n, example = t.st.rows(select(["count(*)", f"first({c})"], f"w_{child}", where=where))[0]
        if n:
            warnings.append(
                f"{n} row(s) of the workspace's {child} refer to a {column} not in the new "
                f"{parent} (e.g. {example!r}); re-import {child} too"
            )


def _warn_unknown(
    st: Staging, got: Staged, column: str, known: Ids, table: str, warnings: list[str]
) -> None:
    c = ident(column)
    where = f"{c} IS NOT NULL AND NOT {known.contains(column)}"
    query = select(["count(*)", f'arg_min({c}, "__row")'], final_view(got), where=where)
    n, example = st.rows(query)[0]
    if n:
        warnings.append(f"{got.file}: {n} row(s) with a {column} not in {table} (e.g. {example!r})")


def _check_line_orders(st: Staging, lines: Staged, orders: Ids | None, out: Collector) -> None:
    cols, file, view = lines.columns, lines.file, final_view(lines)
    has_order = "order_id" in cols
    flat_cols = "account_id" in cols and "order_date" in cols
    if has_order and orders is None and not flat_cols:
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
    checks: list[Check] = []
    known = unknown = "false"
    if has_order and orders is not None:
        known = f"coalesce({orders.contains('order_id')}, false)"
        unknown = f'("order_id" IS NOT NULL AND NOT {known})'
        checks.append(Check(file, lines.source_col("order_id"),
                            f"an order_id present in orders ({orders.origin})", unknown,
                            '"order_id"'))  # fmt: skip
    flat = '("account_id" IS NOT NULL AND "order_date" IS NOT NULL)' if flat_cols else "false"
    unresolved = f"NOT ({known} OR {flat} OR {unknown}) AND NOT {ident(BAD)}"
    if flat_cols:
        # the line cannot be placed: name the field that is empty, not the order id
        for canon in ("account_id", "order_date"):
            empty = f"{unresolved} AND {ident(canon)} IS NULL"
            checks.append(Check(file, lines.source_col(canon),
                                f"an {canon} on every line whose order is not in an orders table",
                                empty))  # fmt: skip
            unresolved = f"{unresolved} AND {ident(canon)} IS NOT NULL"
    column = lines.source_col("order_id") if has_order else lines.source_col("account_id")
    checks.append(Check(file, column, "an order_id of a known order, or both account_id and "
                        "order_date", unresolved))  # fmt: skip
    st.report(out, view, checks)


def derive_accounts(st: Staging, staged: dict[str, Staged], warnings: list[str]) -> pa.Table | None:
    """Accounts derived from orders/lines when no accounts table exists anywhere."""
    if "accounts" in staged or not ({"orders", "order_lines"} & set(staged)):
        return None
    t = Tables(st, staged, set())
    if t.existing("accounts") is not None:
        return None
    parts: list[exp.Select] = []
    used: list[str] = []
    for name in ("orders", "order_lines"):
        if name in staged:
            view, cols = final_view(staged[name]), staged[name].columns
        else:
            view, cols = f"w_{name}", t.existing(name) or []
        if "account_id" in cols:
            parts.append(select(['CAST("account_id" AS VARCHAR) AS account_id'], view))
            used.append(name)
    if not parts:
        return None
    union: exp.Query = parts[0]
    for p in parts[1:]:
        union = union.union(p, distinct=False)
    query = select(["account_id"], union, where="account_id IS NOT NULL", group=["account_id"],
                   order=["account_id"])  # fmt: skip
    ids = st.con.sql(text(query)).to_arrow_table()
    table = pa.table({"account_id": ids["account_id"].cast(pa.string())})
    table = table.replace_schema_metadata({DERIVED_KEY: ",".join(used).encode()})
    warnings.append(
        f"no accounts table: derived {table.num_rows:,} accounts from {' and '.join(used)} "
        "(import accounts to add names and attributes)"
    )
    return table


def cost_warning(st: Staging, staged: dict[str, Staged], warnings: list[str]) -> None:
    lines = staged.get("order_lines")
    if lines is None or "unit_cost" in lines.columns:
        return
    t = Tables(st, staged, set())
    if "products" in staged:
        view, cols = final_view(staged["products"]), staged["products"].columns
    else:
        view, cols = "w_products", t.existing("products") or []
    if "unit_cost" in cols and st.one(select(['count("unit_cost")'], view)):
        return
    warnings.append(
        "no unit_cost on the order lines or the products: cost of goods is unknown, "
        "so contribution margin will equal revenue"
    )


__all__ = ["DERIVED_KEY", "check_references", "cost_warning", "derive_accounts"]

"""Queries over the staged tables, built with sqlglot: identifiers (column and view names
from mappings) are quoted by the builder, values are parameters (``?``), so no source
text is ever spliced into SQL.

Fragments (``count(*) FILTER (WHERE ...)``, a condition) are parsed by sqlglot as DuckDB
SQL and re-emitted; a fragment that is not one expression is an error in our code.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

Sql = str | exp.Expression
D = "duckdb"


def col(name: str) -> exp.Column:
    """A quoted column."""
    return exp.column(exp.to_identifier(name, quoted=True))


def ident(name: str) -> str:
    """A quoted identifier as text, for fragments."""
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def frag(text: Sql) -> exp.Expression:
    """A fragment of DuckDB SQL as an expression."""
    if isinstance(text, exp.Expression):
        return text
    return exp.maybe_parse(text, dialect="duckdb")


def table(name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name, quoted=True))


def select(
    columns: Sequence[Sql],
    source: str | exp.Query,
    *,
    where: Sql | None = None,
    group: Sequence[Sql] = (),
    order: Sequence[Sql] = (),
    limit: bool = False,
) -> exp.Select:
    """``SELECT columns FROM source`` (a view name or a subquery) with the optional parts;
    ``limit``: a ``LIMIT ?`` whose value is the query's last parameter."""
    src: exp.Expression = table(source) if isinstance(source, str) else source.subquery()
    q = exp.select(*columns, dialect=D).from_(src)
    if where is not None:
        q = q.where(where, dialect=D)
    if group:
        q = q.group_by(*group, dialect=D)
    if order:
        q = q.order_by(*order, dialect=D)
    if limit:
        q = q.limit(exp.Placeholder())
    return q


def isin(column: str, view: str, id_column: str) -> exp.Expression:
    """``column IN (SELECT id_column FROM view WHERE id_column IS NOT NULL)``."""
    ids = select([col(id_column)], view, where=col(id_column).is_(exp.null()).not_())
    return col(column).isin(query=ids)


def text(q: Sql) -> str:
    return q if isinstance(q, str) else q.sql(dialect="duckdb")


__all__ = ["Sql", "col", "frag", "ident", "isin", "select", "table", "text"]

"""The mapping's ``where``: a row filter over the source's columns, checked to be a pure
condition (no statements, subqueries or functions that read files), run by DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from keyfolio.errors import KeyfolioError


def _allowed() -> tuple[type, ...]:
    from sqlglot import exp

    return (
        exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple,
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
        exp.And, exp.Or, exp.Not, exp.In, exp.Between, exp.Is, exp.Like, exp.ILike,
        exp.Neg, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Cast, exp.TryCast, exp.DataType,
        exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.Coalesce, exp.Substring, exp.DPipe,
    )  # fmt: skip


def compile_where(expr_text: str, columns: Sequence[str], origin: str) -> str:
    """Check ``where`` is a pure boolean expression over ``columns``; the DuckDB query text.

    Only comparisons, boolean logic, IN/BETWEEN/LIKE/IS, arithmetic, casts and a few
    string functions are allowed: no statements, no subqueries, no functions that read
    files. Column names are matched case-insensitively and re-quoted.
    """
    import sqlglot
    from sqlglot import exp

    def err(msg: str) -> KeyfolioError:
        return KeyfolioError(f"{origin}: where: {msg} in {expr_text!r}")

    try:
        trees = [t for t in sqlglot.parse(expr_text, dialect="duckdb") if t is not None]
    except sqlglot.errors.ParseError as e:
        raise err(f"not a valid expression ({str(e).splitlines()[0]})") from None
    if len(trees) != 1:
        raise err(f"one condition, found {len(trees)} statements")
    tree = trees[0]
    predicates = (
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
        exp.And, exp.Or, exp.Not, exp.In, exp.Between, exp.Is, exp.Like, exp.ILike,
        exp.Paren, exp.Boolean,
    )  # fmt: skip
    if not isinstance(tree, predicates):
        raise err(f"expected a condition (e.g. \"status <> 'Cancelled'\"), found {tree.key}")
    allowed = _allowed()
    by_lower = {c.lower(): c for c in columns}
    for node in tree.walk():
        if not isinstance(node, allowed):
            raise err(f"{node.key!r} is not allowed (only comparisons, and/or/not, in, like)")
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            raise err("subqueries are not allowed")
        if isinstance(node, exp.Column):
            if node.table:
                raise err(f"qualified column {node.sql()!r} is not allowed")
            name = by_lower.get(node.name.lower())
            if name is None:
                raise err(f"unknown column {node.name!r}; columns: {', '.join(columns)}")
            node.replace(exp.column(exp.to_identifier(name, quoted=True)))
    query = exp.select(exp.Star()).from_("src").where(tree)
    return query.sql(dialect="duckdb")


def apply_where(batch: pa.Table, query: str) -> pa.Table:
    """Rows of ``batch`` where the compiled ``where`` holds (order preserved)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.register("src", batch)
        result = con.sql(query).to_arrow_table()
    except duckdb.Error as e:
        raise KeyfolioError(
            f"where: the filter failed on the data ({str(e).splitlines()[0]})"
        ) from None
    finally:
        con.close()
    return result


__all__ = ["apply_where", "compile_where"]

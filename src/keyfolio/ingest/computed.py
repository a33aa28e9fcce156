"""Computed columns: a canonical column given as an expression over source columns.

    [order_lines]
    columns = { unit_cost = "(Sales - Profit) / Quantity", net_revenue = "Sales" }

A mapping value that names a source column is that column; anything else is parsed as one
expression (sqlglot, DuckDB dialect) and accepted only if it is built from a whitelist:
arithmetic, comparisons and boolean logic inside CASE, COALESCE / NULLIF / GREATEST / LEAST,
ABS / ROUND, casts, and string functions (LOWER, UPPER, TRIM, LENGTH, SUBSTRING, REPLACE,
``||``). No function that reads files or tables, no subquery, no statement; every column it
names must exist in the source (the error lists the columns there are). The SQL sent to the
engine is regenerated from the checked tree.

For a number (or id / text) column, the source columns the expression uses are first
converted as that kind would be (a bad number is reported on its row, the decimal comma
honoured), then the expression is evaluated by DuckDB over the batch. A result that is not
a finite number where every input was present (a division by zero) is a problem on its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from keyfolio.errors import KeyfolioError
from keyfolio.ingest.readers import ReadOptions
from keyfolio.ingest.validate import Collector, convert, flags, number_expectation

_ALLOWED: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.IntDiv,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Is,
    exp.In, exp.Between, exp.Like, exp.ILike,
    exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least, exp.Abs, exp.Round,
    exp.Cast, exp.TryCast, exp.DataType,
    exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.Substring, exp.Replace, exp.DPipe,
)  # fmt: skip
_VALUE = "__value"


@dataclass(frozen=True)
class Computed:
    """A checked expression: its text, the source columns it uses and the SQL to run."""

    text: str
    columns: tuple[str, ...]
    sql: str


def is_expression(text: str) -> bool:
    """Whether a mapping value is an expression rather than a column name."""
    try:
        tree = sqlglot.parse_one(text, dialect="duckdb")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return False
    if isinstance(tree, exp.Literal) and tree.is_int:
        return False  # "2": the second column of a file without a header, not the number 2
    return not isinstance(tree, exp.Column | exp.Identifier)


def parse(text: str, columns: Sequence[str], origin: str, target: str) -> Computed:
    """Check ``text`` (the mapping's value for ``target``) against ``columns``."""

    def err(msg: str) -> KeyfolioError:
        return KeyfolioError(f"{origin}: {target} = {text!r}: {msg}")

    try:
        trees = [t for t in sqlglot.parse(text, dialect="duckdb") if t is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as e:
        raise err(f"not a valid expression ({str(e).splitlines()[0]})") from None
    if len(trees) != 1:
        raise err(f"expected one expression, found {len(trees)} statements")
    tree = trees[0]
    by_lower = {c.lower(): c for c in columns}
    used: list[str] = []
    for node in list(tree.walk()):
        if not isinstance(node, _ALLOWED):
            what = (
                f"function {node.sql_name().lower()}() is not allowed"
                if isinstance(node, exp.Func)
                else f"{node.key!r} is not allowed"
            )
            raise err(f"{what} (arithmetic, CASE, COALESCE and string functions only)")
        if isinstance(node, exp.Column):
            if node.table:
                raise err(f"qualified column {node.sql()!r} is not allowed")
            name = by_lower.get(node.name.lower())
            if name is None:
                shown = ", ".join(columns[:20]) + (" ..." if len(columns) > 20 else "")
                raise err(f"unknown column {node.name!r}; the file has {shown}")
            used.append(name)
            node.replace(exp.column(exp.to_identifier(name, quoted=True)))
    sql = exp.select(tree.as_(_VALUE)).from_("src").sql(dialect="duckdb")
    return Computed(text, tuple(dict.fromkeys(used)), sql)


def evaluate(
    c: Computed, batch: pa.Table, kind: str, options: ReadOptions, file: str, out: Collector
) -> pa.Array:
    """The expression's values over ``batch`` (numbers for number columns, text otherwise,
    to be converted like any source column); bad inputs and results are added to ``out``."""
    inputs = {}
    complete = flags(batch.num_rows, True)
    for col in c.columns:
        if kind == "number":
            conv = convert(batch[col], "number", options)
            out.add_mask(file, col, f"{number_expectation(options.decimal)} (used in "
                         f"{c.text!r})", batch, conv.bad, conv.raw)  # fmt: skip
            for expected, rows in conv.refused:
                said = expected.replace("{column}", repr(c.text))
                out.add_mask(file, col, said, batch, rows, conv.raw)
            inputs[col] = conv.values
            complete = pc.and_(complete, conv.values.is_valid())
        else:
            inputs[col] = batch[col].combine_chunks()
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.register("src", pa.table(inputs) if inputs else pa.table({"_": [0] * batch.num_rows}))
        values = con.sql(c.sql).to_arrow_table()[_VALUE].combine_chunks()
    except duckdb.Error as e:
        raise KeyfolioError(
            f"{file}: {c.text!r} cannot be computed on the data ({str(e).splitlines()[0]})"
        ) from None
    finally:
        con.close()
    if kind != "number":
        return pc.cast(values, pa.string())
    values = pc.cast(values, pa.float64())
    finite = pc.fill_null(pc.is_finite(values), False)
    bad = pc.and_(complete, pc.invert(finite))
    found = pc.cast(values, pa.string())
    out.add_mask(file, ", ".join(c.columns), f"a finite number from {c.text!r} (a division by "
                 "zero?)", batch, bad, found)  # fmt: skip
    return pc.if_else(finite, values, pa.scalar(None, pa.float64()))

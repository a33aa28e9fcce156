"""``must`` / ``never`` rules: boolean SQL expressions over portfolio columns.

A rule is parsed with sqlglot (DuckDB dialect) and accepted only if it is one pure
expression built from a whitelist of node types — comparisons, and/or/not, in, between,
is [not] null, like, arithmetic, literals, parentheses and a few safe functions (abs,
coalesce, lower, upper, length, round, least, greatest) — over known portfolio columns.
Statements (``; DROP ...``), subqueries, unknown columns and any other function (read_csv,
…) are rejected with a :class:`~keyfolio.errors.RuleError` naming the rule and the problem.
Parentheses (and function calls) nest at most :data:`MAX_DEPTH` levels deep: the parser
recurses about 25 Python frames per level, so a deeper rule is refused before it is parsed
(and a rule that still exhausts the parser, such as thousands of chained ``not``, is refused
with the same message).

Accepted rules are evaluated by DuckDB over the portfolio registered as a relation: the SQL
text sent to DuckDB is regenerated from the checked syntax tree, and account values are never
pasted into it. A rule that evaluates to NULL for a row does not match that row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from keyfolio.errors import RuleError

_ALLOWED: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple,
    exp.And, exp.Or, exp.Not, exp.Xor,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.In, exp.Between, exp.Is, exp.Like, exp.ILike,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.IntDiv,
    exp.Abs, exp.Coalesce, exp.Lower, exp.Upper, exp.Length, exp.Round, exp.Least,
    exp.Greatest,
)  # fmt: skip

_ROW = "__keyfolio_row"
_REL = "portfolio"
MAX_DEPTH = 20  # parentheses inside one another in a rule
_TOO_DEEP = f"expected parentheses nested at most {MAX_DEPTH} levels deep"


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Func):
        name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
        return f"function {name.lower()}() is not allowed"
    if isinstance(node, exp.Query | exp.Subquery):
        return "subqueries are not allowed"
    return f"{type(node).__name__} is not allowed in a rule (only a boolean expression)"


def _where(text: str, kind: str, key: str | None) -> str:
    """How an error names a rule: its policy key (``selection.never[2]``), kind and text."""
    shown = text if len(text) <= 60 else text[:59] + "…"
    return f"{key}: {kind} {shown!r}" if key else f"{kind} {shown!r}"


def _depth(text: str) -> int:
    """The deepest nesting of parentheses, counted on the tokens (so not inside strings)."""
    depth = deepest = 0
    for tok in sqlglot.tokenize(text, read="duckdb"):
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
            deepest = max(deepest, depth)
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
    return deepest


def check_syntax(text: str, *, kind: str = "rule", key: str | None = None) -> exp.Expression:
    """Parse one rule and check it is one expression of allowed nodes (its columns are
    checked by :func:`parse_rule`); return its syntax tree. Raises RuleError."""
    where = _where(text, kind, key)
    if not text.strip():
        raise RuleError(f"{where}: empty rule")
    try:
        depth = _depth(text)
        if depth > MAX_DEPTH:
            raise RuleError(f"{where}: {_TOO_DEEP}, found {depth}")
        trees = [t for t in sqlglot.parse(text, read="duckdb") if t is not None]
    except (ParseError, sqlglot.errors.TokenError) as exc:
        first = str(exc).splitlines()[0]
        raise RuleError(f"{where}: not a valid expression ({first})") from None
    except RecursionError:
        raise RuleError(f"{where}: {_TOO_DEEP}, found a rule too deeply nested to read") from None
    if len(trees) != 1:
        raise RuleError(f"{where}: must be one expression, found {len(trees)} statements")
    tree = trees[0]
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise RuleError(f"{where}: {_describe(node)}")
    return tree


def parse_rule(
    text: str, columns: Iterable[str], *, kind: str = "rule", key: str | None = None
) -> exp.Expression:
    """Parse and check one rule; return its syntax tree. Raises RuleError."""
    where = _where(text, kind, key)
    tree = check_syntax(text, kind=kind, key=key)
    known = set(columns)
    for node in tree.find_all(exp.Column):
        if node.table:
            raise RuleError(f"{where}: qualified column {node.sql()!r} is not allowed")
        if node.name not in known:
            raise RuleError(
                f"{where}: unknown column {node.name!r}; known columns: " + ", ".join(sorted(known))
            )
    return tree


def rule_columns(tree: exp.Expression) -> list[str]:
    return sorted({c.name for c in tree.find_all(exp.Column)})


def evaluate_rules(
    portfolio: pd.DataFrame, rules: Sequence[str], *, kind: str, key: str | None = None
) -> tuple[np.ndarray, list[list[str]]]:
    """Evaluate rules over the portfolio; ``key`` names the policy list they come from
    (``selection.must``), so an error names ``selection.must[0]``.

    Returns (any_match: bool array, matched: per row the list of rule texts that matched).
    """
    n = len(portfolio)
    any_match = np.zeros(n, dtype=bool)
    none: list[str] = []  # one list for every row nothing matched (1M lists cost seconds)
    matched: list[list[str]] = [none] * n
    if not rules:
        return any_match, matched
    columns = [str(c) for c in portfolio.columns]
    keys = [f"{key}[{i}]" if key else None for i in range(len(rules))]
    trees = [parse_rule(r, columns, kind=kind, key=k) for r, k in zip(rules, keys, strict=True)]
    con = duckdb.connect()
    try:
        for text, k, tree in zip(rules, keys, trees, strict=True):
            rows = _run(con, portfolio, tree, _where(text, kind, k))
            any_match[rows] = True
            for i in rows.tolist():
                matched[i] = [*matched[i], text]  # a new list: never the shared empty one
    finally:
        con.close()
    return any_match, matched


def _run(
    con: duckdb.DuckDBPyConnection, portfolio: pd.DataFrame, tree: exp.Expression, where: str
) -> np.ndarray:
    cols = rule_columns(tree)
    frame = pd.DataFrame({c: portfolio[c].to_numpy() for c in cols})
    frame[_ROW] = np.arange(len(portfolio), dtype=np.int64)
    con.register(_REL, frame)
    try:
        query = (
            exp.select(exp.column(_ROW, quoted=True))
            .from_(exp.to_identifier(_REL))
            .where(exp.func("coalesce", tree.copy(), exp.false()))
        )
        rows = con.execute(query.sql(dialect="duckdb")).fetchnumpy()[_ROW]
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise RuleError(f"{where}: cannot be evaluated ({first})") from None
    except RecursionError:  # writing the SQL of a tree the parser only just managed
        raise RuleError(f"{where}: {_TOO_DEEP}, found a rule too deeply nested to read") from None
    finally:
        con.unregister(_REL)
    return np.asarray(rows, dtype=np.int64)

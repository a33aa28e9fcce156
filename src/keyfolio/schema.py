"""The canonical tables of a workspace (DESIGN.md, "Canonical tables").

Each table is stored as ``data/<table>.parquet``. Identifier columns are always strings
(leading zeros survive), dates are ``date32``, numbers ``float64``, flags ``bool``.
Columns not listed here may be kept as extra account attributes (stored as strings or
numbers as read).

Every number lies strictly between ``-NUMBER_BOUND`` and ``NUMBER_BOUND`` (1e15): money
and quantities beyond it are no real figure (a sentinel, a unit mix-up, ``1e309``), and
within it a product such as quantity x unit price, or a sum over a billion lines, stays
finite. A column whose ``sign`` is ``">= 0"`` is never negative: a return is a negative
quantity, not a negative price or cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from keyfolio.errors import KeyfolioError

Kind = Literal["id", "text", "number", "date", "bool"]
NUMBER_BOUND = 1e15  # |number| < NUMBER_BOUND, for every number of every table

ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "text": pa.string(),
    "number": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    doc: str = ""  # what the column means, for `keyfolio schema` and the README
    sign: Literal["any", ">= 0"] = "any"  # numbers: ">= 0" refuses a negative value
    sign_hint: str = ""  # why, for the message (e.g. where a return goes instead)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    keep_extra: bool = False  # extra source columns are kept (account attributes)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def arrow_schema(self, present: list[str] | None = None) -> pa.Schema:
        cols = [c for c in self.columns if present is None or c.name in present]
        return pa.schema([pa.field(c.name, ARROW_TYPES[c.kind]) for c in cols])


def _c(name: str, kind: Kind, required: bool = False, doc: str = "") -> Column:
    return Column(name, kind, required, doc or DOCS.get(name, ""), *SIGNS.get(name, ("any", "")))


_RETURN = "a return is a negative quantity, not a negative {what}"
SIGNS: dict[str, tuple[Literal["any", ">= 0"], str]] = {
    "freight": (">= 0", ""),
    "unit_price": (">= 0", _RETURN.format(what="price")),
    "unit_cost": (">= 0", _RETURN.format(what="cost")),
    "total_spend": (">= 0", ""),
    "capacity_hours": (">= 0", ""),
}


DOCS = {
    "account_id": "the customer's id in your systems (kept as text: leading zeros survive)",
    "name": "the display name",
    "parent_id": "the account's parent: a group's figures roll up to its ultimate parent",
    "country": "country", "region": "sales region", "industry": "industry or segment",
    "owner": "the key-account manager who owns it (a manager_id of the team table)",
    "customer_since": "first day of the relationship (growth needs the history to cover its base)",
    "market_leader": "true when the customer leads its market",
    "status": "e.g. active / closed (the template never makes a closed account key)",
    "product_id": "the product's id", "category": "product category (breadth of buying)",
    "unit_cost": "variable cost per unit (a line's own, else the product's standard cost)",
    "order_id": "the order's id (lines take account and date from the order header)",
    "order_date": "the order's date",
    "freight": "freight charged to us for the order: a cost-to-serve activity",
    "currency": "ISO currency code; one currency in the whole import",
    "quantity": "units; negative = a return",
    "unit_price": "list or invoice price per unit",
    "discount": "share off the price, 0-1 (revenue = quantity x unit_price x (1 - discount))",
    "net_revenue": "the line's amount after discount; when given it is the revenue",
    "activity": "a cost-to-serve activity (visits, special shipping, ...)",
    "date": "when it happened", "amount": "money spent on it",
    "criterion": "the policy criterion assessed (assessment:<criterion>)",
    "score": "the assessor's score on the [assessments] scale", "assessor": "who assessed",
    "comment": "why", "total_spend": "the customer's total buying in our categories",
    "period": "the period the spend is for (the latest one is used)",
    "list_name": "whose list (leadership, a region, a rep); 'targets' names key-account targets",
    "metric": "what the customer rated (feedback:<metric>)", "value": "the rating",
    "manager_id": "the manager's id (accounts.owner)",
    "capacity_hours": "KAM hours a year the manager has for key accounts",
}  # fmt: skip


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in [
        TableSpec(
            "accounts",
            (
                _c("account_id", "id", True),
                _c("name", "text"),
                _c("parent_id", "id"),
                _c("country", "text"),
                _c("region", "text"),
                _c("industry", "text"),
                _c("owner", "id"),
                _c("customer_since", "date"),
                _c("market_leader", "bool"),
                _c("status", "text"),
            ),
            key=("account_id",),
            keep_extra=True,
        ),
        TableSpec(
            "products",
            (
                _c("product_id", "id", True),
                _c("name", "text"),
                _c("category", "text"),
                _c("unit_cost", "number"),
            ),
            key=("product_id",),
            keep_extra=True,
        ),
        TableSpec(
            "orders",
            (
                _c("order_id", "id", True),
                _c("account_id", "id", True),
                _c("order_date", "date", True),
                _c("freight", "number"),
                _c("status", "text"),
                _c("currency", "text"),
            ),
            key=("order_id",),
        ),
        TableSpec(
            "order_lines",
            (
                _c("order_id", "id"),
                _c("account_id", "id"),
                _c("order_date", "date"),
                _c("product_id", "id"),
                _c("quantity", "number", True),
                _c("unit_price", "number"),
                _c("discount", "number"),
                _c("net_revenue", "number"),
                _c("unit_cost", "number"),
                _c("currency", "text"),
            ),
        ),
        TableSpec(
            "costs",
            (
                _c("account_id", "id", True),
                _c("activity", "text", True),
                _c("date", "date"),
                _c("amount", "number"),
                _c("quantity", "number", doc="how many, priced at the policy's rate for it"),
            ),
        ),
        TableSpec(
            "assessments",
            (
                _c("account_id", "id", True),
                _c("criterion", "text", True),
                _c("score", "number", True),
                _c("assessor", "text"),
                _c("date", "date"),
                _c("comment", "text"),
            ),
        ),
        TableSpec(
            "wallet",
            (
                _c("account_id", "id", True),
                _c("total_spend", "number", True),
                _c("period", "text"),
            ),
        ),
        TableSpec(
            "declared",
            (
                _c("list_name", "text", True),
                _c("account_id", "id", True),
            ),
            key=("list_name", "account_id"),
        ),
        TableSpec(
            "feedback",
            (
                _c("account_id", "id", True),
                _c("metric", "text", True),
                _c("value", "number", True),
                _c("date", "date"),
            ),
        ),
        TableSpec(
            "team",
            (
                _c("manager_id", "id", True),
                _c("name", "text"),
                _c("capacity_hours", "number"),
                _c("region", "text"),
            ),
            key=("manager_id",),
        ),
    ]
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)

TABLE_DOCS = {
    "accounts": "one row per customer; other source columns can be kept as attributes",
    "products": "one row per product",
    "orders": "order headers (ERP style)",
    "order_lines": "header + lines (order_id), or flat lines (account_id + order_date)",
    "costs": "cost-to-serve activities per account",
    "assessments": "people's judgement on the policy's criteria",
    "wallet": "the customer's total spend in our categories (share of wallet)",
    "declared": "the key-account lists people already carry",
    "feedback": "how the customer rates us",
    "team": "the key-account managers",
}


def describe(table: str | None = None) -> list[dict[str, object]]:
    """The canonical tables and columns with their meaning (``keyfolio schema``)."""
    names = [table] if table is not None else list(TABLE_NAMES)
    out: list[dict[str, object]] = []
    for name in names:
        t = spec(name)
        for c in t.columns:
            out.append({"table": t.name, "column": c.name, "kind": c.kind,
                        "required": c.required, "meaning": c.doc})  # fmt: skip
    return out


def spec(table: str) -> TableSpec:
    """The spec of a canonical table, or a clear error listing the known tables."""
    try:
        return TABLES[table]
    except KeyError:
        raise KeyfolioError(
            f"unknown table {table!r}; expected one of: {', '.join(TABLE_NAMES)}"
        ) from None

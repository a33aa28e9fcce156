"""The canonical tables of a workspace (DESIGN.md, "Canonical tables").

Each table is stored as ``data/<table>.parquet``. Identifier columns are always strings
(leading zeros survive), dates are ``date32``, numbers ``float64``, flags ``bool``.
Columns not listed here may be kept as extra account attributes (stored as strings or
numbers as read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from keyfolio.errors import KeyfolioError

Kind = Literal["id", "text", "number", "date", "bool"]

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


def _c(name: str, kind: Kind, required: bool = False) -> Column:
    return Column(name, kind, required)


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
                _c("quantity", "number"),
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


def spec(table: str) -> TableSpec:
    """The spec of a canonical table, or a clear error listing the known tables."""
    try:
        return TABLES[table]
    except KeyError:
        raise KeyfolioError(
            f"unknown table {table!r}; expected one of: {', '.join(TABLE_NAMES)}"
        ) from None

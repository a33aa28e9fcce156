"""ERP-style CSV exports of the sample and the ``mapping.toml`` that imports them.

The exports use the column names, date formats and number formats a real system would
(``CustomerID``, ``OrderDate`` as ``%m/%d/%Y``, a German cost export with ``;``, decimal
comma, ``%d.%m.%Y`` dates and Windows-1252 encoding). ``mapping.toml`` follows the
DESIGN "Import" format exactly: per canonical table a ``file``, ``columns`` (canonical =
source) and reading options, so importing it reproduces the canonical tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

# table: (file, {canonical column: source column}, reading options)
SOURCES: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "accounts": (
        "customers.csv",
        {
            "account_id": "CustomerID",
            "name": "CompanyName",
            "parent_id": "ParentCustomerID",
            "country": "Country",
            "region": "SalesRegion",
            "industry": "Industry",
            "owner": "AccountManagerID",
            "customer_since": "CustomerSince",
            "market_leader": "MarketLeader",
            "status": "Status",
            "employees": "Employees",
            "segment": "Segment",
        },
        {"date_format": "%Y-%m-%d"},
    ),
    "products": (
        "products.csv",
        {
            "product_id": "ProductID",
            "name": "ProductName",
            "category": "Category",
            "unit_cost": "StandardCost",
            "list_price": "ListPrice",
        },
        {},
    ),
    "orders": (
        "orders.csv",
        {
            "order_id": "OrderID",
            "account_id": "CustomerID",
            "order_date": "OrderDate",
            "freight": "Freight",
            "status": "OrderStatus",
        },
        {"date_format": "%m/%d/%Y"},
    ),
    "order_lines": (
        "order_lines.csv",
        {
            "order_id": "OrderID",
            "account_id": "CustomerID",
            "order_date": "OrderDate",
            "product_id": "ProductID",
            "quantity": "Qty",
            "unit_price": "UnitPrice",
            "discount": "Disc",
        },
        {"date_format": "%m/%d/%Y"},
    ),
    "costs": (
        "service_costs.csv",
        {
            "account_id": "Kundennummer",
            "activity": "Tätigkeit",
            "date": "Datum",
            "amount": "Betrag",
            "quantity": "Menge",
        },
        {"delimiter": ";", "decimal": ",", "date_format": "%d.%m.%Y", "encoding": "cp1252"},
    ),
    "assessments": (
        "account_assessments.csv",
        {
            "account_id": "Account",
            "criterion": "Criterion",
            "score": "Score",
            "assessor": "AssessedBy",
            "date": "AssessedOn",
            "comment": "Comment",
        },
        {"date_format": "%d/%m/%Y"},
    ),
    "wallet": (
        "wallet_estimates.csv",
        {"account_id": "CustomerID", "total_spend": "EstimatedCategorySpend", "period": "Period"},
        {},
    ),
    "declared": ("key_account_lists.csv", {"list_name": "List", "account_id": "CustomerID"}, {}),
    "feedback": (
        "survey_results.csv",
        {"account_id": "CustomerID", "metric": "Metric", "value": "Value", "date": "SurveyDate"},
        {"date_format": "%Y-%m-%d"},
    ),
    "team": (
        "kam_team.csv",
        {
            "manager_id": "ManagerID",
            "name": "ManagerName",
            "capacity_hours": "CapacityHours",
            "region": "Region",
        },
        {},
    ),
}


def to_source(table_name: str, table: pa.Table) -> pa.Table:
    """A canonical table as its source export: renamed columns, formatted dates/numbers."""
    _, columns, options = SOURCES[table_name]
    fmt = options.get("date_format", "%Y-%m-%d")
    comma = options.get("decimal") == ","
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_date32(col.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), format=fmt)
        elif comma and pa.types.is_floating(col.type):
            col = pc.replace_substring(col.cast(pa.string()), ".", ",")
        out[columns[name]] = col
    return pa.table(out)


class SourceWriter:
    """Writes the CSV exports; order lines arrive chunk by chunk from the generator."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pacsv.CSVWriter] = {}

    def _append(self, table_name: str, table: pa.Table) -> None:
        file, _, options = SOURCES[table_name]
        src = to_source(table_name, table)
        encoding = options.get("encoding", "utf-8")
        if encoding.lower().replace("-", "") != "utf8":
            self._append_encoded(self.folder / file, src, options, encoding)
            return
        if table_name not in self._writers:
            opts = pacsv.WriteOptions(delimiter=options.get("delimiter", ","))
            self._writers[table_name] = pacsv.CSVWriter(
                self.folder / file, src.schema, write_options=opts
            )
        self._writers[table_name].write_table(src)

    def _append_encoded(
        self, path: Path, src: pa.Table, options: dict[str, str], encoding: str
    ) -> None:
        first = not path.exists()
        sink = pa.BufferOutputStream()
        opts = pacsv.WriteOptions(include_header=first, delimiter=options.get("delimiter", ","))
        pacsv.write_csv(src, sink, write_options=opts)
        text = sink.getvalue().to_pybytes().decode("utf-8")
        with path.open("ab") as fh:
            fh.write(text.encode(encoding))

    def lines_sink(self, orders: pa.Table, lines: pa.Table) -> None:
        self._append("orders", orders)
        self._append("order_lines", lines)

    def write_tables(self, small: dict[str, pa.Table], data_dir: Path) -> None:
        for name, table in small.items():
            self._append(name, table)
        costs = pq.ParquetFile(data_dir / "costs.parquet")
        for batch in costs.iter_batches(batch_size=500_000):
            self._append("costs", pa.Table.from_batches([batch]))

    def finish(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers.clear()
        (self.folder / "mapping.toml").write_text(mapping_toml(), encoding="utf-8")


def _toml_value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def mapping_toml() -> str:
    """The import mapping (DESIGN, "Import") for the exports written by :class:`SourceWriter`."""
    out = [
        '# Import mapping for the sample\'s ERP-style exports (see DESIGN.md, "Import").',
        "# keyfolio import WORKSPACE --mapping mapping.toml",
        "",
    ]
    for table, (file, columns, options) in SOURCES.items():
        cols = ", ".join(f"{k} = {_toml_value(v)}" for k, v in columns.items())
        out.append(f"[{table}]")
        out.append(f"file = {_toml_value(file)}")
        out.append(f"columns = {{ {cols} }}")
        for key, value in options.items():
            out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)

"""The facts stage: order lines -> per-account facts.

This is the only stage that touches order-line volume. It is written as Ibis expressions,
so it runs on DuckDB in process by default and, unchanged, on any Ibis backend. Order
lines never pass through pandas: the engine aggregates and returns Arrow tables whose
size is accounts x years.

The stage makes one pass over the order lines, grouped by (account, calendar year); the
per-account facts are rolled up from that small table. Cost-to-serve per activity comes
from the ``costs`` table (amount, or quantity x the policy's rate) plus freight from the
order headers.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keyfolio.errors import PolicyError, WorkspaceError, first_line
from keyfolio.policy import Policy
from keyfolio.value.summary import MAX_AMOUNT
from keyfolio.workspace import Workspace

FREIGHT = "freight"


@dataclass
class Facts:
    """What the facts stage hands to the economics stage (all Arrow, small)."""

    as_of: dt.date | None
    first: dt.date | None  # first order date in the data
    since: dt.date | None  # the previous run's as_of, when margin_since was computed
    yearly_parquet: bytes  # account x year facts, zstd Parquet (kept small until written)
    accounts: pa.Table  # per account: revenue, cogs, margin, orders, first/last order, ttm...
    costs: pa.Table  # account_id, activity, amount (cost-to-serve per activity)
    categories: int = 0  # product categories the breadth is counted over (0: not known)
    warnings: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def yearly(self) -> pa.Table:
        """account_id, year, revenue, cogs, margin, lines, orders, ... per calendar year."""
        return pq.read_table(pa.BufferReader(self.yearly_parquet))


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


@dataclass(frozen=True)
class ColumnStats:
    rows: int
    nulls: int
    min: Any
    max: Any


def column_stats(path: Path, column: str) -> ColumnStats | None:
    """Row count, nulls, min and max of a column from a Parquet footer (None if unknown)."""
    meta = pq.read_metadata(path)
    try:
        idx = meta.schema.to_arrow_schema().get_field_index(column)
    except Exception:  # pragma: no cover - unreadable schema
        return None
    if idx < 0:
        return None
    nulls, lo, hi = 0, None, None
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(idx).statistics
        if st is None or not st.has_null_count:
            return None
        nulls += st.null_count
        if meta.row_group(g).num_rows == st.null_count:
            continue
        if not st.has_min_max:
            return None
        lo = st.min if lo is None or st.min < lo else lo
        hi = st.max if hi is None or st.max > hi else hi
    return ColumnStats(meta.num_rows, nulls, lo, hi)


DEFAULT_MEMORY_LIMIT = "3GB"


def connect(threads: int | None = None, memory_limit: str | None = None) -> Any:
    """An in-process DuckDB connection through Ibis (the default engine).

    ``memory_limit`` (default: the environment variable KEYFOLIO_MEMORY_LIMIT, else 3GB)
    bounds the engine's memory; beyond it DuckDB spills to disk. At 100M order lines a
    run then peaks at about 3.3 GB at the same speed.
    """
    limit = memory_limit or os.environ.get("KEYFOLIO_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    return ibis.duckdb.connect(threads=threads or os.cpu_count() or 1, memory_limit=limit)


@contextlib.contextmanager
def reading(ws: Workspace) -> Iterator[None]:
    """The engine's errors while it reads the tables (a damaged table whose footer reads
    but whose pages do not, values no column type can hold) as one error naming the
    tables' folder, not the engine's traceback."""
    try:
        yield
    except duckdb.Error as exc:
        raise WorkspaceError(
            f"{ws.data_dir}: the engine could not read the tables ({', '.join(ws.tables())}): "
            f"{first_line(exc)}; if a table is damaged, import it again"
        ) from exc


def release(con: Any) -> None:
    """Close an engine connection: its buffer pool (up to the memory limit) is given back."""
    con.disconnect()


def _col_or_null(t: ir.Table, name: str, typ: str) -> ir.Value:
    if name in t.columns:
        return t[name]
    return ibis.null(typ)


def order_lines(con: Any, ws: Workspace) -> tuple[ir.Table, list[str]]:
    """The normalised order lines as an Ibis expression.

    Columns: account_id, order_id, order_date, quantity, revenue, cost. Lines that carry
    only an order_id take account_id and order_date from the order header; lines without
    a unit cost take the product's standard cost.
    """
    warnings: list[str] = []
    if not ws.has_table("order_lines"):
        raise WorkspaceError(f"{ws.root}: no order_lines imported yet (use `keyfolio import`)")
    lines = con.read_parquet(str(ws.table_path("order_lines")), table_name="kf_order_lines")
    has_orders = ws.has_table("orders")
    needs_header = not {"account_id", "order_date"} <= set(lines.columns)
    if not needs_header and has_orders and "order_id" in lines.columns:
        path = ws.table_path("order_lines")
        stats = [column_stats(path, c) for c in ("account_id", "order_date")]
        if all(st is not None for st in stats):  # the Parquet footer knows: no scan needed
            needs_header = any(st is not None and st.nulls > 0 for st in stats)
        else:
            nulls = lines.aggregate(
                n=(lines.account_id.isnull() | lines.order_date.isnull()).sum()
            ).to_pyarrow()
            needs_header = bool(nulls["n"][0].as_py())
    if needs_header:
        if not has_orders or "order_id" not in lines.columns:
            raise WorkspaceError(
                f"{ws.root}: order_lines carry no account_id/order_date and there is no "
                "orders table to take them from; import orders or map account_id and order_date"
            )
        orders = con.read_parquet(str(ws.table_path("orders")), table_name="kf_orders_hdr")
        hdr = orders.select(
            order_id=orders.order_id, h_account_id=orders.account_id, h_date=orders.order_date
        )
        lines = lines.left_join(hdr, "order_id")
        lines = lines.mutate(
            account_id=ibis.coalesce(
                _col_or_null(lines, "account_id", "string"), lines.h_account_id
            ),
            order_date=ibis.coalesce(_col_or_null(lines, "order_date", "date"), lines.h_date),
        )
    unit_cost: ir.Value = _col_or_null(lines, "unit_cost", "float64")
    category_bit: ir.Value = ibis.null("int64")
    if ws.has_table("products") and "product_id" in lines.columns:
        products = con.read_parquet(str(ws.table_path("products")), table_name="kf_products")
        wanted: dict[str, ir.Value] = {}
        if "unit_cost" in products.columns:
            wanted["p_cost"] = products.unit_cost
        bits = category_bits(ws)
        if bits:
            cats = ibis.memtable({"p_category": list(bits), "p_bit": list(bits.values())})
            products = products.left_join(cats, products.category.cast("string") == cats.p_category)
            wanted["p_bit"] = products.p_bit
        if wanted:
            prod = products.select(product_id=products.product_id, **wanted)
            lines = lines.left_join(prod, "product_id")
            if "p_cost" in wanted:
                unit_cost = ibis.coalesce(_col_or_null(lines, "unit_cost", "float64"), lines.p_cost)
            if "p_bit" in wanted:
                category_bit = lines.p_bit.cast("int64")
    qty = lines.quantity.cast("float64")
    discount = ibis.coalesce(_col_or_null(lines, "discount", "float64"), 0.0)
    gross = qty * _col_or_null(lines, "unit_price", "float64") * (1.0 - discount)
    revenue = ibis.coalesce(_col_or_null(lines, "net_revenue", "float64"), gross, 0.0)
    cost = qty * ibis.coalesce(unit_cost, 0.0)
    order_key = (
        lines.order_id
        if "order_id" in lines.columns
        else lines.order_date.cast("string")  # flat lines: one order per account and day
    )
    out = lines.select(
        account_id=lines.account_id,
        order_id=order_key,
        order_date=lines.order_date,
        quantity=qty,
        revenue=revenue,
        cost=cost,
        known_cost=unit_cost.notnull(),
        category_bit=category_bit,
    )
    return out, warnings


MAX_CATEGORIES = 62  # product categories held as bits of one 64-bit mask per account


def category_bits(ws: Workspace) -> dict[str, int]:
    """Each product category's bit position (categories in name order), when the products
    carry at most ``MAX_CATEGORIES`` of them; empty otherwise."""
    if not ws.has_table("products"):
        return {}
    path = ws.table_path("products")
    if "category" not in pq.read_schema(path).names:
        return {}
    cats = pq.read_table(path, columns=["category"]).column(0).drop_null().unique()
    names = sorted(str(c) for c in cats.to_pylist())
    return {c: i for i, c in enumerate(names)} if len(names) <= MAX_CATEGORIES else {}


def value_lines(con: Any, ws: Workspace) -> ir.Table:
    """The order lines as the value models read them: account_id, order_date, revenue,
    margin (contribution margin of the line)."""
    lines, _ = order_lines(con, ws)
    return lines.select(
        account_id=lines.account_id,
        order_date=lines.order_date,
        revenue=lines.revenue,
        margin=lines.revenue - lines.cost,
    )


def yearly_facts(
    lines: ir.Table,
    as_of: dt.date,
    window_months: int,
    n_windows: int = 1,
    since: dt.date | None = None,
) -> ir.Table:
    """One pass over the lines: facts per (account, calendar year).

    Besides the calendar-year sums it carries revenue and margin in the trailing twelve
    months (``revenue_ttm``, ``margin_ttm``: always twelve), revenue in ``n_windows``
    consecutive 12-month windows ending at ``as_of`` (``revenue_w0`` = trailing 12 months),
    used for the compound annual growth rate, and the last / previous ``window_months``
    windows used for revenue growth (``revenue_window``, ``revenue_prev``, ``margin_prev``).
    With ``since`` (the previous run's last order date) it also carries the margin made after
    it (``margin_since``, for return on customer).
    """
    d = lines.order_date
    ttm = (d > add_months(as_of, -12)) & (d <= as_of)
    window_start = add_months(as_of, -window_months)
    prev_start = add_months(as_of, -2 * window_months)
    in_window = (d > window_start) & (d <= as_of)
    in_prev = (d > prev_start) & (d <= window_start)
    margin = lines.revenue - lines.cost
    is_return = lines.quantity < 0
    return lines.group_by(["account_id", d.year().name("year")]).aggregate(
        revenue=lines.revenue.sum(),
        cogs=lines.cost.sum(),
        margin=margin.sum(),
        lines=lines.count(),
        lines_without_cost=(~lines.known_cost).sum(),
        orders=lines.order_id.nunique(),
        order_days=d.nunique(),
        first_order=d.min(),
        last_order=d.max(),
        returns=(-lines.revenue).sum(where=is_return),
        return_lines=is_return.sum(),
        revenue_ttm=lines.revenue.sum(where=ttm),
        # months with orders in the trailing twelve months as a bit mask (cheaper than a
        # distinct count; twelve consecutive months have distinct bit positions)
        active_months_mask=(
            ibis.literal(1).cast("int64") << ((d.year() * 12 + d.month()) % 12).cast("int64")
        ).bit_or(where=ttm),
        margin_ttm=margin.sum(where=ttm),
        # the product categories bought, as a bit mask (breadth of the relationship)
        category_mask=(ibis.literal(1).cast("int64") << lines.category_bit).bit_or(),
        revenue_window=lines.revenue.sum(where=in_window),
        revenue_prev=lines.revenue.sum(where=in_prev),
        margin_prev=margin.sum(where=in_prev),
        **{
            f"revenue_w{k}": lines.revenue.sum(
                where=(d > add_months(as_of, -12 * (k + 1))) & (d <= add_months(as_of, -12 * k))
            )
            for k in range(n_windows)
        },
        **({"margin_since": margin.sum(where=d > since)} if since is not None else {}),
    )


def add_months(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    y = d.year + m // 12
    m = m % 12 + 1
    day = min(d.day, calendar.monthrange(y, m)[1])
    return dt.date(y, m, day)


_SUMS = [
    "revenue", "cogs", "margin", "lines", "lines_without_cost", "orders", "order_days",
    "returns", "return_lines", "revenue_ttm", "margin_ttm", "revenue_window", "revenue_prev",
    "margin_prev",
]  # fmt: skip


def roll_up(yearly: ir.Table) -> ir.Table:
    """Per-account facts from the (account, year) facts (small: accounts x years).

    Orders and order days add up across years (an order has one date); the months with
    orders in the trailing window are the OR of the yearly bit masks (counted afterwards).
    """
    windows = [c for c in yearly.columns if c.startswith("revenue_w") and c[9:].isdigit()]
    sums = _SUMS + windows + [c for c in yearly.columns if c == "margin_since"]
    return yearly.group_by("account_id").aggregate(
        **{c: ibis.coalesce(yearly[c].sum(), 0) for c in sums},
        first_order=yearly.first_order.min(),
        last_order=yearly.last_order.max(),
        years_active=yearly.year.nunique(),
        active_months_mask=yearly.active_months_mask.bit_or(),
        category_mask=yearly.category_mask.bit_or(),
    )


def _count_bits(per_account: pa.Table) -> pa.Table:
    """Replace the month and category bit masks by the number of bits each holds."""
    for mask, name in (("active_months_mask", "active_months_ttm"),
                       ("category_mask", "categories_bought")):  # fmt: skip
        bits = pc.fill_null(per_account[mask], 0).to_numpy().astype(np.int64)
        i = per_account.schema.get_field_index(mask)
        per_account = per_account.set_column(
            i, name, pa.array(np.bitwise_count(bits).astype(np.float64))
        )
    return per_account


def cost_to_serve(con: Any, ws: Workspace, policy: Policy) -> tuple[pa.Table, int]:
    """Cost-to-serve per account and activity: amount (or quantity x the policy's rate) and
    the first date it was incurred (the costs' ``date``, the orders' date for freight)."""
    parts: list[ir.Table] = []
    rows = 0
    if ws.has_table("costs"):
        costs = con.read_parquet(str(ws.table_path("costs")), table_name="kf_costs")
        rows = pq.read_metadata(ws.table_path("costs")).num_rows  # the footer knows: no scan
        need_rate = (
            costs.filter(costs.amount.isnull() if "amount" in costs.columns else ibis.literal(True))
            .select("activity")
            .distinct()
            .to_pyarrow()["activity"]
            .to_pylist()
        )
        missing = sorted(a for a in need_rate if a not in policy.cost_to_serve.rates)
        if missing:
            known = ", ".join(sorted(policy.cost_to_serve.rates)) or "none"
            raise PolicyError(
                "keyfolio.toml: [cost_to_serve.rates] has no rate for "
                + ", ".join(repr(a) for a in missing)
                + f" (given as quantities in the costs table); rates defined: {known}"
            )
        rates = ibis.memtable(
            {
                "activity": list(policy.cost_to_serve.rates) or [""],
                "rate": list(policy.cost_to_serve.rates.values()) or [0.0],
            }
        )
        joined = costs.left_join(rates, "activity")
        amount = ibis.coalesce(
            _col_or_null(joined, "amount", "float64"),
            _col_or_null(joined, "quantity", "float64") * joined.rate,
        )
        parts.append(
            joined.select(
                account_id=joined.account_id, activity=joined.activity, amount=amount,
                date=_col_or_null(joined, "date", "date").cast("date"),
            )
        )  # fmt: skip
    if policy.cost_to_serve.include_freight and ws.has_table("orders"):
        orders = con.read_parquet(str(ws.table_path("orders")), table_name="kf_orders_freight")
        if "freight" in orders.columns:
            parts.append(
                orders.select(
                    account_id=orders.account_id,
                    activity=ibis.literal(FREIGHT),
                    amount=orders.freight.cast("float64"),
                    date=orders.order_date.cast("date"),
                )
            )
    if not parts:
        empty = pa.table(
            {"account_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
             "amount": pa.array([], pa.float64()), "first_date": pa.array([], pa.date32())}
        )  # fmt: skip
        return empty, rows
    union = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    agg = union.group_by(["account_id", "activity"]).aggregate(
        amount=ibis.coalesce(union.amount, 0.0).sum(),
        first_date=union.date.min(),  # from when the account has cost to serve (if dated)
    )
    result = con.to_pyarrow(agg.order_by(["account_id", "activity"]))
    return result, rows


def check_amounts(table: pa.Table, source: str, hint: str) -> None:
    """Refuse per-account amounts that are not finite numbers or beyond MAX_AMOUNT (the
    figures of the lines they add up are, too): every sum after this one stays exact and
    finite, so no later stage meets an overflow."""
    for name in table.column_names:
        if not pa.types.is_floating(table.schema.field(name).type):
            continue
        values = pc.fill_null(table[name], 0.0).to_numpy()
        bad = np.flatnonzero(~(np.abs(values) < MAX_AMOUNT))  # NaN and inf are bad too
        if len(bad):
            i = int(bad[0])
            v = float(values[i])
            what = "not a finite number" if not np.isfinite(v) else f"beyond {MAX_AMOUNT:g}"
            raise WorkspaceError(
                f"{source}: account {table['account_id'][i].as_py()!r} has {name} {v:g} "
                f"({what}, the largest amount Keyfolio adds up exactly; {len(bad):,} such "
                f"figures); {hint}"
            )


def _temp_name() -> str:
    return f"kf_yearly_{uuid.uuid4().hex[:8]}"


def _bounds(con: Any, ws: Workspace, lines: ir.Table) -> tuple[int, Any, Any]:
    """Number of lines, first and last order date: from the Parquet footer when the lines
    carry their own complete order_date, else by one aggregation."""
    st = column_stats(ws.table_path("order_lines"), "order_date")
    if st is not None and st.nulls == 0:  # the lines carry every order date themselves
        return st.rows, st.min, st.max
    b = con.to_pyarrow(
        lines.aggregate(n=lines.count(), first=lines.order_date.min(), last=lines.order_date.max())
    )
    return int(b["n"][0].as_py()), b["first"][0].as_py(), b["last"][0].as_py()


def compute_facts(
    ws: Workspace, policy: Policy, *, con: Any = None, since: dt.date | None = None
) -> Facts:
    """Run the facts stage over a workspace's canonical tables.

    ``since``: the previous run's last order date; when given and earlier than this data's,
    the margin made after it is computed per account (``margin_since``).
    """
    con = con or connect()
    lines, warnings = order_lines(con, ws)
    n_lines, first, as_of = _bounds(con, ws, lines)
    costs, cost_rows = cost_to_serve(con, ws, policy)
    if as_of is None:
        warnings.append("no order lines: every account has zero revenue")
        yearly = pa.table({"account_id": pa.array([], pa.string())})
        per_account = pa.table({"account_id": pa.array([], pa.string())})
    else:
        assert first is not None
        n_windows = max(1, min(10, ((as_of - first).days + 1) // 365))
        if since is not None and since >= as_of:
            since = None
        expr = yearly_facts(lines, as_of, policy.growth.window_months, n_windows, since)
        # materialise the one pass over the lines, then roll up in the engine
        temp = _temp_name()
        yearly_table = con.create_table(temp, expr, temp=True)
        try:
            # in (account, year) order: the engine returns groups in any order
            yearly = con.to_pyarrow(yearly_table.order_by(["account_id", "year"]))
            per_account = _count_bits(con.to_pyarrow(roll_up(yearly_table)))
        finally:  # free its memory for the passes that follow on this connection
            con.drop_table(temp, force=True)
        check_amounts(per_account, "order_lines", "check the units of quantity and unit_price")
        no_cost = pc.sum(per_account["lines_without_cost"]).as_py() or 0
        if no_cost == n_lines and n_lines > 0:
            warnings.append(
                "no unit cost on any order line or product: contribution margin equals revenue "
                "(import products with unit_cost, or map unit_cost on the lines)"
            )
        elif no_cost:
            warnings.append(
                f"{no_cost:,} of {n_lines:,} order lines have no unit cost (line or product): "
                "their variable cost counts as zero"
            )
    check_amounts(costs, "costs", "check amount, quantity and the [cost_to_serve] rates")
    categories = len(category_bits(ws))
    if ws.has_table("products") and not categories:
        warnings.append(
            f"products carry no category, or more than {MAX_CATEGORIES}: the breadth of "
            "each account's buying (category_breadth) is not known"
        )
    return Facts(
        as_of=as_of,
        first=first,
        categories=categories,
        since=since if as_of is not None else None,
        yearly_parquet=_parquet_bytes(yearly),
        accounts=per_account,
        costs=costs,
        warnings=warnings,
        rows={
            "order_lines": n_lines,
            "costs": cost_rows,
            "accounts_with_orders": per_account.num_rows,
        },
    )

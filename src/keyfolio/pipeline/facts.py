"""The facts stage: order lines -> per-account facts.

This is the only stage that touches order-line volume. It is written as Ibis expressions,
so it runs on DuckDB in process by default and, unchanged, on any Ibis backend. Order
lines never pass through pandas: the engine aggregates and returns Arrow tables whose
size is accounts x years.

The stage makes one pass over the order lines, grouped by (account, calendar year), as one
read-only SELECT that compiles on every engine (no temporary table, no uploaded table, no
bitwise aggregate); the small account x year table is fetched once and the per-account facts
are rolled up from it in process. Cost-to-serve per activity comes
from the ``costs`` table (amount, or quantity x the policy's rate) plus freight from the
order headers.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from keyfolio.errors import KeyfolioError, PolicyError, WorkspaceError, first_line
from keyfolio.pipeline.engine import duckdb_connect
from keyfolio.pipeline.rollup import roll_up
from keyfolio.pipeline.sources import Tables, column_stats
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


def connect(threads: int | None = None, memory_limit: str | None = None) -> Any:
    """An in-process DuckDB connection through Ibis (the default engine; see
    :func:`keyfolio.pipeline.engine.duckdb_connect`)."""
    return duckdb_connect(threads, memory_limit)


@contextlib.contextmanager
def reading(ws: Workspace, engine: str = "duckdb") -> Iterator[None]:
    """The engine's errors while it reads the tables (a damaged table whose footer reads
    but whose pages do not, values no column type can hold) as one error naming the
    tables' folder, not the engine's traceback. On another engine than DuckDB any error of
    the engine's own becomes one line naming it."""
    try:
        yield
    except duckdb.Error as exc:
        raise WorkspaceError(
            f"{ws.data_dir}: the engine could not read the tables ({', '.join(ws.tables())}): "
            f"{first_line(exc)}; if a table is damaged, import it again"
        ) from exc
    except KeyfolioError:
        raise
    except Exception as exc:
        if engine == "duckdb":
            raise
        raise WorkspaceError(
            f"engine {engine}: the facts stage failed on {ws.root}: {first_line(exc)}"
        ) from exc


def release(con: Any) -> None:
    """Close an engine connection: its buffer pool (up to the memory limit) is given back."""
    con.disconnect()


def _col_or_null(t: ir.Table, name: str, typ: str) -> ir.Value:
    if name in t.columns:
        return t[name]
    return ibis.null(typ)


def order_lines(src: Tables) -> tuple[ir.Table, list[str]]:
    """The normalised order lines as an Ibis expression.

    Columns: account_id, order_id, order_date, quantity, revenue, cost, known_cost,
    category (the product category's index, see :func:`category_index`). Lines that carry
    only an order_id take account_id and order_date from the order header; lines without a
    unit cost take the product's standard cost.
    """
    warnings: list[str] = []
    ws = src.ws
    if not src.has("order_lines"):
        raise WorkspaceError(f"{ws.root}: no order_lines imported yet (use `keyfolio import`)")
    lines = src.table("order_lines")
    has_orders = src.has("orders")
    needs_header = not {"account_id", "order_date"} <= set(lines.columns)
    if not needs_header and has_orders and "order_id" in lines.columns:
        path = src.local_path("order_lines")
        stats = [column_stats(path, c) for c in ("account_id", "order_date")] if path else [None]
        if all(st is not None for st in stats):  # the Parquet footer knows: no scan needed
            needs_header = any(st is not None and st.nulls > 0 for st in stats)
        else:
            nulls = src.con.to_pyarrow(
                lines.aggregate(n=(lines.account_id.isnull() | lines.order_date.isnull()).sum())
            )
            needs_header = bool(nulls["n"][0].as_py())
    if needs_header and (not has_orders or "order_id" not in lines.columns):
        raise WorkspaceError(
            f"{ws.root}: order_lines carry no account_id/order_date and there is no "
            "orders table to take them from; import orders or map account_id and order_date"
        )
    with_products = src.has("products") and "product_id" in lines.columns
    out = normalised_lines(
        lines,
        orders=src.table("orders") if needs_header else None,
        products=src.table("products") if with_products else None,
        categories=category_index(src) if with_products else {},
    )
    return out, warnings


def normalised_lines(
    lines: ir.Table,
    *,
    orders: ir.Table | None = None,
    products: ir.Table | None = None,
    categories: dict[str, int] | None = None,
) -> ir.Table:
    """The order lines' expression (a read-only SELECT, the same on every engine): account
    and date from the order header (``orders``, when the lines lack them), cost from the
    product when the line has none, the product category's index from ``categories``."""
    if orders is not None:
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
    category: ir.Value = ibis.null("int64")
    if products is not None:
        wanted: dict[str, ir.Value] = {}
        if "unit_cost" in products.columns:
            wanted["p_cost"] = products.unit_cost
        index = categories or {}
        if index:  # a CASE expression from the categories (no table uploaded to the engine)
            cases = [(name, i) for name, i in index.items()]
            wanted["p_category"] = products.category.cast("string").cases(*cases, else_=None)
        if wanted:
            prod = products.select(product_id=products.product_id, **wanted)
            lines = lines.left_join(prod, "product_id")
            if "p_cost" in wanted:
                unit_cost = ibis.coalesce(_col_or_null(lines, "unit_cost", "float64"), lines.p_cost)
            if "p_category" in wanted:
                category = lines.p_category.cast("int64")
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
        category=category,
    )
    return out


MAX_CATEGORIES = 62  # the breadth of buying is counted over at most this many categories


def category_index(src: Tables) -> dict[str, int]:
    """Each product category's index (categories in name order), when the products carry at
    most ``MAX_CATEGORIES`` of them; empty otherwise. A local products file is read here; a
    table of the engine's by one distinct query."""
    if not src.has("products"):
        return {}
    path = src.local_path("products")
    if path is not None:
        if "category" not in pq.read_schema(path).names:
            return {}
        cats = pq.read_table(path, columns=["category"]).column(0).drop_null().unique()
    else:
        products = src.table("products")
        if "category" not in products.columns:
            return {}
        expr = products.select(c=products.category.cast("string")).distinct()
        cats = src.con.to_pyarrow(expr.filter(expr.c.notnull()))["c"]
    names = sorted(str(c) for c in cats.to_pylist())
    return {c: i for i, c in enumerate(names)} if len(names) <= MAX_CATEGORIES else {}


def value_lines(src: Tables) -> ir.Table:
    """The order lines as the value models read them: account_id, order_date, revenue,
    margin (contribution margin of the line)."""
    lines, _ = order_lines(src)
    return lines.select(
        account_id=lines.account_id,
        order_date=lines.order_date,
        revenue=lines.revenue,
        margin=lines.revenue - lines.cost,
    )


def category_mask(category: ir.IntegerColumn, categories: int) -> ir.Value:
    """The categories bought as a bit mask, without a bitwise aggregate: bit i is set when
    any line has category i (a sum of distinct powers of two); null when none has one."""
    if not categories:
        return ibis.null("int64")
    flags = [ibis.ifelse((category == i).any(), ibis.literal(1 << i, "int64"), 0)
             for i in range(categories)]  # fmt: skip
    return sum(flags[1:], flags[0]).nullif(0)


def month_mask(d: ir.DateColumn, ttm: ir.BooleanColumn) -> ir.Value:
    """The months with orders in the trailing twelve months as a bit mask, without a bitwise
    aggregate or a collected list (a list per group cost more than the rest of the pass at 1M
    accounts): bit ``(year x 12 + month) % 12`` (month 12 is bit 0) is set when any line of
    that month is in the window; twelve consecutive months have distinct bits, so the yearly
    masks OR into the trailing window's. Null when the group has no line in the window."""
    month = d.month()
    flags = [ibis.ifelse((ttm & (month == (b or 12))).any(), ibis.literal(1 << b, "int64"), 0)
             for b in range(12)]  # fmt: skip
    return sum(flags[1:], flags[0]).nullif(0)


def yearly_facts(
    lines: ir.Table,
    as_of: dt.date,
    window_months: int,
    n_windows: int = 1,
    since: dt.date | None = None,
    categories: int = 0,
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
        # the months with orders in the trailing twelve months and the product categories
        # bought (the breadth of the relationship), each as a sum of flags (no engine has a
        # portable bitwise aggregate)
        active_months_mask=month_mask(d, ttm),
        margin_ttm=margin.sum(where=ttm),
        category_mask=category_mask(lines.category, categories),
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


def cost_to_serve(src: Tables, policy: Policy) -> tuple[pa.Table, int]:
    """Cost-to-serve per account and activity: amount (or quantity x the policy's rate) and
    the first date it was incurred (the costs' ``date``, the orders' date for freight)."""
    rows = 0
    costs = src.table("costs") if src.has("costs") else None
    if costs is not None:
        rows = src.rows("costs")  # a local file's footer knows: no scan
        need = costs.filter(
            costs.amount.isnull() if "amount" in costs.columns else ibis.literal(True)
        )
        need_rate = src.con.to_pyarrow(need.select("activity").distinct())["activity"]
        missing = sorted(a for a in need_rate.to_pylist() if a not in policy.cost_to_serve.rates)
        if missing:
            known = ", ".join(sorted(policy.cost_to_serve.rates)) or "none"
            raise PolicyError(
                "keyfolio.toml: [cost_to_serve.rates] has no rate for "
                + ", ".join(repr(a) for a in missing)
                + f" (given as quantities in the costs table); rates defined: {known}"
            )
    freight = policy.cost_to_serve.include_freight and src.has("orders")
    expr = costs_by_activity(
        costs, src.table("orders") if freight else None, policy.cost_to_serve.rates
    )
    if expr is None:
        empty = pa.table(
            {"account_id": pa.array([], pa.string()), "activity": pa.array([], pa.string()),
             "amount": pa.array([], pa.float64()), "first_date": pa.array([], pa.date32())}
        )  # fmt: skip
        return empty, rows
    return src.con.to_pyarrow(expr), rows


def costs_by_activity(
    costs: ir.Table | None, orders: ir.Table | None, rates: dict[str, float]
) -> ir.Table | None:
    """The cost-to-serve expression: per account and activity the amount (the costs' amount,
    else quantity x rate; the orders' freight) and its first date, by account and activity.
    None when there is neither."""
    parts: list[ir.Table] = []
    if costs is not None:
        parts.append(_priced(costs, rates))
    if orders is not None and "freight" in orders.columns:
        parts.append(
            orders.select(
                account_id=orders.account_id,
                activity=ibis.literal(FREIGHT),
                amount=orders.freight.cast("float64"),
                date=orders.order_date.cast("date"),
            )
        )
    if not parts:
        return None
    union = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    agg = union.group_by(["account_id", "activity"]).aggregate(
        amount=ibis.coalesce(union.amount, 0.0).sum(),
        first_date=union.date.min(),  # from when the account has cost to serve (if dated)
    )
    return agg.order_by(["account_id", "activity"])


def _priced(costs: ir.Table, rates: dict[str, float]) -> ir.Table:
    """account_id, activity, amount, date of the costs: the amount, else quantity x the
    policy's rate for the activity (a CASE expression: nothing is uploaded to the engine)."""
    rate: ir.Value = ibis.null("float64")
    if rates:
        rate = costs.activity.cases(*((a, float(r)) for a, r in rates.items()), else_=None)
    amount = ibis.coalesce(
        _col_or_null(costs, "amount", "float64"),
        _col_or_null(costs, "quantity", "float64") * rate.cast("float64"),
    )
    return costs.select(
        account_id=costs.account_id, activity=costs.activity, amount=amount,
        date=_col_or_null(costs, "date", "date").cast("date"),
    )  # fmt: skip


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


def _bounds(src: Tables, lines: ir.Table) -> tuple[int, Any, Any]:
    """Number of lines, first and last order date: from the Parquet footer when the lines
    are a local file carrying their own complete order_date, else by one aggregation."""
    path = src.local_path("order_lines")
    st = column_stats(path, "order_date") if path is not None else None
    if st is not None and st.nulls == 0:  # the lines carry every order date themselves
        return st.rows, st.min, st.max
    b = src.con.to_pyarrow(
        lines.aggregate(n=lines.count(), first=lines.order_date.min(), last=lines.order_date.max())
    )
    return int(b["n"][0].as_py()), _date(b["first"][0].as_py()), _date(b["last"][0].as_py())


def _date(value: Any) -> Any:
    """A date (engines return a timestamp for a date column now and then)."""
    return value.date() if isinstance(value, dt.datetime) else value


def compute_facts(
    ws: Workspace,
    policy: Policy,
    *,
    con: Any = None,
    since: dt.date | None = None,
    tables: Tables | None = None,
) -> Facts:
    """Run the facts stage over a workspace's canonical tables.

    ``tables``: where the tables are (default: the workspace's Parquet and the policy's
    ``[engine.tables]`` on ``con``, itself by default an in-process DuckDB). ``since``: the
    previous run's last order date; when given and earlier than this data's, the margin
    made after it is computed per account (``margin_since``).
    """
    src = tables or Tables(ws, con or connect(), policy.engine.tables)
    lines, warnings = order_lines(src)
    n_lines, first, as_of = _bounds(src, lines)
    costs, cost_rows = cost_to_serve(src, policy)
    categories = len(category_index(src))
    if as_of is None:
        warnings.append("no order lines: every account has zero revenue")
        yearly = pa.table({"account_id": pa.array([], pa.string())})
        per_account = pa.table({"account_id": pa.array([], pa.string())})
    else:
        assert first is not None
        n_windows = max(1, min(10, ((as_of - first).days + 1) // 365))
        if since is not None and since >= as_of:
            since = None
        expr = yearly_facts(
            lines, as_of, policy.growth.window_months, n_windows, since, categories=categories
        )
        # the one pass over the lines, fetched once (a read-only SELECT: no table is made in
        # the engine), in (account, year) order; the roll-up runs in process
        yearly = src.con.to_pyarrow(expr.order_by(["account_id", "year"]))
        per_account = roll_up(yearly)
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
    if src.has("products") and not categories:
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

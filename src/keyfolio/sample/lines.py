"""Orders and order lines of the synthetic sample, streamed to Parquet in bounded memory.

The accounts' line counts are cut into *parts* of at most ``chunk`` lines (a very large
account spans several parts), and consecutive parts are generated together as one chunk of
roughly ``chunk`` to ``2 × chunk`` lines. Each chunk has its own random stream, so the
output depends only on the seed and the sizes, never on timing. Nothing per line is a
Python loop: orders, line counts, products, quantities, prices, discounts and returns are
numpy draws over whole chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio.sample import names as nm
from keyfolio.sample.accounts import (
    N_CAT,
    Accounts,
    Calendar,
    Products,
    dates,
    id_strings,
    rng_for,
    to_date,
)
from keyfolio.schema import TABLES

CHUNK_LINES = 1_000_000
ROW_GROUP = 1_000_000
RETURN_SHARE = 0.025
MONTH_FACTOR = np.array([0.85, 0.95, 1.1, 1.05, 1.05, 1.0, 0.9, 0.65, 1.05, 1.15, 1.2, 0.9])
WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.08, 0.03])  # Monday .. Sunday

ChunkSink = Callable[[pa.Table, pa.Table], None]


@dataclass
class Stats:
    """Per-account sums over the generated lines (what the pipeline should find)."""

    revenue: np.ndarray
    cogs: np.ndarray
    rev_last: np.ndarray  # revenue in the last 12 months
    rev_prev: np.ndarray  # revenue in the 12 months before
    freight: np.ndarray

    @classmethod
    def zeros(cls, n: int) -> Stats:
        z = np.zeros
        return cls(z(n), z(n), z(n), z(n), z(n))


def season_factor(cal: Calendar) -> np.ndarray:
    """Relative order intensity of each calendar day (month × weekday), max 1."""
    days = np.arange(cal.start, cal.end + 1)
    dt = days.astype("datetime64[D]")
    month = dt.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    f = MONTH_FACTOR[month] * WEEKDAY_FACTOR[weekday]
    return f / f.max()


def sample_days(
    lo: np.ndarray,
    hi: np.ndarray,
    rate: np.ndarray,
    rng: np.random.Generator,
    factor: np.ndarray,
    cal: Calendar,
) -> np.ndarray:
    """Days in [lo, hi] with density ∝ exp(rate·t) × season(t): inverse CDF + rejection."""
    out = np.empty(len(lo), dtype=np.int64)
    todo = np.arange(len(lo))
    for _ in range(60):
        if todo.size == 0:
            break
        lo_t, r = lo[todo], rate[todo]
        span = (hi[todo] + 1 - lo_t).astype(np.float64)
        u = rng.random(todo.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(np.abs(r) > 1e-12, np.log1p(u * np.expm1(r * span)) / r, u * span)
        d = np.minimum(lo_t + np.floor(t).astype(np.int64), hi[todo])
        ok = rng.random(todo.size) < factor[d - cal.start]
        out[todo[ok]] = d[ok]
        out[todo[~ok]] = d[~ok]  # kept if the loop ends (vanishingly rare)
        todo = todo[~ok]
    return out


def plan_parts(acc: Accounts, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(account, lines, orders) per part; no part has more than ``chunk`` lines."""
    buyers = np.flatnonzero(acc.n_lines > 0)
    lines, orders = acc.n_lines[buyers], acc.n_orders[buyers]
    k = np.maximum(1, -(-lines // chunk))
    part_acct = np.repeat(buyers, k)
    first = np.repeat(np.cumsum(k) - k, k)
    j = np.arange(len(part_acct)) - first  # index of the part within its account
    kk = np.repeat(k, k)

    def split(total: np.ndarray) -> np.ndarray:
        t = np.repeat(total, k)
        return t // kk + (j < t % kk)

    part_orders = np.maximum(split(orders), 1)
    part_lines = np.maximum(split(lines), part_orders)
    return part_acct, part_lines, part_orders


@dataclass
class LineResult:
    stats: Stats
    orders: int
    lines: int
    returns: int


def write_orders_and_lines(
    acc: Accounts,
    prod: Products,
    cal: Calendar,
    seed: int,
    data_dir: Path,
    *,
    chunk: int = CHUNK_LINES,
    progress: Callable[[str, int, int], None] | None = None,
    sink: ChunkSink | None = None,
) -> LineResult:
    """Generate orders and order lines chunk by chunk, appending to two Parquet files."""
    part_acct, part_lines, part_orders = plan_parts(acc, chunk)
    total_lines = int(part_lines.sum())
    width = max(8, len(str(int(part_orders.sum()))) + 1)
    chunk_of = (np.cumsum(part_lines) - part_lines) // chunk
    cuts = np.flatnonzero(np.diff(chunk_of)) + 1
    bounds = np.concatenate([[0], cuts, [len(part_acct)]]) if len(part_acct) else np.zeros(1, int)
    factor = season_factor(cal)
    stats = Stats.zeros(acc.n)
    o_schema = TABLES["orders"].arrow_schema(
        ["order_id", "account_id", "order_date", "freight", "status"]
    )
    l_schema = TABLES["order_lines"].arrow_schema(
        ["order_id", "account_id", "order_date", "product_id", "quantity", "unit_price", "discount"]
    )
    done = orders_done = returns = 0
    if progress:
        progress("order_lines", 0, total_lines)
    with (
        pq.ParquetWriter(data_dir / "orders.parquet", o_schema, compression="zstd") as ow,
        pq.ParquetWriter(data_dir / "order_lines.parquet", l_schema, compression="zstd") as lw,
    ):
        for c in range(len(bounds) - 1):
            sl = slice(int(bounds[c]), int(bounds[c + 1]))
            gen = _Chunk(acc, prod, cal, factor, rng_for(seed, 10, c))
            orders, lines, n_ret = gen.run(
                part_acct[sl], part_lines[sl], part_orders[sl], stats, orders_done, width
            )
            ow.write_table(orders.cast(o_schema), row_group_size=ROW_GROUP)
            lw.write_table(lines.cast(l_schema), row_group_size=ROW_GROUP)
            if sink:
                sink(orders, lines)
            done += lines.num_rows
            orders_done += orders.num_rows
            returns += n_ret
            if progress:
                progress("order_lines", done, total_lines)
    return LineResult(stats, orders_done, done, returns)


class _Chunk:
    """One chunk of consecutive parts: orders first, then their lines."""

    def __init__(
        self,
        acc: Accounts,
        prod: Products,
        cal: Calendar,
        factor: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.acc, self.prod, self.cal, self.factor, self.rng = acc, prod, cal, factor, rng

    def run(
        self,
        p_acct: np.ndarray,
        p_lines: np.ndarray,
        p_orders: np.ndarray,
        stats: Stats,
        order_base: int,
        width: int,
    ) -> tuple[pa.Table, pa.Table, int]:
        acc, rng = self.acc, self.rng
        k = len(p_acct)
        o_part = np.repeat(np.arange(k), p_orders)
        o_acct = p_acct[o_part]
        rate = np.log1p(acc.growth[o_acct]) / 365.0
        o_day = sample_days(acc.start[o_acct], acc.stop[o_acct], rate, rng, self.factor, self.cal)
        o_day = o_day[np.lexsort((o_day, o_part))]  # chronological within each part
        n_o = len(o_day)
        # every order gets one line, the remaining lines fall on random orders of the part
        o_first = np.cumsum(p_orders) - p_orders
        e_part = np.repeat(np.arange(k), p_lines - p_orders)
        e_order = o_first[e_part] + (rng.random(e_part.size) * p_orders[e_part]).astype(np.int64)
        per_order = 1 + np.bincount(e_order, minlength=n_o)
        l_order = np.repeat(np.arange(n_o), per_order)
        del e_part, e_order
        l_acct = o_acct[l_order]
        l_day = o_day[l_order]
        product, qty, price, disc = self._lines(l_acct)
        net = qty * price * (1.0 - disc)
        cogs = qty * self.prod.unit_cost[product]
        value = np.bincount(l_order, weights=np.maximum(net, 0.0), minlength=n_o)
        fee = 8.0 + 12.0 * rng.random(n_o)
        freight = np.round(value * acc.freight_rate[o_acct] + fee, 2)
        self._accumulate(stats, l_acct, l_day, net, cogs, o_acct, freight)

        order_ids = id_strings(order_base + np.arange(1, n_o + 1), width)
        acct_ids = acc.ids.take(pa.array(o_acct))
        status = np.where(o_day > self.cal.end - 10, "shipped", "invoiced")
        orders = pa.table(
            {
                "order_id": order_ids,
                "account_id": acct_ids,
                "order_date": dates(o_day),
                "freight": pa.array(freight),
                "status": pa.array(status, type=pa.string()),
            }
        )
        l_idx = pa.array(l_order)
        lines = pa.table(
            {
                "order_id": order_ids.take(l_idx),
                "account_id": acct_ids.take(l_idx),
                "order_date": dates(l_day),
                "product_id": self.prod.ids.take(pa.array(product)),
                "quantity": pa.array(qty),
                "unit_price": pa.array(price),
                "discount": pa.array(disc),
            }
        )
        return orders, lines, int((qty < 0).sum())

    def _lines(self, l_acct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        acc, prod, rng = self.acc, self.prod, self.rng
        n = len(l_acct)
        share = np.array([c[1] for c in nm.CATEGORIES])
        other = rng.choice(N_CAT, size=n, p=share / share.sum())
        cat = np.where(rng.random(n) < acc.p_fav[l_acct], acc.fav_cat[l_acct], other)
        # a few products of each category sell much more than the others
        product = prod.cat_start[cat] + (prod.cat_count[cat] * rng.random(n) ** 2.5).astype(
            np.int64
        )
        list_price = prod.list_price[product]
        mu = np.log(acc.qscale[l_acct]) - 0.35 * np.log(list_price / 25.0)
        qty = np.maximum(1.0, np.round(np.exp(mu + 0.8 * rng.standard_normal(n))))
        ret = rng.random(n) < RETURN_SHARE
        qty[ret] = -np.maximum(1.0, np.round(qty[ret] * rng.uniform(0.1, 0.6, int(ret.sum()))))
        noise = 1.0 + 0.03 * rng.standard_normal(n)
        price = np.maximum(0.01, np.round(list_price * acc.price_factor[l_acct] * noise, 2))
        disc = np.round(acc.disc_base[l_acct] + 0.04 * rng.standard_normal(n), 2).clip(0.0, 0.3)
        disc[rng.random(n) < acc.disc_zero[l_acct]] = 0.0
        return product, qty, price, disc

    def _accumulate(
        self,
        stats: Stats,
        l_acct: np.ndarray,
        l_day: np.ndarray,
        net: np.ndarray,
        cogs: np.ndarray,
        o_acct: np.ndarray,
        freight: np.ndarray,
    ) -> None:
        n, end = self.acc.n, self.cal.end
        last = l_day > end - 365
        prev = (l_day > end - 730) & ~last
        stats.revenue += np.bincount(l_acct, weights=net, minlength=n)
        stats.cogs += np.bincount(l_acct, weights=cogs, minlength=n)
        stats.rev_last += np.bincount(l_acct[last], weights=net[last], minlength=n)
        stats.rev_prev += np.bincount(l_acct[prev], weights=net[prev], minlength=n)
        stats.freight += np.bincount(o_acct, weights=freight, minlength=n)


def describe_window(cal: Calendar) -> str:
    return f"{to_date(cal.start).isoformat()}..{to_date(cal.end).isoformat()}"

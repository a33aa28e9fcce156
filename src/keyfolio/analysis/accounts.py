"""The portfolio of a finished run as a table to browse: filter, search, sort and page it
with DuckDB directly over the run's ``portfolio.parquet`` (no pandas, no Python loops over
accounts), so a page answers quickly at 1M accounts.

* :class:`AccountQuery` is what the user asks for; :func:`query_accounts` answers one page
  (:class:`AccountPage`), :func:`iter_rows` every row of the same view (for an export) and
  :func:`facets` the values the filters offer (computed once per run and cached).
* The rows always have the columns of :data:`VIEW_COLUMNS`, in that order; a column the
  run does not have is null. A filter on a column the run lacks (owner and country come
  from the accounts table and may be missing) is not offered.
* Values reach DuckDB only as parameters (``?``); identifiers only from the whitelists here,
  quoted by sqlglot.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import duckdb
import pandas as pd
from sqlglot import exp

from keyfolio import runs
from keyfolio.errors import KeyfolioError
from keyfolio.ingest.sql import col, select, text

# The columns of a row, in order, and what they mean.
VIEW_COLUMNS: dict[str, str] = {
    "account_id": "account id",
    "name": "account name",
    "owner": "key account manager (accounts table)",
    "country": "country (accounts table)",
    "size_tier": "size tier",
    "quadrant": "KAM matrix quadrant",
    "attractiveness": "attractiveness score (0-100)",
    "strength": "relative strength score (0-100)",
    "revenue": "revenue over the run's window",
    "contribution_margin": "contribution margin (revenue - cost of goods)",
    "cost_to_serve": "cost to serve",
    "net_contribution": "contribution margin - cost to serve",
    "clv": "customer lifetime value",
    "roci": "return on customer investment",
    "is_key": "key account in this run",
    "was_key": "key account in the previous run",
    "decision": "selection decision (selected, kept, deselected, overridden, not selected)",
    "reasons": "why the account is or is not key",
}
SORTABLE = tuple(c for c in VIEW_COLUMNS if c != "reasons")
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

# decision filters: (label, the columns it needs, the condition); no user values in them
_IS_KEY = "coalesce(try_cast(is_key AS BOOLEAN), false)"  # any stored type, even all-null
_WAS_KEY = "coalesce(try_cast(was_key AS BOOLEAN), false)"
DECISIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "key": ("key accounts", ("is_key",), _IS_KEY),
    "not_key": ("not key", ("is_key",), f"NOT {_IS_KEY}"),
    "entered": ("entered the key list", ("is_key", "was_key"), f"{_IS_KEY} AND NOT {_WAS_KEY}"),
    "left": ("left the key list", ("is_key", "was_key"), f"{_WAS_KEY} AND NOT {_IS_KEY}"),
    "kept": ("kept (key in both runs)", ("decision",), "CAST(decision AS VARCHAR) = 'kept'"),
    "overridden": ("overridden", ("decision",), "CAST(decision AS VARCHAR) = 'overridden'"),
    "contested": (
        "contested (robustness)",
        ("contested",),
        "coalesce(try_cast(contested AS BOOLEAN), false)",
    ),
}
# value filters: query field -> portfolio column
VALUE_FILTERS = {"tier": "size_tier", "quadrant": "quadrant", "owner": "owner",
                 "country": "country"}  # fmt: skip
_VIEW = "portfolio"


class QueryError(KeyfolioError):
    """A query the run cannot answer; ``field`` names the query field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class AccountQuery:
    """A view of the portfolio. ``search``: case-insensitive substring of the id or the name
    (``%`` and ``_`` are plain characters); ``sort`` one of :data:`SORTABLE` (None:
    revenue, or the id when the run has no revenue); ``page`` from 1."""

    tier: str | None = None
    quadrant: str | None = None
    decision: str | None = None
    owner: str | None = None
    country: str | None = None
    search: str | None = None
    sort: str | None = None
    direction: Literal["asc", "desc"] = "desc"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def filters(self) -> dict[str, str]:
        """The value filters that are set (query field -> value)."""
        return {k: v for k in VALUE_FILTERS if (v := getattr(self, k)) not in (None, "")}


@dataclass(frozen=True)
class AccountPage:
    rows: list[dict[str, Any]]  # keys: VIEW_COLUMNS, in order
    total: int  # accounts in the view (all pages)
    page: int
    page_size: int
    pages: int
    sort: str
    direction: str


@dataclass(frozen=True)
class Facets:
    """What the filters offer: the distinct values of each filter column (None: the run
    has no such column, the filter is not offered) and the decision filters."""

    tiers: list[str] | None
    quadrants: list[str] | None
    owners: list[str] | None
    countries: list[str] | None
    decisions: dict[str, str] = field(default_factory=dict)  # key -> label

    def values(self, query_field: str) -> list[str] | None:
        return {"tier": self.tiers, "quadrant": self.quadrants, "owner": self.owners,
                "country": self.countries}[query_field]  # fmt: skip


# -- answering ----------------------------------------------------------------------------
def query_accounts(run: runs.Run, q: AccountQuery) -> AccountPage:
    """One page of the view ``q`` of ``run``'s portfolio; a :class:`QueryError` naming the
    field for a query the run cannot answer."""
    snap = snapshot(run)
    sort = _sort_of(q, snap.present)
    if not 1 <= q.page_size <= MAX_PAGE_SIZE:
        raise QueryError("page_size", f"expected 1 to {MAX_PAGE_SIZE}, got {q.page_size}")
    if q.page < 1:
        raise QueryError("page", f"expected 1 or more, got {q.page}")
    where, params = _where(q, snap.present)
    with snap.cursor() as con:
        row = con.execute(text(_count(where)), params).fetchone()
        total = int(row[0]) if row else 0
        pages = max(1, -(-total // q.page_size))
        if q.page > pages:
            raise QueryError("page", f"page {q.page} is past the last page ({pages})")
        offset = (q.page - 1) * q.page_size
        sql, args, backwards = _page_sql(snap.present, where, params, sort, q, total, offset)
        rows = con.execute(sql, args).fetchall()
    if backwards:
        rows.reverse()
    return AccountPage(_records(rows), total, q.page, q.page_size, pages, sort, q.direction)


def iter_rows(run: runs.Run, q: AccountQuery, batch: int = 10_000) -> Iterator[tuple[Any, ...]]:
    """Every row of the view ``q`` (all pages, the same filters and order), as tuples in
    :data:`VIEW_COLUMNS` order, read ``batch`` rows at a time."""
    snap = snapshot(run)
    sort = _sort_of(q, snap.present)
    where, params = _where(q, snap.present)
    with snap.cursor() as con:
        cur = con.execute(text(_ordered(snap.present, where, sort, q.direction)), params)
        while chunk := cur.fetchmany(batch):
            yield from chunk


def count_rows(run: runs.Run, q: AccountQuery) -> int:
    """How many accounts the view ``q`` holds (all pages)."""
    snap = snapshot(run)
    where, params = _where(q, snap.present)
    with snap.cursor() as con:
        found = con.execute(text(_count(where)), params).fetchone()
    return int(found[0]) if found else 0


def facets(run: runs.Run) -> Facets:
    """The filter values of ``run`` (computed once per run, with its snapshot)."""
    return snapshot(run).facets


def account_row(run: runs.Run, account_id: str, columns: Sequence[str]) -> dict[str, Any] | None:
    """The named columns (those the run has) of one account's portfolio row, read from the
    run's Parquet by a filtered scan; None when the account is not in the run."""
    path = run.path(runs.PORTFOLIO)
    present = set(run.columns(runs.PORTFOLIO))
    cols = [c for c in dict.fromkeys(["account_id", *columns]) if c in present]
    q = select([col(c) for c in cols], _VIEW, where=col("account_id").eq(exp.Placeholder()))
    with duckdb.connect() as con:
        con.read_parquet(str(path)).create_view(_VIEW)
        cur = con.execute(text(q), [str(account_id)])
        found = cur.fetchone()
        names = [d[0] for d in cur.description]
    return None if found is None else dict(zip(names, found, strict=True))


# -- the snapshot: the view's columns of one run, in memory --------------------------------
class Snapshot:
    """The columns a view needs (:data:`VIEW_COLUMNS` and the filters' columns) of one
    run's portfolio, read from its Parquet once into an in-memory DuckDB table, and the
    facets. Querying the Parquet file itself decompresses every column of the page's sort
    and filters on each request (p50 ~430 ms for a first page at 1M accounts, ~1.2 s for the
    last page, see benchmarks/README.md); the table answers in tens of milliseconds. Runs
    never change once written, so a snapshot stays valid for its run; each request uses
    its own cursor (DuckDB cursors may be used from different threads)."""

    def __init__(self, run: runs.Run) -> None:
        names = set(run.columns(runs.PORTFOLIO))
        wanted = [*VIEW_COLUMNS, *(c for _, need, _ in DECISIONS.values() for c in need)]
        self.present = frozenset(c for c in wanted if c in names)
        self.con = duckdb.connect()
        source = self.con.read_parquet(str(run.path(runs.PORTFOLIO)))
        source.select(*(col(c).sql(dialect="duckdb") for c in sorted(self.present))).create(_VIEW)
        self.facets = self._facets()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self.con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _facets(self) -> Facets:
        found: dict[str, list[str] | None] = {}
        for name, column in VALUE_FILTERS.items():
            if column not in self.present:
                found[name] = None
                continue
            c = exp.cast(col(column), "VARCHAR")
            q = select([c], _VIEW, where=c.is_(exp.null()).not_(), group=[c], order=[c])
            found[name] = [str(r[0]) for r in self.con.execute(text(q)).fetchall()]
        return Facets(
            tiers=found["tier"], quadrants=found["quadrant"], owners=found["owner"],
            countries=found["country"], decisions=decisions_offered(self.present),
        )  # fmt: skip


_SNAPSHOTS: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
_KEEP = 2  # the latest run and one other (a diff, an older run's page)
_LOCK = threading.Lock()


def snapshot(run: runs.Run) -> Snapshot:
    """The snapshot of ``run`` (made on first use; the two most recently used are kept)."""
    path = run.path(runs.PORTFOLIO)
    if not path.is_file():
        raise KeyfolioError(f"{run.dir}: no {runs.PORTFOLIO} in this run")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    with _LOCK:
        snap = _SNAPSHOTS.get(key)
        if snap is None:
            snap = _SNAPSHOTS[key] = Snapshot(run)
            while len(_SNAPSHOTS) > _KEEP:  # closed when no request holds a cursor any more
                _SNAPSHOTS.popitem(last=False)
        _SNAPSHOTS.move_to_end(key)
        return snap


def forget_snapshots() -> None:
    """Drop every snapshot (tests, benchmarks)."""
    with _LOCK:
        _SNAPSHOTS.clear()


# -- building the SQL ---------------------------------------------------------------------
def sortable(present: frozenset[str] | set[str]) -> list[str]:
    return [c for c in SORTABLE if c in present]


def _sort_of(q: AccountQuery, present: frozenset[str]) -> str:
    allowed = sortable(present)
    if q.direction not in ("asc", "desc"):
        raise QueryError("direction", f"expected asc or desc, got {q.direction!r}")
    if q.sort in (None, ""):
        return "revenue" if "revenue" in present else "account_id"
    if q.sort not in allowed:
        raise QueryError("sort", f"unknown column {q.sort!r}; allowed: {', '.join(allowed)}")
    return q.sort


def _where(q: AccountQuery, present: frozenset[str]) -> tuple[exp.Expression | None, list[Any]]:
    conds: list[exp.Expression] = []
    params: list[Any] = []
    for name, value in q.filters().items():
        column = VALUE_FILTERS[name]
        if column not in present:
            raise QueryError(name, f"this run has no {column} column; remove the filter")
        conds.append(exp.cast(col(column), "VARCHAR").eq(exp.Placeholder()))
        params.append(value)
    if q.decision not in (None, ""):
        offered = decisions_offered(present)
        if q.decision not in offered:
            raise QueryError(
                "decision", f"unknown decision {q.decision!r}; allowed: {', '.join(offered)}"
            )
        conds.append(exp.maybe_parse(DECISIONS[q.decision][2], dialect="duckdb"))
    if q.search not in (None, ""):
        needle = str(q.search).lower()
        hay = [c for c in ("account_id", "name") if c in present]
        hits = [exp.func("contains", _lower(c), exp.Placeholder()) for c in hay]
        conds.append(exp.or_(*hits) if hits else exp.false())
        params.extend([needle] * len(hits))
    return (exp.and_(*conds) if conds else None), params


def _lower(column: str) -> exp.Expression:
    return exp.Lower(
        this=exp.func("coalesce", exp.cast(col(column), "VARCHAR"), exp.Literal.string(""))
    )


def decisions_offered(present: frozenset[str] | set[str]) -> dict[str, str]:
    return {k: label for k, (label, need, _) in DECISIONS.items() if set(need) <= present}


def _count(where: exp.Expression | None) -> exp.Select:
    return select([exp.Count(this=exp.Star())], _VIEW, where=where)


def _page_sql(
    present: frozenset[str],
    where: exp.Expression | None,
    params: list[Any],
    sort: str,
    q: AccountQuery,
    total: int,
    offset: int,
) -> tuple[str, list[Any], bool]:
    """The page's query, its parameters and whether it reads the rows in reverse order.

    A page is read from the nearer end of the order (a page in the second half backwards,
    with a small offset). When that still skips many rows, the page's account ids are found
    by sorting the sort column and the id alone (not the whole row), then their rows are
    read in order."""
    size = min(q.page_size, max(total - offset, 0))
    backwards = offset > total - offset - size
    skip = total - offset - size if backwards else offset
    if skip <= _SHALLOW:
        page = _ordered(present, where, sort, q.direction, backwards=backwards)
        page = page.limit(exp.Placeholder()).offset(exp.Placeholder())
        return text(page), [*params, size, skip], backwards
    ids = _ordered(present, where, sort, q.direction, backwards=backwards, columns=["account_id"])
    ids = ids.limit(exp.Placeholder()).offset(exp.Placeholder())
    page = _ordered(present, col("account_id").isin(query=ids), sort, q.direction)
    return text(page), [*params, size, skip], False


_SHALLOW = 10_000  # rows skipped before a page is found by its ids (measured at 1M accounts)


def _ordered(
    present: frozenset[str],
    where: exp.Expression | None,
    sort: str,
    direction: str,
    *,
    backwards: bool = False,
    columns: Sequence[str] = tuple(VIEW_COLUMNS),
) -> exp.Select:
    """``columns`` of the view's rows by ``sort`` (nulls last), ties by account id;
    ``backwards``: the exact reverse of that order."""
    cols = [col(c) if c in present else exp.alias_(exp.null(), c, quoted=True) for c in columns]
    desc = (direction == "desc") != backwards
    order = [exp.Ordered(this=col(sort), desc=desc, nulls_first=backwards)]
    if sort != "account_id":
        order.append(exp.Ordered(this=col("account_id"), desc=backwards, nulls_first=False))
    return select(cols, _VIEW, where=where, order=order)


def _records(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = list(VIEW_COLUMNS)
    return [dict(zip(names, r, strict=True)) for r in rows]


def with_page(q: AccountQuery, page: int) -> AccountQuery:
    return replace(q, page=page)


# -- one account --------------------------------------------------------------------------
ACCOUNT_COLUMNS = (
    "name", "owner", "country", "region", "industry", "size_tier", "quadrant", "strategy",
    "revenue", "contribution_margin", "cm_pct", "cost_to_serve", "net_contribution", "net_pct",
    "clv", "clv_method", "clv_reason", "p_alive", "roci", "value_generated", "investment",
    "profit_potential", "headroom", "share_of_wallet", "wallet_total_spend",
)  # fmt: skip


@dataclass(frozen=True)
class AccountFacts:
    """What the account page shows of one account in one run (besides the explanation
    and the history, which keyfolio.analysis.explain and .history give)."""

    account_id: str
    row: dict[str, Any]  # ACCOUNT_COLUMNS the run has
    trend: pd.DataFrame  # year, revenue, margin (yearly.parquet), by year
    cost_to_serve: pd.DataFrame  # activity, amount (cost_to_serve.parquet), largest first


def account_facts(run: runs.Run, account_id: str) -> AccountFacts | None:
    """The account's portfolio row, its revenue and margin per year and its cost to serve
    by activity, each read for this account only; None when the run lacks the account."""
    row = account_row(run, account_id, ACCOUNT_COLUMNS)
    if row is None:
        return None
    only = [("account_id", "=", str(account_id))]
    yearly = run.table(runs.YEARLY, columns=["year", "revenue", "margin"], filters=only)
    trend = pd.DataFrame(columns=["year", "revenue", "margin"]) if yearly is None else yearly
    trend = trend.reindex(columns=["year", "revenue", "margin"]).sort_values("year")
    cts = run.table(runs.COST_TO_SERVE, columns=["activity", "amount"], filters=only)
    cts = pd.DataFrame(columns=["activity", "amount"]) if cts is None else cts
    cts = cts.groupby("activity", as_index=False)["amount"].sum()
    cts = cts.sort_values("amount", ascending=False)
    return AccountFacts(
        str(account_id), row, trend.reset_index(drop=True), cts.reset_index(drop=True)
    )

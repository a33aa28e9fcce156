"""The synthetic sample: schema, determinism, planted truths, referential integrity, sources."""

from __future__ import annotations

import json
import tomllib
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from keyfolio.errors import KeyfolioError
from keyfolio.policy import parse_policy
from keyfolio.sample import SampleInfo, generate_workspace
from keyfolio.schema import ARROW_TYPES, TABLES

END = date(2026, 9, 30)
SMALL = {"accounts": 300, "lines": 20_000, "seed": 11}


@pytest.fixture(scope="module")
def sample(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SampleInfo, list[tuple[str, int, int]]]:
    calls: list[tuple[str, int, int]] = []
    root = tmp_path_factory.mktemp("sample") / "ws"
    info = generate_workspace(
        root, **SMALL, sources=True, progress=lambda s, d, t: calls.append((s, d, t))
    )
    return info, calls


@pytest.fixture(scope="module")
def root(sample: tuple[SampleInfo, list]) -> Path:
    return sample[0].path


@pytest.fixture(scope="module")
def truth(root: Path) -> dict:
    return json.loads((root / "truth.json").read_text())


@pytest.fixture(scope="module")
def economics(root: Path) -> dict[str, dict[str, float]]:
    """Per-account economics computed independently of the generator, with DuckDB."""
    rates = tomllib.loads((root / "keyfolio.toml").read_text())["cost_to_serve"]["rates"]
    con = duckdb.connect()
    con.execute("create table rates(activity varchar, rate double)")
    con.executemany("insert into rates values (?, ?)", list(rates.items()))
    _register(con, root)
    last = END - timedelta(days=365)
    prev = END - timedelta(days=730)
    rows = con.execute(
        """
        with l as (
          select l.account_id,
                 sum(quantity * unit_price * (1 - discount)) as rev,
                 sum(quantity * p.unit_cost) as cogs,
                 sum(case when order_date > ?
                          then quantity * unit_price * (1 - discount) end) as r12,
                 sum(case when order_date > ? and order_date <= ?
                          then quantity * unit_price * (1 - discount) end) as p12
          from order_lines l join products p using (product_id) group by 1),
        f as (select account_id, sum(freight) as freight from orders group by 1),
        c as (select account_id, sum(coalesce(amount, quantity * r.rate)) as cts
              from costs left join rates r using (activity) group by 1)
        select a.account_id, rev, cogs, r12, p12, coalesce(freight, 0), coalesce(cts, 0)
        from accounts a join l using (account_id)
          left join f using (account_id) left join c using (account_id)
        """,
        [last, prev, last],
    ).fetchall()
    out = {}
    for aid, rev, cogs, r12, p12, freight, cts in rows:
        out[aid] = {
            "rev": rev,
            "net": rev - cogs - freight - cts,
            "r12": r12 or 0.0,
            "p12": p12 or 0.0,
            "cts": cts,
        }
    return out


def _read(root: Path, table: str) -> pa.Table:
    return pq.read_table(root / "data" / f"{table}.parquet")


def _register(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    for t in TABLES:
        con.register(t, _read(root, t))


def test_every_canonical_table_with_exact_names_and_types(root: Path) -> None:
    for name, spec in TABLES.items():
        schema = pq.read_schema(root / "data" / f"{name}.parquet")
        known = [f.name for f in schema if f.name in spec.names]
        assert set(spec.required) <= set(known), name
        assert known == [c for c in spec.names if c in known], f"{name}: canonical order"
        for f in schema:
            if f.name in spec.names:
                assert f.type == ARROW_TYPES[spec.column(f.name).kind], (name, f.name, f.type)
            else:
                assert spec.keep_extra, f"{name}: unexpected column {f.name}"
    lines = pq.read_schema(root / "data" / "order_lines.parquet").names
    assert lines == [
        "order_id", "account_id", "order_date", "product_id", "quantity", "unit_price", "discount",
    ]  # fmt: skip


def test_policy_parses_and_prices_every_quantity_activity(root: Path) -> None:
    policy = parse_policy((root / "keyfolio.toml").read_text())
    assert policy.attractiveness and policy.strength
    costs = _read(root, "costs")
    with_qty = pc.filter(costs, pc.is_valid(costs["quantity"]))
    assert set(with_qty["activity"].to_pylist()) <= set(policy.cost_to_serve.rates)
    both = pc.and_(pc.is_valid(costs["amount"]), pc.is_valid(costs["quantity"]))
    assert not pc.any(both).as_py(), "a cost row is either an amount or a quantity"
    for a in ("custom_packaging", "special_shipping", "dedicated_service_hour", "edi_message"):
        assert a in with_qty["activity"].to_pylist()


def test_policy_criteria_find_their_data(root: Path) -> None:
    """Every assessment/feedback criterion of the sample policy has data in the sample."""
    policy = parse_policy((root / "keyfolio.toml").read_text())
    have = {
        "assessment": set(_read(root, "assessments")["criterion"].to_pylist()),
        "feedback": set(_read(root, "feedback")["metric"].to_pylist()),
        "attribute": set(_read(root, "accounts").column_names),
    }
    for c in [*policy.attractiveness, *policy.strength]:
        if c.kind in have:
            assert c.field in have[c.kind], c.source
    team = _read(root, "team")
    if policy.selection.capacity_hours:
        total = pc.sum(team["capacity_hours"]).as_py()
        assert abs(total - policy.selection.capacity_hours) < 0.2 * policy.selection.capacity_hours


def test_counts_and_progress(sample: tuple[SampleInfo, list]) -> None:
    info, calls = sample
    assert info.counts["accounts"] == SMALL["accounts"]
    assert info.counts["order_lines"] == SMALL["lines"]
    for t in TABLES:
        assert info.counts[t] == pq.read_metadata(info.path / "data" / f"{t}.parquet").num_rows
    stages = {s for s, _, _ in calls}
    assert {"accounts", "order_lines", "costs", "sources"} <= stages
    last = [c for c in calls if c[0] == "order_lines"][-1]
    assert last[1] == last[2] == SMALL["lines"]


def test_same_seed_same_tables_other_seed_other_tables(tmp_path: Path) -> None:
    a = generate_workspace(tmp_path / "a", accounts=120, lines=4000, seed=3, chunk_lines=1500)
    b = generate_workspace(tmp_path / "b", accounts=120, lines=4000, seed=3, chunk_lines=1500)
    c = generate_workspace(tmp_path / "c", accounts=120, lines=4000, seed=4, chunk_lines=1500)
    for t in TABLES:
        ta, tb = _read(a.path, t), _read(b.path, t)
        assert ta.equals(tb), t
    assert (a.path / "keyfolio.toml").read_text() == (b.path / "keyfolio.toml").read_text()
    assert (a.path / "truth.json").read_text() == (b.path / "truth.json").read_text()
    assert not _read(a.path, "order_lines").equals(_read(c.path, "order_lines"))
    # several chunks were written and the ids stay unique across them
    lines = _read(a.path, "order_lines")
    assert pq.read_metadata(a.path / "data" / "order_lines.parquet").num_row_groups > 1
    orders = _read(a.path, "orders")
    assert len(pc.unique(orders["order_id"])) == orders.num_rows
    assert lines.num_rows == 4000


def test_value_destroyers_lose_money_after_cost_to_serve(truth: dict, economics: dict) -> None:
    destroyers = truth["value_destroyers"]
    assert len(destroyers) >= 3
    revs = sorted((e["rev"] for e in economics.values()), reverse=True)
    top = revs[max(1, len(revs) // 10) - 1]  # the top 10% by revenue
    for aid in destroyers:
        e = economics[aid]
        assert e["net"] < 0, aid
        assert e["rev"] >= top, f"{aid}: a value destroyer is a very large account"


def test_diamonds_are_small_profitable_and_growing(truth: dict, economics: dict) -> None:
    diamonds = truth["diamonds"]
    assert len(diamonds) >= 3
    revs = sorted(e["rev"] for e in economics.values())
    median_rev = revs[len(revs) // 2]
    top5 = revs[int(0.95 * len(revs))]
    cm = sorted(e["net"] / e["rev"] for e in economics.values() if e["rev"] > 0)
    for aid in diamonds:
        e = economics[aid]
        assert e["net"] > 0 and e["net"] / e["rev"] > max(0.3, cm[len(cm) // 2]), aid
        assert e["rev"] < top5, f"{aid}: a diamond has modest revenue"
        assert e["cts"] < 0.02 * e["rev"], aid
    growth = [economics[a]["r12"] / max(economics[a]["p12"], 1.0) - 1 for a in diamonds]
    assert sorted(growth)[len(growth) // 2] > 0.5  # strong trailing-12-months growth
    assert sum(economics[a]["rev"] for a in diamonds) / len(diamonds) > 0.3 * median_rev


def test_revenue_is_concentrated(economics: dict) -> None:
    revs = sorted((max(e["rev"], 0.0) for e in economics.values()), reverse=True)
    top = revs[: max(1, len(revs) // 10)]
    assert sum(top) > 0.5 * sum(revs)


def test_references_hold(root: Path) -> None:
    con = duckdb.connect()
    _register(con, root)
    lines_join = "select count(*) from order_lines anti join "
    checks = {
        "line without account": lines_join + "accounts using (account_id)",
        "line without order": lines_join + "orders using (order_id)",
        "line without product": lines_join + "products using (product_id)",
        "line disagrees with order": """select count(*) from order_lines l join orders o
            using (order_id) where l.account_id <> o.account_id or l.order_date <> o.order_date""",
        "order without lines": "select count(*) from orders anti join order_lines using (order_id)",
        "unknown parent": """select count(*) from accounts a where parent_id is not null
            and parent_id not in (select account_id from accounts)""",
        "unknown owner": "select count(*) from accounts anti join team on owner = manager_id",
        "duplicate account": "select count(*) - count(distinct account_id) from accounts",
        "duplicate order": "select count(*) - count(distinct order_id) from orders",
        "discount outside 0-0.3": """select count(*) from order_lines
            where discount not between 0 and 0.3""",
        "score outside 1-5": "select count(*) from assessments where score not between 1 and 5",
        "nps outside range": """select count(*) from feedback
            where metric = 'nps' and abs(value) > 100""",
        "cost without account": "select count(*) from costs anti join accounts using (account_id)",
        "assessment without account": """select count(*) from assessments
            anti join accounts using (account_id)""",
        "wallet without account": """select count(*) from wallet
            anti join accounts using (account_id)""",
        "declared without account": """select count(*) from declared
            anti join accounts using (account_id)""",
        "feedback without account": """select count(*) from feedback
            anti join accounts using (account_id)""",
    }
    for what, sql in checks.items():
        assert con.execute(sql).fetchone() == (0,), what
    n, neg = con.execute(
        "select count(*), count(*) filter (where quantity < 0) from order_lines"
    ).fetchone()
    assert 0.005 < neg / n < 0.08, "a few % of the lines are returns"


def test_ids_are_strings_with_leading_zeros(root: Path) -> None:
    for table, column in [
        ("accounts", "account_id"),
        ("orders", "order_id"),
        ("products", "product_id"),
    ]:
        col = _read(root, table)[column]
        assert col.type == pa.string()
        assert all(v.startswith("0") for v in col.to_pylist()[:50]), table
    countries = set(_read(root, "accounts")["country"].to_pylist())
    assert None not in countries


def test_planted_structure(root: Path, truth: dict) -> None:
    accounts = _read(root, "accounts").to_pylist()
    by_id = {a["account_id"]: a for a in accounts}
    buyers = set(_read(root, "orders")["account_id"].to_pylist())
    assert truth["no_orders"] and not set(truth["no_orders"]) & buyers
    assert set(truth["no_orders"]) <= set(by_id)
    assert len(buyers) + len(truth["no_orders"]) == len(by_id)
    leaders = {a["account_id"] for a in accounts if a["market_leader"]}
    assert leaders == set(truth["market_leaders"]) and leaders
    # groups: children point at the HQ and sit in other countries than it
    assert truth["groups"] and truth["global_group"] in truth["groups"]
    assert len(truth["groups"][truth["global_group"]]) >= 5
    for hq, kids in truth["groups"].items():
        assert by_id[hq]["parent_id"] is None
        for kid in kids:
            assert by_id[kid]["parent_id"] == hq
            assert by_id[kid]["country"] != by_id[hq]["country"]
    # churned accounts stopped ordering months before the end
    orders = _read(root, "orders")
    last = duckdb.sql("select account_id, max(order_date) from orders group by 1").fetchall()
    last_by = dict(last)
    for aid in truth["churned"]:
        assert last_by[aid] < END - timedelta(days=80), aid
        assert by_id[aid]["status"] in ("inactive", "closed")
    assert orders.num_rows > 0


def test_assessments_declared_feedback_wallet(root: Path, truth: dict) -> None:
    a = _read(root, "assessments")
    per_account = duckdb.sql(
        "select account_id, count(distinct assessor) n from a group by 1"
    ).fetchall()
    assert len(per_account) >= 30 and min(n for _, n in per_account) >= 2
    assert set(pc.unique(a["criterion"]).to_pylist()) >= {"aligned_strategy", "ease_of_business"}
    spread = dict(
        ((r[0], r[1]), r[2])
        for r in duckdb.sql(
            "select account_id, criterion, max(score) - min(score) from a group by 1, 2"
        ).fetchall()
    )
    assert truth["disagreements"]
    for aid, criterion in truth["disagreements"]:
        assert spread[(aid, criterion)] >= 4
    declared = _read(root, "declared")
    lists = {
        name: set(
            pc.filter(declared, pc.equal(declared["list_name"], name))["account_id"].to_pylist()
        )
        for name in ("leadership", "middle_management", "field_reps")
    }
    assert all(lists.values())
    lead, mid = lists["leadership"], lists["middle_management"]
    assert len(lead & mid) < 0.8 * min(len(lead), len(mid))  # they disagree
    metrics = set(_read(root, "feedback")["metric"].to_pylist())
    assert metrics == {"supplier_rating", "nps", "supplier_segment"}
    wallet = _read(root, "wallet")
    assert wallet.num_rows > 0.5 * SMALL["accounts"]
    assert pc.min(wallet["total_spend"]).as_py() > 0


def _read_source(folder: Path, table: str, spec: dict) -> pa.Table:
    """A minimal reader honouring the mapping options (the real importer is keyfolio.ingest)."""
    canon = TABLES[table]
    columns: dict[str, str] = spec["columns"]
    types = {}
    for name, source in columns.items():
        kind = canon.column(name).kind if name in canon.names else "number"
        if name in ("employees",):
            kind = "number"
        elif name == "segment":
            kind = "text"
        types[source] = {"id": pa.string(), "text": pa.string(), "number": pa.float64(),
                         "bool": pa.bool_(), "date": pa.timestamp("s")}[kind]  # fmt: skip
    raw = (folder / spec["file"]).read_bytes().decode(spec.get("encoding", "utf-8"))
    table = pacsv.read_csv(
        pa.BufferReader(raw.encode("utf-8")),
        parse_options=pacsv.ParseOptions(delimiter=spec.get("delimiter", ",")),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            decimal_point=spec.get("decimal", "."),
            timestamp_parsers=[spec.get("date_format", "%Y-%m-%d")],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    out = {}
    for name, source in columns.items():
        col = table[source]
        out[name] = col.cast(pa.date32()) if pa.types.is_timestamp(col.type) else col
    return pa.table(out)


def test_sources_mapping_reproduces_the_tables(root: Path) -> None:
    folder = root / "sources"
    mapping = tomllib.loads((folder / "mapping.toml").read_text(encoding="utf-8"))
    allowed = {"file", "columns", "delimiter", "encoding", "date_format", "decimal", "sheet",
               "header_row", "missing", "where"}  # fmt: skip
    assert set(mapping) == set(TABLES)
    assert any(
        spec.get("delimiter") == ";" and spec.get("decimal") == "," for spec in mapping.values()
    )
    for table, spec in mapping.items():
        assert set(spec) <= allowed, table
        assert (folder / spec["file"]).is_file()
        assert set(TABLES[table].required) <= set(spec["columns"]), table
        got = _read_source(folder, table, spec)
        want = _read(root, table)
        assert got.column_names == want.column_names, table
        assert got.cast(want.schema).equals(want), table


def test_bad_arguments_and_existing_folders(tmp_path: Path) -> None:
    with pytest.raises(KeyfolioError, match="accounts"):
        generate_workspace(tmp_path / "x", accounts=3)
    with pytest.raises(KeyfolioError, match="years"):
        generate_workspace(tmp_path / "x", years=0)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(KeyfolioError, match="expected a new or empty folder"):
        generate_workspace(other, accounts=60, lines=2000)
    with pytest.raises(KeyfolioError, match="refusing to overwrite"):
        generate_workspace(other, accounts=60, lines=2000, overwrite=True)
    assert (other / "notes.txt").read_text() == "mine"
    ws = generate_workspace(tmp_path / "ws", accounts=60, lines=2000)
    again = generate_workspace(ws.path, accounts=70, lines=2000, overwrite=True)
    assert _read(again.path, "accounts").num_rows == 70
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

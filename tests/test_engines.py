"""The facts and value passes on engines other than DuckDB (issue 13).

* Compile check, no engine running: the facts, cost-to-serve and RFM expressions compile to
  SQL for every target dialect.
* Local Spark (``local[1]``, UI off, 2 shuffle partitions, driver on 127.0.0.1) on a small
  sample: the same per-account facts and RFM summary as DuckDB, and ``keyfolio run --engine
  pyspark://...`` gives the DuckDB run's portfolio facts and key list.
* PostgreSQL (the database tests' throwaway server) with catalog tables and no Parquet files
  for them: the same comparison.

A missing Java or PostgreSQL skips here and fails under CI (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from conftest import missing
from keyfolio import runs
from keyfolio.cli import build_app
from keyfolio.errors import PolicyError
from keyfolio.pipeline.engine import Engine, engine_url, open_engine
from keyfolio.pipeline.facts import (
    add_months,
    compute_facts,
    costs_by_activity,
    normalised_lines,
    yearly_facts,
)
from keyfolio.pipeline.sources import Tables
from keyfolio.pipeline.value import rfm_pass
from keyfolio.policy import load_policy, parse_policy
from keyfolio.sample import make_sample
from keyfolio.value.summary import rfm_summary
from keyfolio.workspace import Workspace
from test_db import pg_cluster  # noqa: F401  (the throwaway PostgreSQL server)

DIALECTS = ["duckdb", "postgres", "pyspark", "snowflake", "bigquery", "trino", "databricks"]
SPARK_URL = (
    "pyspark://?master=local[1]&spark.ui.enabled=false&spark.ui.showConsoleProgress=false"
    "&spark.sql.shuffle.partitions=2&spark.driver.bindAddress=127.0.0.1"
    "&spark.driver.host=127.0.0.1"
)
FACT_TABLES = ("order_lines", "orders", "products", "costs")
PORTFOLIO_FACTS = ["revenue", "cogs", "contribution_margin", "cost_to_serve", "net_contribution",
                   "revenue_growth", "lines", "orders", "first_order", "last_order",
                   "size_tier", "clv", "attractiveness", "strength", "quadrant"]  # fmt: skip
runner = CliRunner()
# pyspark's pandas conversion on pandas 3 (not ours to fix)
pytestmark = pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")


# -- compile check, no engine running ------------------------------------------------------


def _unbound() -> dict[str, ibis.Table]:
    return {
        "order_lines": ibis.table(
            {"order_id": "string", "product_id": "string", "quantity": "float64",
             "unit_price": "float64", "discount": "float64"}, name="order_lines",
        ),
        "orders": ibis.table(
            {"order_id": "string", "account_id": "string", "order_date": "date",
             "freight": "float64"}, name="orders",
        ),
        "products": ibis.table(
            {"product_id": "string", "category": "string", "unit_cost": "float64"},
            name="products",
        ),
        "costs": ibis.table(
            {"account_id": "string", "activity": "string", "date": "date", "amount": "float64",
             "quantity": "float64"}, name="costs",
        ),
    }  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS)
def test_facts_costs_and_rfm_compile_for_every_target(dialect: str) -> None:
    if dialect == "pyspark":  # its compiler's options come with the backend (no session)
        if importlib.util.find_spec("pyspark") is None:
            missing("pyspark is not installed (pip install -e '.[spark]')")
        assert ibis.pyspark is not None
    t = _unbound()
    lines = normalised_lines(
        t["order_lines"], orders=t["orders"], products=t["products"],
        categories={"Beverages": 0, "Dairy": 1},
    )  # fmt: skip
    as_of = dt.date(2026, 9, 30)
    yearly = yearly_facts(lines, as_of, 12, 3, since=add_months(as_of, -6), categories=2)
    costs = costs_by_activity(t["costs"], t["orders"], {"edi_message": 0.5, "quality_call": 120})
    assert costs is not None
    value = lines.select("account_id", "order_date", "revenue", margin=lines.revenue - lines.cost)
    rfm = rfm_summary(value, cutoff=as_of, time_unit_days=7.0).order_by("account_id")
    for expr in (yearly.order_by(["account_id", "year"]), costs, rfm):
        sql = ibis.to_sql(expr, dialect=dialect)
        assert "SELECT" in sql.upper()
        for unportable in ("BIT_OR", "<<", "CREATE", "INSERT"):
            assert unportable not in sql.upper(), (dialect, unportable)


# -- the engine by URL -----------------------------------------------------------------------


def test_a_password_in_the_policy_url_is_refused_naming_file_and_key() -> None:
    text = '[engine]\nurl = "postgresql://kam:s3cret@db.example:5432/sales"\n'
    with pytest.raises(PolicyError) as err:
        parse_policy(text, source="ws/keyfolio.toml")
    msg = str(err.value)
    assert msg.startswith("ws/keyfolio.toml: engine.url: ") and "KEYFOLIO_ENGINE" in msg
    assert "s3cret" not in msg and "\n" not in msg
    # a URL without a password is fine, and the environment and --engine override it
    policy = parse_policy('[engine]\nurl = "trino://kam@db.example:8080/hive"\n')
    assert engine_url(policy) == "trino://kam@db.example:8080/hive"


def test_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = parse_policy('[engine]\nurl = "trino://kam@db/hive"\n')
    monkeypatch.delenv("KEYFOLIO_ENGINE", raising=False)
    assert engine_url(parse_policy("")) == "duckdb://"
    monkeypatch.setenv("KEYFOLIO_ENGINE", "pyspark://?master=local[2]")
    assert engine_url(policy) == "pyspark://?master=local[2]"
    assert engine_url(policy, "duckdb://") == "duckdb://"


def _limit(engine: Engine) -> str:
    return str(engine.con.con.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def test_the_value_pass_share_of_duckdbs_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFOLIO_MEMORY_LIMIT", "2GiB")
    engine = open_engine("duckdb://")
    try:
        assert _limit(engine) == "2.0 GiB"
        engine.share_memory(0.5)
        assert _limit(engine) == "1.0 GiB"
        engine.share_memory(0.001)  # never below 256 MiB: DuckDB spills, it does not stop
        assert _limit(engine) == "256.0 MiB"
        engine.con.con.execute("SET memory_limit = '100MiB'")
        engine.share_memory(0.001)  # a limit already below that is kept, not raised
        assert _limit(engine) == "100.0 MiB"
    finally:
        engine.close()


# -- the same facts on another engine ---------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("engines") / "ws"
    make_sample(root, accounts=300, lines=20_000, seed=13)
    return root


def _copy(src: Path, dst: Path) -> Workspace:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("runs", "keyfolio.db*"))
    return Workspace.open(dst)


def _passes(ws: Workspace, engine: Engine) -> tuple[pa.Table, pa.Table, pd.DataFrame]:
    policy = load_policy(ws.policy_path)
    src = Tables(ws, engine.con, policy.engine.tables)
    facts = compute_facts(ws, policy, tables=src)
    rfm = rfm_pass(src, policy, facts)
    assert rfm is not None
    return facts.accounts, facts.costs, rfm


def _same_table(ref: pa.Table, got: pa.Table, *, float_tol: float) -> None:
    assert got.schema.names == ref.schema.names
    assert got.schema.types == ref.schema.types, (ref.schema, got.schema)
    ref = ref.sort_by(
        [(c, "ascending") for c in ("account_id", "activity") if c in ref.schema.names]
    )
    got = got.sort_by(
        [(c, "ascending") for c in ("account_id", "activity") if c in got.schema.names]
    )
    for name in ref.schema.names:
        a, b = ref[name].to_pylist(), got[name].to_pylist()
        if pa.types.is_floating(ref.schema.field(name).type):
            bad = [(x, y) for x, y in zip(a, b, strict=True) if not _close(x, y, float_tol)]
            assert not bad, f"{name}: {len(bad)} values differ, e.g. {bad[:3]}"
        else:  # ids, whole numbers, dates: equal
            assert a == b, name


def _close(x: Any, y: Any, tol: float) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return abs(x - y) <= tol


def _compare_with_duckdb(ws_ref: Workspace, ws: Workspace, engine: Engine) -> None:
    duck = open_engine("duckdb://")
    try:
        ref = _passes(ws_ref, duck)
    finally:
        duck.close()
    got = _passes(ws, engine)
    _same_table(ref[0], got[0], float_tol=0.005)
    _same_table(ref[1], got[1], float_tol=0.005)
    rfm_ref = pa.Table.from_pandas(ref[2], preserve_index=False)
    rfm_got = pa.Table.from_pandas(got[2], preserve_index=False)
    _same_table(rfm_ref, rfm_got, float_tol=1e-9)


def _run_json(ws: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(build_app(), ["run", str(ws), "--json", "--draws", "20", *args])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def _same_portfolio(ref_ws: Path, ws: Path) -> None:
    ref = Workspace.open(ref_ws)
    got = Workspace.open(ws)
    a = runs.get(ref).portfolio().set_index("account_id").sort_index()
    b = runs.get(got).portfolio().set_index("account_id").sort_index()
    assert list(a.index) == list(b.index)
    assert sorted(a.index[a["is_key"].astype(bool)]) == sorted(b.index[b["is_key"].astype(bool)])
    for col in PORTFOLIO_FACTS:
        if pd.api.types.is_float_dtype(a[col]):
            pd.testing.assert_series_equal(a[col], b[col], check_exact=False, rtol=1e-9)
        else:
            assert a[col].tolist() == b[col].tolist(), col


@pytest.fixture(scope="module")
def spark() -> Iterator[Engine]:
    if importlib.util.find_spec("pyspark") is None:
        missing("pyspark is not installed (pip install -e '.[spark]')")
    if shutil.which("java") is None:
        missing("Java is not installed (Debian: apt-get install -y openjdk-17-jre-headless)")
    engine = open_engine(SPARK_URL)
    try:
        yield engine
    finally:
        engine.close()


def test_spark_local_gives_duckdbs_facts_and_rfm(
    spark: Engine, sample: Path, tmp_path: Path
) -> None:
    assert spark.scheme == "pyspark" and spark.session is not None  # built here
    _compare_with_duckdb(Workspace.open(sample), Workspace.open(sample), spark)


def test_keyfolio_run_on_spark_equals_the_duckdb_run(
    spark: Engine, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYFOLIO_ENGINE", raising=False)
    ref, ws = _copy(sample, tmp_path / "duck"), _copy(sample, tmp_path / "spark")
    _run_json(ref.root)
    _run_json(ws.root, "--engine", "pyspark://?master=local[1]")
    _same_portfolio(ref.root, ws.root)
    assert runs.get(ws).meta()["engine"] == {"scheme": "pyspark", "version": spark.version}
    # the session was running already: the run used it and did not stop it
    assert spark.session is not None and not spark.session.sparkContext._jsc.sc().isStopped()


def _catalog_workspace(sample: Path, dst: Path, url: str) -> Workspace:
    """A copy of the sample whose facts tables live in PostgreSQL, not in data/."""
    ws = _copy(sample, dst)
    con = ibis.connect(url)
    try:
        for name in FACT_TABLES:
            con.create_table(name, ws.read_table(name), overwrite=True)
            ws.table_path(name).unlink()
    finally:
        con.disconnect()
    tables = "".join(f'{n} = "public.{n}"\n' for n in FACT_TABLES)
    text = ws.policy_path.read_text(encoding="utf-8")
    ws.policy_path.write_text(text + "\n[engine.tables]\n" + tables, encoding="utf-8")
    return ws


def test_postgres_catalog_tables_give_duckdbs_facts_and_run(
    pg_cluster: Any,  # noqa: F811
    sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KEYFOLIO_ENGINE", raising=False)
    url = pg_cluster.new_database()
    ws = _catalog_workspace(sample, tmp_path / "pg", url)
    assert not any(ws.has_table(n) for n in FACT_TABLES)
    engine = open_engine(url)
    try:
        _compare_with_duckdb(Workspace.open(sample), ws, engine)
    finally:
        engine.close()
    ref = _copy(sample, tmp_path / "duck")
    _run_json(ref.root)
    monkeypatch.setenv("KEYFOLIO_ENGINE", url)
    _run_json(ws.root)
    _same_portfolio(ref.root, ws.root)
    meta = runs.get(ws).meta()
    assert meta["engine"]["scheme"] == "postgresql"
    rows = runs.get(ref).meta()["inputs"]["order_lines"]["rows"]
    assert meta["inputs"]["order_lines"] == {"table": "public.order_lines", "rows": rows}
    assert "127.0.0.1" not in str(meta)  # no URL, no host, no user in run.json

"""App database: overrides, audit log, migrations, concurrency — on SQLite and PostgreSQL.

The PostgreSQL half starts a throwaway cluster (initdb + pg_ctl, trust auth, loopback,
fsync off) once per session when the server binaries are installed (Debian:
``apt-get install -y postgresql``), and skips with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from keyfolio.db import (
    ConcurrentChangeError,
    add_override,
    close_db,
    database_url,
    history,
    list_overrides,
    open_db,
    override_history,
    override_state,
    record,
    remove_override,
)
from keyfolio.db.engine import ENV_VAR, migrations_config, write_session
from keyfolio.db.models import Base, OverrideRow, utcnow
from keyfolio.errors import KeyfolioError, WorkspaceError
from keyfolio.workspace import Workspace

# -- a throwaway PostgreSQL cluster ------------------------------------------------------


def _pg_bindir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Cluster:
    def __init__(self, bindir: Path, as_user: list[str], root: Path) -> None:
        self.bindir, self.as_user, self.root = bindir, as_user, root
        self.data = root / "data"
        self.port = _free_port()
        self.count = 0

    def run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, text=True, timeout=60
        )

    def start(self) -> None:
        self.run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self.run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        self.count += 1
        name = f"keyfolio_test_{self.count}"
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def _run_as() -> list[str] | str:
    """How to run the server binaries: argv prefix, or the reason we cannot."""
    if os.geteuid() != 0:
        return []
    # runuser lives in /usr/sbin, which a minimal PATH may lack
    runuser = shutil.which(
        "runuser", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    )
    if runuser is None:
        return "running as root and runuser is not available to drop to the postgres user"
    try:
        subprocess.run([runuser, "-u", "postgres", "--", "true"], check=True, timeout=10)
    except (subprocess.SubprocessError, OSError):
        return "running as root and `runuser -u postgres` does not work (no postgres user?)"
    return [runuser, "-u", "postgres", "--"]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[_Cluster]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install -y postgresql)")
    as_user = _run_as()
    if isinstance(as_user, str):
        pytest.skip(as_user)
    root = Path(tempfile.mkdtemp(prefix="keyfolio-pg-"))
    if as_user:
        shutil.chown(root, user="postgres", group="postgres")
    cluster = _Cluster(bindir, as_user, root)
    try:
        cluster.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL: {exc.stderr.strip()[-300:]}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A workspace whose app database is SQLite (default) or a fresh PostgreSQL database."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        monkeypatch.setenv(ENV_VAR, cluster.new_database())
    workspace = Workspace(tmp_path)
    yield workspace
    close_db(workspace)


# -- overrides -----------------------------------------------------------------------------


def test_add_replace_remove_list(ws: Workspace) -> None:
    assert list_overrides(ws) == []
    first = add_override(ws, "A1", "in", "strategic partner", "alice")
    add_override(ws, "B2", "out", "closing the account", "bob")
    assert [(o.account_id, o.direction, o.who) for o in list_overrides(ws)] == [
        ("A1", "in", "alice"),
        ("B2", "out", "bob"),
    ]
    assert first.at.tzinfo is not None

    second = add_override(ws, "A1", "out", "  lost the tender ", "carol")
    assert second.reason == "lost the tender"
    active = {o.account_id: o for o in list_overrides(ws)}
    assert len(active) == 2 and active["A1"] == second

    assert remove_override(ws, "A1", "dave") is True
    assert remove_override(ws, "A1", "dave") is False
    assert remove_override(ws, "never-had-one", "dave") is False
    assert [o.account_id for o in list_overrides(ws)] == ["B2"]


def test_audit_entries(ws: Workspace) -> None:
    add_override(ws, "A1", "in", "strategic", "alice")
    add_override(ws, "A1", "out", "lost tender", "bob")
    remove_override(ws, "A1", "carol")
    add_override(ws, "Z9", "in", "other account", "alice")

    entries = override_history(ws, "A1")
    assert [(e.action, e.who) for e in entries] == [
        ("add", "alice"),
        ("superseded", "bob"),
        ("replace", "bob"),
        ("remove", "carol"),
    ]
    added, superseded, replaced, removed = entries
    assert added.before is None and added.after["direction"] == "in"
    assert superseded.before["removed_at"] is None and superseded.after["removed_by"] == "bob"
    assert replaced.before["reason"] == "strategic" and replaced.after["reason"] == "lost tender"
    # the replacement's two entries were written in the same transaction, at the same instant
    assert superseded.at == replaced.at
    assert removed.after["removed_by"] == "carol" and removed.after["version"] == 3
    assert all(e.entity == "override" and e.entity_id == "A1" for e in entries)
    assert len(override_history(ws)) == 5
    assert [e.entity_id for e in history(ws, "override")][-1] == "Z9"


def test_audit_record_generic_entities(ws: Workspace) -> None:
    with write_session(ws) as session:
        record(session, "lead", "policy", "keyfolio.toml", "edit", {"a": 1}, {"a": 2})
    with pytest.raises(RuntimeError), write_session(ws) as session:  # rolled back together
        record(session, "lead", "plan", "A1", "edit", None, {"goal": "grow"})
        raise RuntimeError("the change failed")
    assert [(e.entity, e.before, e.after) for e in history(ws)] == [("policy", {"a": 1}, {"a": 2})]
    with pytest.raises(ValueError, match="audit entity"), write_session(ws) as session:
        record(session, "lead", "budget", "x", "edit", None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": ""}, "an override needs a reason"),
        ({"reason": "   "}, "an override needs a reason"),
        ({"who": ""}, "needs to say who"),
        ({"account_id": " "}, "needs an account id"),
        ({"direction": "sideways"}, "must be 'in' or 'out', found 'sideways'"),
    ],
)
def test_invalid_override_rejected(ws: Workspace, kwargs: dict[str, str], message: str) -> None:
    args = {"account_id": "A1", "direction": "in", "reason": "why", "who": "alice", **kwargs}
    with pytest.raises(KeyfolioError, match=message):
        add_override(ws, **args)  # type: ignore[arg-type]
    assert list_overrides(ws) == [] and override_history(ws) == []


def test_one_active_override_enforced_by_the_database(ws: Workspace) -> None:
    add_override(ws, "A1", "in", "strategic", "alice")
    with pytest.raises(IntegrityError), write_session(ws) as session:
        session.add(
            OverrideRow(
                account_id="A1", direction="out", reason="x", who="mallory",
                created_at=utcnow(), version=9,
            )
        )  # fmt: skip
    with pytest.raises(IntegrityError), write_session(ws) as session:
        session.add(
            OverrideRow(account_id="A2", direction="up", reason="x", who="m", created_at=utcnow())
        )
    assert [o.who for o in list_overrides(ws)] == ["alice"]


# -- concurrency ---------------------------------------------------------------------------


def test_concurrent_modification_detected(ws: Workspace) -> None:
    add_override(ws, "A1", "in", "strategic", "alice")
    seen_by_bob = override_state(ws, "A1")
    seen_by_carol = override_state(ws, "A1")
    assert seen_by_bob.version == 1 and seen_by_bob.active is not None

    add_override(ws, "A1", "out", "lost tender", "bob", expected_version=seen_by_bob.version)
    with pytest.raises(ConcurrentChangeError, match=r"changed by bob at .* UTC since you read"):
        add_override(ws, "A1", "in", "keep", "carol", expected_version=seen_by_carol.version)
    with pytest.raises(ConcurrentChangeError, match="changed by bob"):
        remove_override(ws, "A1", "carol", expected_version=seen_by_carol.version)
    assert [(o.who, o.direction) for o in list_overrides(ws)] == [("bob", "out")]

    fresh = override_state(ws, "A1")
    assert fresh.version == 2
    assert remove_override(ws, "A1", "carol", expected_version=fresh.version)
    with pytest.raises(ConcurrentChangeError, match="changed by carol"):
        add_override(ws, "A1", "in", "again", "bob", expected_version=fresh.version)
    assert override_state(ws, "A1").version == 3
    assert [e.who for e in override_history(ws, "A1")] == ["alice", "bob", "bob", "carol"]


@pytest.mark.parametrize("existing", [False, True])
def test_racing_replacements_only_one_wins(ws: Workspace, existing: bool) -> None:
    """Threads that all read the same version race to replace; exactly one succeeds."""
    if existing:
        add_override(ws, "A1", "in", "strategic", "alice")
    version = override_state(ws, "A1").version
    open_db(ws)  # migrate before the race
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def edit(who: str) -> None:
        barrier.wait()
        try:
            add_override(ws, "A1", "out", f"by {who}", who, expected_version=version)
            outcomes.append("ok")
        except ConcurrentChangeError as exc:
            outcomes.append("conflict" if "since you read it; reload" in str(exc) else str(exc))

    threads = [threading.Thread(target=edit, args=(f"user{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    assert len(list_overrides(ws)) == 1
    assert override_state(ws, "A1").version == version + 1


# -- schema and migrations -----------------------------------------------------------------


def _schema_diffs(ws: Workspace, metadata: MetaData) -> list[object]:
    engine = open_db(ws)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migration_head_matches_models(ws: Workspace) -> None:
    assert _schema_diffs(ws, Base.metadata) == []
    names = {ix["name"] for ix in inspect(open_db(ws)).get_indexes("overrides")}
    assert "uq_overrides_active_account" in names

    # the comparison can fail: a model with a column the migrations lack shows up
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["audit_log"].append_column(Column("extra", Integer))
    assert any("extra" in str(diff) for diff in _schema_diffs(ws, changed))


def test_downgrade_and_upgrade_again(ws: Workspace) -> None:
    engine = open_db(ws)
    add_override(ws, "A1", "in", "strategic", "alice")
    cfg = migrations_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        head = ScriptDirectory.from_config(cfg).get_current_head()
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    assert list_overrides(ws) == []


# -- where the database is ----------------------------------------------------------------


def test_database_url_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    ws = Workspace(tmp_path)
    assert database_url(ws) == f"sqlite:///{(tmp_path / 'keyfolio.db').resolve()}"

    (tmp_path / "settings.toml").write_text('database_url = "postgres://kam@db.example/kf"\n')
    assert database_url(ws) == "postgresql+psycopg://kam@db.example/kf"

    monkeypatch.setenv(ENV_VAR, f"sqlite:///{tmp_path / 'other.db'}")
    assert database_url(ws) == f"sqlite:///{tmp_path / 'other.db'}"

    monkeypatch.setenv(ENV_VAR, "mysql://x@y/z")
    with pytest.raises(WorkspaceError, match="expected a sqlite:// or postgresql:// URL"):
        database_url(ws)
    monkeypatch.delenv(ENV_VAR)
    (tmp_path / "settings.toml").write_text("database_url = 5\n")
    with pytest.raises(WorkspaceError, match="expected database_url to be a URL string"):
        database_url(ws)
    (tmp_path / "settings.toml").write_text("database_url = \n")
    with pytest.raises(WorkspaceError, match="expected valid TOML"):
        database_url(ws)


def test_sqlite_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    ws = Workspace(tmp_path)
    add_override(ws, "A1", "in", "strategic", "alice")
    assert (tmp_path / "keyfolio.db").is_file()
    with open_db(ws).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    close_db(ws)
    assert [o.who for o in list_overrides(ws)] == ["alice"]  # reopened: data persisted
    close_db(ws)


def test_reading_creates_nothing_and_a_current_schema_is_not_migrated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run reads the overrides on every run: with no database yet that creates none, and a
    database already at the newest revision is opened without running the migrations."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    ws = Workspace(tmp_path)
    assert list_overrides(ws) == []
    assert not (tmp_path / "keyfolio.db").exists()
    add_override(ws, "A1", "in", "strategic", "alice")
    close_db(ws)
    upgrades: list[str] = []
    real = command.upgrade
    monkeypatch.setattr(command, "upgrade", lambda *a, **k: upgrades.append("x") or real(*a, **k))
    assert [o.account_id for o in list_overrides(ws)] == ["A1"]
    assert upgrades == []
    close_db(ws)

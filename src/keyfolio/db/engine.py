"""Where the app database lives, and opening it at the current schema.

The URL comes from one place, in this order:

1. the environment variable ``KEYFOLIO_DATABASE_URL`` (e.g. a team's PostgreSQL),
2. a ``database_url = "..."`` line in ``<workspace>/settings.toml``,
3. the default ``sqlite:///<workspace>/keyfolio.db``.

:func:`open_db` upgrades the schema to the newest Alembic revision shipped in
``keyfolio/db/migrations`` (no ``alembic.ini`` needed) and caches one engine per URL.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from keyfolio.errors import WorkspaceError, first_line
from keyfolio.workspace import Workspace

ENV_VAR = "KEYFOLIO_DATABASE_URL"
SETTINGS_FILE = "settings.toml"
_WRITE = "keyfolio_write"
_PG_MIGRATION_LOCK = 0x6B66_0DB  # pg_advisory_xact_lock key: one migrator at a time

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


# -- the URL ------------------------------------------------------------------------------
def database_url(ws: Workspace) -> str:
    """The app database URL of ``ws`` (see the module docstring for the order)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _normalise(env, f"environment variable {ENV_VAR}")
    configured = _settings_url(ws)
    if configured is not None:
        return _normalise(configured, f"{ws.root / SETTINGS_FILE}: database_url")
    return URL.create("sqlite", database=str(ws.db_path.resolve())).render_as_string()


def _settings_url(ws: Workspace) -> str | None:
    path = ws.root / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{path}: expected valid TOML, found {exc}") from None
    value = settings.get("database_url")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise WorkspaceError(f"{path}: expected database_url to be a URL string, found {value!r}")
    return value.strip()


def _normalise(raw: str, source: str) -> str:
    """Parse and check a URL; plain ``postgresql://`` means the psycopg 3 driver."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise WorkspaceError(
            f"{source}: expected a database URL like sqlite:///path/keyfolio.db or "
            f"postgresql://user@host/db, found {raw!r}"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql"):
        raise WorkspaceError(
            f"{source}: expected a sqlite:// or postgresql:// URL, found {url.drivername}://"
        )
    if backend == "postgresql" and driver in ("", "psycopg2"):
        # psycopg 3 is the driver we ship; psycopg2 URLs from other tools work unchanged.
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


# -- engines ------------------------------------------------------------------------------
def exists(ws: Workspace) -> bool:
    """False when the workspace uses its own SQLite file and that file was never created
    (nothing has been stored yet: reading it need not create it)."""
    url = make_url(database_url(ws))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return True
    return Path(url.database).is_file()


def open_db(ws: Workspace) -> Engine:
    """The engine of ``ws``'s app database, created and migrated to head on first use."""
    return open_url(database_url(ws))


def open_url(url: str) -> Engine:
    """Engine for ``url`` (cached per URL in this process), schema upgraded to head."""
    with _engines_lock, _unusable(url):
        engine = _engines.get(url)
        if engine is None:
            engine = _create_engine(url)
            try:
                upgrade_to_head(engine)
            except BaseException:
                engine.dispose()
                raise
            _engines[url] = engine
        return engine


def close_db(ws: Workspace | None = None) -> None:
    """Dispose the cached engine of ``ws`` (or of every workspace) and its connections."""
    with _engines_lock:
        urls = list(_engines) if ws is None else [database_url(ws)]
        for url in urls:
            engine = _engines.pop(url, None)
            if engine is not None:
                engine.dispose()


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})
    file_backed = bool(parsed.database) and parsed.database != ":memory:"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN itself instead of pysqlite's legacy guessing.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        if file_backed:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front so read-then-write never deadlocks/fails.
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


# -- migrations ---------------------------------------------------------------------------
def migrations_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for the migrations shipped in this package (no ini file)."""
    cfg = Config()
    location = resources.files("keyfolio.db") / "migrations"
    cfg.set_main_option("script_location", str(Path(str(location))).replace("%", "%%"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _at_head(engine: Engine, cfg: Config) -> bool:
    """Whether the schema is already at the newest revision (one small query; a run does
    not pay for Alembic's migration machinery when nothing is to be done)."""
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
    return current == head


def upgrade_to_head(engine: Engine) -> None:
    """Bring ``engine``'s schema to the newest revision, in one transaction."""
    cfg = migrations_config()
    if _at_head(engine, cfg):
        return
    with engine.execution_options(**{_WRITE: True}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


# -- sessions -----------------------------------------------------------------------------
@contextmanager
def read_session(ws: Workspace) -> Iterator[Session]:
    """A session for reading; rolled back at the end."""
    url = database_url(ws)
    with _unusable(url), Session(open_url(url)) as session, session.begin():
        yield session


@contextmanager
def write_session(ws: Workspace) -> Iterator[Session]:
    """One transaction: committed if the block succeeds, rolled back if it raises."""
    url = database_url(ws)
    with _unusable(url):
        engine = open_url(url).execution_options(**{_WRITE: True})
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session


@contextmanager
def _unusable(url: str) -> Iterator[None]:
    """A database that cannot be opened or written (a damaged SQLite file, a read-only
    folder, a server that refuses) is a one-line error naming it; conflicts between
    writers (IntegrityError) are the caller's to handle."""
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        parsed = make_url(url)
        reason = first_line(exc.orig) if exc.orig else type(exc).__name__
        if parsed.get_backend_name() != "sqlite" or not parsed.database:
            where = parsed.render_as_string(hide_password=True)
            raise WorkspaceError(f"{where}: the app database cannot be used ({reason})") from exc
        folder = Path(parsed.database).parent
        if not os.access(folder, os.W_OK):
            raise WorkspaceError(
                f"{parsed.database}: cannot write the app database, its folder {folder} is "
                "read-only (or not writable by you)"
            ) from exc
        damaged = any(w in reason.lower() for w in ("not a database", "malformed", "corrupt"))
        advice = (
            "; the file is damaged: move it aside (a new one is created, without the "
            "overrides kept in the old one)"
            if damaged
            else ""
        )
        raise WorkspaceError(
            f"{parsed.database}: the app database cannot be used ({reason}){advice}"
        ) from exc

"""Alembic environment of the app database.

Normally run in process by :func:`keyfolio.db.engine.open_db`, which passes an open
connection in ``config.attributes["connection"]``. For writing a new migration by hand::

    from alembic import command
    from keyfolio.db.engine import migrations_config
    command.revision(migrations_config("sqlite:////tmp/x.db"), "what changed", autogenerate=True)
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from keyfolio.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("KEYFOLIO_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or KEYFOLIO_DATABASE_URL")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
        conn.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

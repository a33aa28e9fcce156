"""The workspace's app database: decision overrides, users and their sessions, the audit log.

SQLite (``<workspace>/keyfolio.db``) by default; PostgreSQL for teams by setting
``KEYFOLIO_DATABASE_URL`` or ``database_url`` in ``<workspace>/settings.toml``.
"""

from keyfolio.db.audit import AuditEntry, history, record
from keyfolio.db.engine import close_db, database_url, open_db
from keyfolio.db.overrides import (
    ConcurrentChangeError,
    OverrideState,
    add_override,
    list_overrides,
    override_history,
    override_state,
    remove_override,
)

__all__ = [
    "AuditEntry",
    "ConcurrentChangeError",
    "OverrideState",
    "add_override",
    "close_db",
    "database_url",
    "history",
    "list_overrides",
    "open_db",
    "override_history",
    "override_state",
    "record",
    "remove_override",
]

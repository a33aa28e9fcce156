"""SQLAlchemy 2 models of the workspace's app database.

The migrations under ``migrations/versions`` create exactly these tables; ``tests/test_db.py``
checks that the migrated schema and these models stay equal (autogenerate finds no difference).
When you change a model, add a migration under ``migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ENTITIES = ("policy", "override", "assessment", "plan", "user", "run")
ROLES = ("admin", "lead", "manager", "viewer")
DIRECTIONS = ("in", "out")

ACTIVE = text("removed_at IS NULL")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OverrideRow(Base):
    """A decision override. At most one row per account has ``removed_at`` NULL (active).

    ``version`` is the optimistic-concurrency counter of the *account's* override: every
    change (add, replace, remove) sets the rows it touches to the account's previous
    highest version + 1, so the active row always carries the account's current version.
    """

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        Index("ix_overrides_account_id", "account_id"),
        Index(
            "uq_overrides_active_account",
            "account_id",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
    )


class AuditRow(Base):
    """Who changed what and when. ``before``/``after`` are JSON text (NULL for none)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    who: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "entity IN ('policy', 'override', 'assessment', 'plan', 'user', 'run')",
            name="entity",
        ),
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_at", "at"),
    )


class UserRow(Base):
    """A user of the web app. ``email`` is stored lower-cased (unique); ``password_hash`` is an
    argon2 hash; ``version`` counts the changes to the row (optimistic concurrency)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # the team table's manager_id this user is (accounts.owner): what a manager may edit
    manager_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'lead', 'manager', 'viewer')", name="role"),
    )


class WebSessionRow(Base):
    """A signed-in browser. Only the SHA-256 of the random cookie token is stored, so the
    table's contents cannot be replayed as cookies; ``csrf_token`` is sent back in forms."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"),)


class AssessmentRow(Base):
    """A score entered in the web app: one row per account, criterion and assessor (the
    assessor's current score; earlier ones are in the audit log). ``version`` counts the
    row's changes (optimistic concurrency: a save names the version it started from)."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(200))
    criterion: Mapped[str] = mapped_column(String(200))
    assessor: Mapped[str] = mapped_column(String(320))
    score: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("account_id", "criterion", "assessor", name="uq_assessments_key"),
        Index("ix_assessments_account_id", "account_id"),
    )


class PolicyVersionRow(Base):
    """A saved version of the policy file (keyfolio.toml): ``number`` counts from 1; the
    newest is the policy in force. ``text`` is the whole TOML as saved."""

    __tablename__ = "policy_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    who: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_policy_versions_sha256", "sha256"),)


def utcnow() -> datetime:
    """Now, as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

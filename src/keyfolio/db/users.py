"""Users of the web app and their signed-in sessions, every user change audited.

Passwords are stored as argon2 hashes (argon2-cffi). A session is a random token handed to
the browser as a cookie; the database keeps only its SHA-256, with the user, a CSRF token
for the session's forms, and an expiry. Signing in always creates a new session (the token
a browser had before is revoked: session rotation), signing out revokes it, and disabling a
user revokes all their sessions.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keyfolio.db import audit
from keyfolio.db.engine import read_session, write_session
from keyfolio.db.models import ROLES, UserRow, WebSessionRow, as_utc, utcnow
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace

Role = Literal["admin", "lead", "manager", "viewer"]
MIN_PASSWORD = 8
SESSION_LIFETIME = timedelta(hours=12)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that an unknown account takes as long
    to refuse as a wrong password (no user enumeration by timing). Made on first use: every
    command imports this module, and hashing takes a noticeable moment."""
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    id: int
    email: str
    role: Role
    disabled: bool
    created_at: datetime
    version: int
    manager_id: str | None = None  # the team table's manager_id (accounts.owner) they are


@dataclass(frozen=True)
class WebSession:
    """A signed-in session. ``token`` (the cookie value) is only known right after
    :func:`create_session`; later lookups carry it back from the caller."""

    token: str
    user: User
    csrf_token: str
    created_at: datetime
    expires_at: datetime


# -- users --------------------------------------------------------------------------------
def normalise_email(email: str) -> str:
    value = email.strip().lower() if isinstance(email, str) else ""
    local, at, domain = value.partition("@")
    if not at or not local or not domain or any(c.isspace() for c in value) or len(value) > 320:
        raise KeyfolioError(f"expected an email address like name@example.com, found {email!r}")
    return value


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise KeyfolioError(f"a role must be one of {', '.join(ROLES)}, found {role!r}")
    return cast(Role, role)


def add_user(
    ws: Workspace,
    email: str,
    role: str,
    password: str,
    who: str,
    *,
    manager_id: str | None = None,
) -> User:
    """Create a user (email lower-cased and unique) with an argon2 hash of ``password``.
    ``manager_id``: the team table's id of the manager this user is (``accounts.owner``):
    the accounts a manager owns are those whose owner is it."""
    email = normalise_email(email)
    role = check_role(role)
    manager_id = _manager_id(manager_id)
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise KeyfolioError(f"a password needs at least {MIN_PASSWORD} characters")
    row = UserRow(
        email=email,
        role=role,
        password_hash=_hasher.hash(password),
        disabled=False,
        created_at=utcnow(),
        version=1,
        manager_id=manager_id,
    )
    try:
        with write_session(ws) as session:
            session.add(row)
            session.flush()
            audit.record(session, who, "user", email, "add", None, _snapshot(row))
            user = _user(row)
    except IntegrityError:
        raise KeyfolioError(f"a user {email} already exists") from None
    return user


def list_users(ws: Workspace) -> list[User]:
    """Every user, by email."""
    with read_session(ws) as session:
        return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.email))]


def get_user(ws: Workspace, email: str) -> User | None:
    with read_session(ws) as session:
        row = _by_email(session, normalise_email(email))
        return None if row is None else _user(row)


def disable_user(ws: Workspace, email: str, who: str) -> User:
    """Disable a user and sign them out everywhere; disabling twice changes nothing."""
    email = normalise_email(email)
    with write_session(ws) as session:
        row = _by_email(session, email)
        if row is None:
            raise KeyfolioError(f"no user {email}")
        if not row.disabled:
            before = _snapshot(row)
            row.disabled = True
            row.version += 1
            session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
            session.flush()
            audit.record(session, who, "user", email, "disable", before, _snapshot(row))
        return _user(row)


def authenticate(ws: Workspace, email: str, password: str) -> User | None:
    """The user if ``password`` is theirs and they are not disabled, else None."""
    try:
        email = normalise_email(email)
    except KeyfolioError:
        email = ""
    with read_session(ws) as session:
        row = _by_email(session, email) if email else None
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        user = _user(row)
        rehash = _hasher.check_needs_rehash(row.password_hash)
    if rehash:
        with write_session(ws) as session:
            found = session.get(UserRow, user.id)
            if found is not None:
                found.password_hash = _hasher.hash(password)
    return user


# -- sessions -----------------------------------------------------------------------------
def create_session(
    ws: Workspace,
    user: User,
    *,
    replaces: str | None = None,
    lifetime: timedelta = SESSION_LIFETIME,
) -> WebSession:
    """A new session of ``user`` (sign-in), revoking the session ``replaces`` if given."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = WebSessionRow(
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    with write_session(ws) as session:
        if replaces:
            session.execute(
                delete(WebSessionRow).where(WebSessionRow.token_hash == _digest(replaces))
            )
        session.add(row)
        session.flush()
        audit.record(session, user.email, "user", user.email, "login", None, {"session": row.id})
    return WebSession(token, user, row.csrf_token, now, row.expires_at)


def rotate_session(ws: Workspace, token: str) -> WebSession | None:
    """Replace a valid session by a new one of the same user (None if it is not valid)."""
    current = session_of(ws, token)
    if current is None:
        return None
    return create_session(ws, current.user, replaces=token)


def _with_user(session: Session, token: str) -> Any:
    """The session row whose cookie is ``token`` and its user's row, or None."""
    query = select(WebSessionRow, UserRow).join(UserRow, UserRow.id == WebSessionRow.user_id)
    return session.execute(query.where(WebSessionRow.token_hash == _digest(token))).first()


def session_of(ws: Workspace, token: str | None) -> WebSession | None:
    """The live session whose cookie is ``token``: None when unknown, expired, or its user
    is disabled."""
    if not token:
        return None
    with read_session(ws) as session:
        found = _with_user(session, token)
        if found is None:
            return None
        row, user_row = found
        if user_row.disabled or as_utc(row.expires_at) <= utcnow():
            return None
        return WebSession(
            token, _user(user_row), row.csrf_token, as_utc(row.created_at), as_utc(row.expires_at)
        )


def revoke_session(ws: Workspace, token: str | None) -> bool:
    """Sign out: forget the session ``token``; False if there was none."""
    if not token:
        return False
    with write_session(ws) as session:
        found = _with_user(session, token)
        if found is None:
            return False
        row, user_row = found
        audit.record(
            session, user_row.email, "user", user_row.email, "logout", {"session": row.id}, None
        )
        session.delete(row)
        return True


# -- helpers ------------------------------------------------------------------------------
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _by_email(session: Session, email: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.email == email)).one_or_none()


def _manager_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
        raise KeyfolioError(
            f"expected a manager id like M0001 (the team table's manager_id), found {value!r}"
        )
    return value.strip()


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        role=cast(Role, row.role),
        disabled=bool(row.disabled),
        created_at=as_utc(row.created_at),
        version=row.version,
        manager_id=row.manager_id,
    )


def _snapshot(row: UserRow) -> dict[str, Any]:
    """A user as the audit log shows it (never the password hash)."""
    return {
        "id": row.id,
        "email": row.email,
        "role": row.role,
        "disabled": bool(row.disabled),
        "created_at": row.created_at,
        "version": row.version,
        "manager_id": row.manager_id,
    }

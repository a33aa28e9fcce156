"""Users and web sessions in the app database (SQLite and PostgreSQL), audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyfolio.db import history
from keyfolio.db.users import (
    add_user,
    authenticate,
    create_session,
    disable_user,
    list_users,
    revoke_session,
    rotate_session,
    session_of,
)
from keyfolio.errors import KeyfolioError
from keyfolio.workspace import Workspace
from test_db import pg_cluster, ws  # noqa: F401  (the both-backends fixtures)

PASSWORD = "correct horse battery"


def test_add_list_authenticate(ws: Workspace) -> None:  # noqa: F811
    alice = add_user(ws, "  Alice@Example.COM ", "lead", PASSWORD, "admin@example.com")
    assert alice.email == "alice@example.com" and alice.role == "lead" and not alice.disabled
    add_user(ws, "bob@example.com", "viewer", PASSWORD, "admin@example.com")
    assert [u.email for u in list_users(ws)] == ["alice@example.com", "bob@example.com"]
    assert authenticate(ws, "ALICE@example.com", PASSWORD) == alice
    assert authenticate(ws, "alice@example.com", "wrong password") is None
    assert authenticate(ws, "nobody@example.com", PASSWORD) is None
    assert authenticate(ws, "not an email", PASSWORD) is None
    with pytest.raises(KeyfolioError, match="already exists"):
        add_user(ws, "alice@EXAMPLE.com", "viewer", PASSWORD, "admin@example.com")


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("nope", "lead", PASSWORD, "expected an email address"),
        ("a@b.c", "boss", PASSWORD, "a role must be one of"),
        ("a@b.c", "lead", "short", "at least 8 characters"),
    ],
)
def test_invalid_users_refused(
    ws: Workspace,  # noqa: F811
    email: str,
    role: str,
    password: str,
    message: str,
) -> None:
    with pytest.raises(KeyfolioError, match=message):
        add_user(ws, email, role, password, "admin@example.com")
    assert list_users(ws) == []


def test_user_changes_audited_without_hashes(ws: Workspace) -> None:  # noqa: F811
    add_user(ws, "carol@example.com", "manager", PASSWORD, "admin@example.com")
    session = create_session(ws, list_users(ws)[0])
    disable_user(ws, "carol@example.com", "admin@example.com")
    disable_user(ws, "carol@example.com", "admin@example.com")  # no second change
    entries = history(ws, "user", "carol@example.com")
    assert [(e.who, e.action) for e in entries] == [
        ("admin@example.com", "add"),
        ("carol@example.com", "login"),
        ("admin@example.com", "disable"),
    ]
    assert entries[2].before["disabled"] is False and entries[2].after["disabled"] is True
    assert all("hash" not in str(e.after) and "hash" not in str(e.before) for e in entries)
    assert authenticate(ws, "carol@example.com", PASSWORD) is None
    assert session_of(ws, session.token) is None  # disabling signs out


def test_sessions_create_rotate_revoke(ws: Workspace) -> None:  # noqa: F811
    user = add_user(ws, "dan@example.com", "viewer", PASSWORD, "admin@example.com")
    first = create_session(ws, user)
    found = session_of(ws, first.token)
    assert found is not None and found.user == user and found.csrf_token == first.csrf_token
    second = rotate_session(ws, first.token)
    assert second is not None and second.token != first.token
    assert second.csrf_token != first.csrf_token
    assert session_of(ws, first.token) is None and session_of(ws, second.token) is not None
    assert rotate_session(ws, first.token) is None
    assert revoke_session(ws, second.token) and not revoke_session(ws, second.token)
    assert session_of(ws, second.token) is None
    expired = create_session(ws, user, lifetime=timedelta(seconds=-1))
    assert session_of(ws, expired.token) is None
    assert session_of(ws, "") is None and session_of(ws, "made-up") is None

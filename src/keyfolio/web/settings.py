"""The web app's settings, in one place.

``keyfolio serve`` passes them through the environment (the app is built by its factory in
the server process): ``KEYFOLIO_WORKSPACE``, ``KEYFOLIO_SECURE_COOKIES`` (1: cookies are
``Secure``, behind HTTPS) and the app database's own ``KEYFOLIO_DATABASE_URL``
(:mod:`keyfolio.db.engine`). The library reads the database URL from that variable, so a
``database_url`` given here is set there by :func:`keyfolio.web.create_app`: it holds for the
whole process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from keyfolio.db.engine import ENV_VAR
from keyfolio.errors import WorkspaceError


@dataclass(frozen=True)
class Settings:
    workspace: Path
    database_url: str | None = None  # None: the workspace's (keyfolio.db.engine)
    secure_cookies: bool = False
    session_cookie: str = "keyfolio_session"
    csrf_cookie: str = "keyfolio_csrf"
    login_attempts: int = 5  # failed sign-ins allowed per account ...
    address_attempts: int = 20  # ... and per address (several people behind one NAT) ...
    login_window: float = 300.0  # ... within this many seconds
    max_body: int = 1024 * 1024  # bytes; a larger request body is refused (413)

    @classmethod
    def from_env(cls) -> Settings:
        root = os.environ.get("KEYFOLIO_WORKSPACE", "").strip()
        if not root:
            raise WorkspaceError("KEYFOLIO_WORKSPACE is not set: start the app with keyfolio serve")
        secure = os.environ.get("KEYFOLIO_SECURE_COOKIES", "0").strip().lower()
        return cls(
            workspace=Path(root),
            database_url=os.environ.get(ENV_VAR, "").strip() or None,
            secure_cookies=secure in ("1", "true", "yes"),
        )

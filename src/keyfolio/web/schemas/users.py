"""Users and sign-in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from keyfolio.db.users import User


class UserOut(BaseModel):
    email: str
    role: str
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            email=user.email, role=user.role, disabled=user.disabled, created_at=user.created_at
        )


class LoginPage(BaseModel):
    """The sign-in page: the CSRF token to post back with the form (also set as a cookie)."""

    csrf_token: str
    signed_in_as: UserOut | None = None
    error: str | None = None


class SignedIn(BaseModel):
    """After signing in: the user and the session's CSRF token for state-changing requests."""

    user: UserOut
    csrf_token: str

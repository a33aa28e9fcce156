"""Decision overrides: a programme lead forces an account in or out of the key list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class Override:
    """One active override. Stored in the workspace's app database (keyfolio.db)."""

    account_id: str
    direction: Direction
    reason: str
    who: str
    at: datetime

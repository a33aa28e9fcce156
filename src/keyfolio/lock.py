"""The workspace lock: one writing command at a time, with who holds it said.

Every command that writes to a workspace (import, run, report, override, init over an
existing policy, ...) holds ``WORKSPACE/.keyfolio.lock`` while it runs: an exclusive
``flock`` on the file, and the holder written into it (pid, command, start time, host). A
second writer fails at once with "workspace busy: keyfolio run (pid 1234) since 10:02:11";
``wait`` seconds make it wait for the lock instead. The kernel releases a ``flock`` when its
process dies, however it dies, so the lock of a killed command is free at once: the next
writer takes it over and learns who held it last (:attr:`WorkspaceLock.previous`), which is
how it knows there may be a dead command's leftovers to clean up.

The lock is re-entrant within one process: ``keyfolio demo`` (sample, run, report) and a
library function called by a command that already holds the lock do not block themselves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyfolio.errors import WorkspaceBusyError, WorkspaceError

LOCK_FILE = ".keyfolio.lock"
_POLL_S = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a workspace lock."""

    pid: int
    command: str
    since: str  # ISO time, UTC
    host: str

    @classmethod
    def read(cls, path: Path) -> Holder | None:
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8") or "null")
            return cls(
                int(data["pid"]), str(data["command"]), str(data["since"]), str(data["host"])
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def describe(self) -> str:
        try:
            local = dt.datetime.fromisoformat(self.since).astimezone()
            when = local.strftime("%H:%M:%S") if _today(local) else local.strftime("%Y-%m-%d %H:%M")
        except ValueError:
            when = self.since
        host = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"keyfolio {self.command} (pid {self.pid}{host}) since {when}"


def _today(t: dt.datetime) -> bool:
    return t.date() == dt.datetime.now().astimezone().date()


@dataclass
class _Held:
    fd: int
    depth: int
    previous: Holder | None


_held: dict[Path, _Held] = {}
_mutex = threading.Lock()


class WorkspaceLock:
    """``with WorkspaceLock(root, "run"):`` — the exclusive lock of the workspace at ``root``.

    ``previous`` is the holder recorded by the last command that took the lock and did not
    release it cleanly (a killed one), or None.
    """

    def __init__(self, root: Path, command: str, *, wait: float = 0.0) -> None:
        self.path = Path(root) / LOCK_FILE
        self.command = command
        self.wait = wait
        self.previous: Holder | None = None
        self.outermost = False

    def __enter__(self) -> WorkspaceLock:
        key = self.path.resolve()
        with _mutex:
            held = _held.get(key)
            if held is not None:
                held.depth += 1
                self.previous = held.previous
                return self
        fd = self._open()
        try:
            self._acquire(fd)
            self.previous = Holder.read(self.path)  # what a killed holder left in the file
            self._record(fd)
        except BaseException:
            os.close(fd)
            raise
        with _mutex:
            _held[key] = _Held(fd, 1, self.previous)
        self.outermost = True
        return self

    def __exit__(self, *exc: object) -> None:
        key = self.path.resolve()
        with _mutex:
            held = _held[key]
            held.depth -= 1
            if held.depth:
                return
            del _held[key]
        with contextlib.suppress(OSError):
            os.ftruncate(held.fd, 0)  # released cleanly: nobody to clean up after
        os.close(held.fd)  # closing releases the flock

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise WorkspaceError(
                f"{self.path.parent}: cannot write to this workspace ({exc.strerror.lower()})"
                if exc.strerror
                else f"{self.path}: cannot open the workspace lock ({exc})"
            ) from exc

    def _acquire(self, fd: int) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if time.monotonic() >= deadline:
                holder = Holder.read(self.path)
                who = holder.describe() if holder else "another keyfolio command"
                raise WorkspaceBusyError(
                    f"workspace busy: {who} is writing to {self.path.parent}; "
                    "try again when it has finished"
                )
            time.sleep(_POLL_S)

    def _record(self, fd: int) -> None:
        info = {
            "pid": os.getpid(),
            "command": self.command,
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
        }
        data = json.dumps(info).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)


def holding(root: Path) -> bool:
    """Whether this process holds the lock of the workspace at ``root``."""
    with _mutex:
        return (Path(root) / LOCK_FILE).resolve() in _held


@contextlib.contextmanager
def try_lock(root: Path, command: str) -> Iterator[WorkspaceLock | None]:
    """The lock if it is free now, else None (for readers that can tidy up if nobody writes)."""
    lock = WorkspaceLock(root, command)
    try:
        lock.__enter__()
    except WorkspaceBusyError:
        yield None
        return
    try:
        yield lock
    finally:
        lock.__exit__(None, None, None)


__all__ = ["LOCK_FILE", "Holder", "WorkspaceLock", "holding", "try_lock"]

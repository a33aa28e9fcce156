"""A workspace is one folder = one company's KAM programme (DESIGN.md, "The flow").

::

    WORKSPACE/
      keyfolio.toml          the policy
      data/<table>.parquet   canonical tables
      keyfolio.db            app database
      runs/<run_id>/         portfolio.parquet, run.json, ...
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio import lock
from keyfolio.errors import WorkspaceBusyError, WorkspaceError, first_line
from keyfolio.policy import parse_policy, template_text
from keyfolio.schema import TABLE_NAMES, TABLES

POLICY_FILE = "keyfolio.toml"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Workspace:
        """Open an existing workspace; a clear error if the folder is not one."""
        root = Path(path)
        if not root.is_dir():
            raise WorkspaceError(
                f"{root}: no such workspace folder (create one with `keyfolio init`)"
            )
        if not (root / POLICY_FILE).is_file():
            raise WorkspaceError(
                f"{root}: not a workspace, {POLICY_FILE} is missing "
                "(create one with `keyfolio init`)"
            )
        return cls(root)

    # -- paths -------------------------------------------------------------------------
    @property
    def policy_path(self) -> Path:
        return self.root / POLICY_FILE

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def db_path(self) -> Path:
        return self.root / "keyfolio.db"

    def table_path(self, table: str) -> Path:
        return self.data_dir / f"{table}.parquet"

    def has_table(self, table: str) -> bool:
        return self.table_path(table).is_file()

    def tables(self) -> list[str]:
        """Canonical tables present in the workspace, in canonical order."""
        return [t for t in TABLE_NAMES if self.has_table(t)]

    def read_table(self, table: str) -> pa.Table:
        self.table_metadata(table)  # a damaged file is named before anything reads it
        with _damaged(self.table_path(table), table):
            return pq.read_table(self.table_path(table))

    def table_metadata(self, table: str) -> pq.FileMetaData:
        """The Parquet footer of a table, checked: a file that is not Parquet (empty,
        truncated, overwritten) or lacks the table's required columns is an error naming
        it, not a reader's traceback halfway through a run."""
        self.settled()
        path = self.table_path(table)
        if not path.is_file():
            raise WorkspaceError(f"{self.root}: table {table!r} has not been imported")
        with _damaged(path, table):
            meta = pq.read_metadata(path)
        missing = [c for c in TABLES[table].required if c not in meta.schema.names]
        if missing:
            raise WorkspaceError(
                f"{path}: not a {table} table, it lacks {', '.join(missing)}; import {table} again"
            )
        return meta

    def read_frame(self, table: str) -> pd.DataFrame | None:
        """A canonical table as pandas with its canonical types (ids and text as strings), or
        None when it has not been imported."""
        if not self.has_table(table):
            return None
        df = self.read_table(table).to_pandas()
        columns = {c.name: c.kind for c in TABLES[table].columns}
        for col in df.columns:
            if columns.get(col) in ("id", "text"):
                df[col] = df[col].astype("string")
        return df

    # -- writing -----------------------------------------------------------------------
    def writing(self, command: str, *, wait: float = 0.0) -> Writing:
        """``with ws.writing("run") as w:`` — hold the workspace lock for a writing command;
        on taking it, finish or clean up what a killed command left (``w.notes`` says what)."""
        return Writing(self, command, wait)

    def write_tables(self, tables: Mapping[str, pa.Table]) -> None:
        """Write several canonical tables all or none (under the lock, through a hidden
        folder of ``data/`` and :meth:`replace_tables`)."""
        with self.writing("write tables"):
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.data_dir))
            try:
                staged = {}
                for name, table in tables.items():
                    staged[name] = tmp / f"{name}.parquet"
                    pq.write_table(table, staged[name], compression="zstd")
                self.replace_tables(staged)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def replace_tables(self, staged: Mapping[str, Path]) -> None:
        """Make the staged Parquet files (in a folder inside ``data/``) the tables named by
        their keys, all or none, even under ``kill -9``.

        The renames to do are first written to ``data/.publish.json`` (atomically); then
        the files are renamed and the journal removed. A command killed in between leaves
        the journal; whoever takes the lock next completes the renames (every staged file
        was complete before the journal was written), so readers only ever see the old set
        of tables or the new one. The caller holds the workspace lock.
        """
        if not staged:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        renames = []
        for table, src in staged.items():
            dst = self.table_path(table)
            src.chmod(file_mode(dst))  # a replaced table keeps its mode, a new one the umask's
            renames.append([os.path.relpath(src, self.data_dir), dst.name])
        atomic_write_text(self.data_dir / JOURNAL, json.dumps({"renames": renames}))
        _roll_forward(self.data_dir)

    def settled(self, *, wait: float = 60.0) -> None:
        """Make sure no publish of tables is half done before reading tables: a journal left
        by a killed import is completed (if nobody holds the lock), one being published by a
        live command is waited for."""
        if not (self.data_dir / JOURNAL).exists():
            return
        deadline = time.monotonic() + wait
        while (self.data_dir / JOURNAL).exists():
            if lock.holding(self.root):
                _roll_forward(self.data_dir)
                return
            with lock.try_lock(self.root, "recover") as held:
                if held is not None:
                    _roll_forward(self.data_dir)
                    return
            if time.monotonic() > deadline:
                raise WorkspaceBusyError(
                    f"{self.data_dir}: another command is replacing the tables; try again"
                )
            time.sleep(0.05)


JOURNAL = ".publish.json"


@contextlib.contextmanager
def _damaged(path: Path, table: str) -> Iterator[None]:
    try:
        yield
    except (OSError, pa.ArrowException) as exc:
        raise WorkspaceError(
            f"{path}: damaged table, not readable as Parquet ({first_line(exc)}); "
            f"import {table} again"
        ) from exc


def _roll_forward(data_dir: Path) -> list[str]:
    """Complete the renames of a publish journal; returns the tables it completed."""
    path = data_dir / JOURNAL
    try:
        renames = json.loads(path.read_text(encoding="utf-8"))["renames"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkspaceError(f"{path}: damaged publish journal ({exc}); remove it") from exc
    crash_point("publish:journal")
    done = []
    for i, (src, dst) in enumerate(renames):
        source = data_dir / src
        if source.exists():
            os.replace(source, data_dir / dst)
            done.append(Path(dst).stem)
        crash_point(f"publish:rename:{i}")
    path.unlink()
    return done


CRASH_ENV = "KEYFOLIO_CRASH_AT"


def crash_point(name: str) -> None:
    """For the kill -9 tests: ``KEYFOLIO_CRASH_AT=name`` makes the process SIGKILL itself
    at this point (the points: ``publish:journal``, ``publish:rename:<i>``, ``staged:<folder
    name>:before`` and ``...:after``), so a crash between two renames is tested exactly."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Writing:
    """The context of :meth:`Workspace.writing`: the lock held, and what was tidied."""

    def __init__(self, ws: Workspace, command: str, wait: float) -> None:
        self.ws = ws
        self.lock = lock.WorkspaceLock(ws.root, command, wait=wait)
        self.notes: list[str] = []

    def __enter__(self) -> Writing:
        self.lock.__enter__()
        if self.lock.outermost:
            try:
                self.notes = _recover(self.ws, self.lock.previous)
            except BaseException:
                self.lock.__exit__(None, None, None)
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.__exit__(*exc)


def _recover(ws: Workspace, previous: lock.Holder | None) -> list[str]:
    """Under the lock: complete a half-done publish and remove what dead commands left
    (temporary files, staging and staged-run folders). Returns one note per kind."""
    notes = []
    who = f" by {previous.describe()}" if previous else ""
    if ws.data_dir.is_dir():
        completed = _roll_forward(ws.data_dir)
        if completed:
            notes.append(
                f"completed the interrupted replacement of {', '.join(completed)}{who} "
                "(all its files had been written)"
            )
    junk = list(_leftovers(ws))
    if junk:
        size = sum(_size(p) for p in junk)
        for p in junk:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        notes.append(
            f"removed {len(junk)} temporary file(s) and folder(s) ({size / 2**20:,.1f} MiB) "
            f"left by an interrupted command{who}"
        )
    return notes


_TMP = re.compile(r"^\..+\.tmp$")


def _leftovers(ws: Workspace) -> Iterator[Path]:
    """Temporary files of :func:`atomic_file`, import staging folders and staged run
    folders: never part of a workspace's state, so whatever exists when the lock is taken
    was left by a command that died."""
    folders = [ws.root, ws.data_dir, ws.runs_dir]
    if ws.runs_dir.is_dir():
        folders += [p for p in ws.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for folder in folders:
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if _TMP.match(p.name) and p.is_file():
                yield p
            elif folder == ws.data_dir and p.name.startswith(".staging-") and p.is_dir():
                yield p
            elif folder == ws.runs_dir and p.name.startswith(".") and p.is_dir():
                yield p


def _size(p: Path) -> int:
    try:
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.stat().st_size
    except OSError:
        return 0


def init_workspace(path: Path, *, force: bool = False) -> Workspace:
    """Create a workspace folder with the commented policy template."""
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path}: exists and is not a folder")
    policy = path / POLICY_FILE
    if policy.exists() and not force:
        raise WorkspaceError(f"{policy}: already exists (use --force to overwrite it)")
    text = template_text()
    parse_policy(text)  # the template must always be a valid policy
    path.mkdir(parents=True, exist_ok=True)
    (path / "data").mkdir(exist_ok=True)
    (path / "runs").mkdir(exist_ok=True)
    with Workspace(path).writing("init"):  # also makes the lock file, from the start
        atomic_write_text(policy, text)
    return Workspace(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()


def file_mode(path: Path) -> int:
    """The mode a file written at ``path`` gets: the mode of the file it replaces, else what
    the user's umask gives a new file (a workspace shared by a group stays readable)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~UMASK


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Write ``path`` all at once: the block writes the temporary file it is given (in the
    same folder), which replaces ``path`` only if the block succeeds. The file keeps the
    mode of the one it replaces (a new one: the umask's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file via a temporary file and a rename."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    tmp.chmod(0o777 & ~UMASK)  # mkdtemp's folder is private; the run folder is the team's
    try:
        yield tmp
        crash_point(f"staged:{final.parent.name}:before")
        os.replace(tmp, final)
        crash_point(f"staged:{final.parent.name}:after")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

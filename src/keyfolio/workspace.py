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
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio.errors import WorkspaceError
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
        path = self.table_path(table)
        if not path.is_file():
            raise WorkspaceError(f"{self.root}: table {table!r} has not been imported")
        return pq.read_table(path)

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
    def write_tables(self, tables: Mapping[str, pa.Table]) -> None:
        """Write several canonical tables all-or-nothing.

        Each table goes to a temporary file in ``data/`` first; only when every file is
        written are they renamed into place (rename is atomic on one filesystem). If
        anything fails before the renames, the workspace is unchanged.
        """
        with contextlib.ExitStack() as stack:
            for name, table in tables.items():
                tmp = stack.enter_context(atomic_file(self.table_path(name)))
                pq.write_table(table, tmp, compression="zstd")
            # every file is written: leaving the block renames them into place


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
    atomic_write_text(policy, text)
    return Workspace(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_file(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """Write ``path`` all at once: the block writes the temporary file it is given (in the
    same folder), which replaces ``path`` only if the block succeeds. ``mode``: the file's
    permissions (a temporary file is private; a document to share is 0o644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if mode is not None:
            tmp.chmod(mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write a text file via a temporary file and a rename."""
    with atomic_file(path, mode=mode) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

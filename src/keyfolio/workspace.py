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
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio.errors import WorkspaceError
from keyfolio.schema import TABLE_NAMES

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

    # -- runs --------------------------------------------------------------------------
    def runs(self) -> list[str]:
        """Run ids, oldest first (run ids sort chronologically)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.runs_dir.iterdir() if p.is_dir() and (p / "run.json").is_file()
        )

    def run_dir(self, run_id: str | None = None) -> Path:
        """The folder of ``run_id``, or of the latest run when ``run_id`` is None."""
        runs = self.runs()
        if not runs:
            raise WorkspaceError(f"{self.root}: no runs yet (use `keyfolio run {self.root}`)")
        if run_id is None:
            return self.runs_dir / runs[-1]
        if run_id not in runs:
            raise WorkspaceError(
                f"{self.root}: no run {run_id!r}; runs: {', '.join(runs[-5:])}"
                + (" ..." if len(runs) > 5 else "")
            )
        return self.runs_dir / run_id

    # -- writing -----------------------------------------------------------------------
    def write_tables(self, tables: Mapping[str, pa.Table]) -> None:
        """Write several canonical tables all-or-nothing.

        Each table goes to a temporary file in ``data/`` first; only when every file is
        written are they renamed into place (rename is atomic on one filesystem). If
        anything fails before the renames, the workspace is unchanged.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for name, table in tables.items():
                fd, tmp_name = tempfile.mkstemp(
                    prefix=f".{name}.", suffix=".tmp", dir=self.data_dir
                )
                os.close(fd)
                staged.append((Path(tmp_name), self.table_path(name)))
                pq.write_table(table, tmp_name, compression="zstd")
        except BaseException:
            for tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            raise
        for tmp, final in staged:
            os.replace(tmp, final)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise

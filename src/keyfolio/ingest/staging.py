"""The hidden folder where one import stages its tables before they replace the workspace's.

Converted batches go to Parquet in ``data/.staging-<pid>-<token>/`` as they are read, so
an import holds one batch at a time, not the whole file; the table and cross-table checks
run in DuckDB over the staged files (spilling to the same folder when they outgrow its
memory limit); the final tables are written there too and only then renamed into
``data/``. The folder is removed when the import ends, well or badly; one left by a killed
import (its process is gone) is removed by the next import. Workspace readers only look at
``data/<table>.parquet``, so a staging folder never trips them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import queue
import re
import secrets
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from keyfolio.ingest.sql import Sql, ident, select, text
from keyfolio.ingest.validate import Collector, found_text
from keyfolio.workspace import Workspace

PREFIX = ".staging-"
MEMORY_LIMIT = "1GB"  # DuckDB's pool during an import; KEYFOLIO_IMPORT_MEMORY overrides it
_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d+)-[0-9a-f]+$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(data_dir: Path) -> list[Path]:
    """Remove staging folders whose import process is gone; returns what was removed."""
    removed: list[Path] = []
    if not data_dir.is_dir():
        return removed
    for p in data_dir.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_dir() and not _alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


ROW_COL = '"__row"'


@dataclass(frozen=True)
class Check:
    """A row check over a view: rows where ``where`` holds are problems."""

    file: str
    column: str | None
    expected: str
    where: str  # a SQL condition of identifiers and literals; values go in ``params``
    value: str | None = None  # the SQL expression shown as "found" (None: an empty field)
    params: tuple[Any, ...] = ()


class StagedWriter:
    """Appends converted batches of one table to its staged Parquet file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        assert self._schema is not None
        if table.schema != self._schema:
            table = table.cast(self._schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class Background:
    """Runs writes on one background thread, ``depth`` batches behind the converter
    (Parquet's compression releases the GIL, so writing this batch overlaps converting the
    next). Errors surface at the next :meth:`submit` or at :meth:`close`."""

    def __init__(self, depth: int = 2) -> None:
        self._q: queue.Queue[tuple[StagedWriter, pa.Table] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if self._error is None:
                try:
                    item[0].write(item[1])
                except BaseException as e:  # handed to the converter's thread
                    self._error = e

    def submit(self, writer: StagedWriter, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._q.put((writer, table))

    def close(self) -> None:
        """Wait for the writes; raise the first error of any."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error


class Staging:
    """One import's staging folder and the DuckDB connection over it (a context manager)."""

    def __init__(self, ws: Workspace, memory_limit: str | None = None) -> None:
        self.ws = ws
        self.dir = ws.data_dir / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.memory_limit = memory_limit or os.environ.get("KEYFOLIO_IMPORT_MEMORY") or MEMORY_LIMIT
        self._con: duckdb.DuckDBPyConnection | None = None
        self._writers: list[StagedWriter] = []
        self._made_data = False

    def __enter__(self) -> Staging:
        clean_stale(self.ws.data_dir)
        self._made_data = not self.ws.data_dir.exists()
        self.dir.mkdir(parents=True)
        return self

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for w in self._writers:
            with contextlib.suppress(Exception):
                w.close()
        if self._con is not None:
            self._con.close()
            self._con = None
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._made_data:  # a failed first import leaves no empty data folder behind
            with contextlib.suppress(OSError):
                self.ws.data_dir.rmdir()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            con = duckdb.connect()
            con.execute("SET threads = ?", [os.cpu_count() or 1])
            con.execute("SET memory_limit = ?", [self.memory_limit])
            con.execute("SET temp_directory = ?", [str(self.dir / "spill")])
            con.execute("SET preserve_insertion_order = true")
            con.execute("SET enable_progress_bar = false")  # the import reports its own
            self._con = con
        return self._con

    def writer(self, name: str) -> StagedWriter:
        w = StagedWriter(self.dir / f"{name}.parquet")
        self._writers.append(w)
        return w

    def view(self, name: str, path: Path, *beside: Path) -> None:
        """A DuckDB view ``name`` over a Parquet file (staged, or the workspace's), and the
        files ``beside`` it whose rows match its rows by position."""
        rel = self.con.read_parquet(str(path))
        for other in beside:
            rel = rel.join(self.con.read_parquet(str(other)), how="positional")
        rel.create_view(name, replace=True)

    def define(self, name: str, query: Sql) -> None:
        """A view from a query over other views (built by :mod:`keyfolio.ingest.sql`)."""
        self.con.execute(f"CREATE OR REPLACE VIEW {ident(name)} AS {text(query)}")

    def rows(self, query: Sql, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(text(query), list(params)).fetchall()

    def one(self, query: Sql, params: Sequence[Any] = ()) -> Any:
        row = self.con.execute(text(query), list(params)).fetchone()
        return None if row is None else row[0]

    def columns(self, view: str) -> list[str]:
        """The columns of a view."""
        return [d[0] for d in self.con.table(view).limit(0).description]

    def report(self, out: Collector, view: str, checks: Sequence[Check]) -> list[int]:
        """Add the rows of ``view`` failing each check to ``out`` (one pass to count them
        all, then the first rows of each that fails); returns the counts."""
        if not checks:
            return []
        counts = self.rows(
            select([f"count(*) FILTER (WHERE {c.where})" for c in checks], view),
            [p for c in checks for p in c.params],
        )[0]
        for c, n in zip(checks, counts, strict=True):
            if not n:
                continue
            shown = [ROW_COL, c.value] if c.value else [ROW_COL]
            got = self.rows(
                select(shown, view, where=c.where, order=[ROW_COL], limit=True),
                [*c.params, out.cap],
            )
            found = [found_text(r[1]) if c.value else "an empty field" for r in got]
            out.add_rows(c.file, c.column, c.expected, [r[0] for r in got], found, total=int(n))
        return [int(n) for n in counts]

    def publish(
        self,
        queries: Mapping[str, Sql],
        tables: Mapping[str, pa.Table],
        files: Mapping[str, Path],
    ) -> None:
        """Write each final table into the staging folder (``queries``: by DuckDB, from a
        query over the views; ``tables``: small ones already in memory; ``files``: staged
        already as they are), then rename them all into ``data/``: until the renames, the
        workspace is unchanged."""
        done = dict(files)
        for name, sql in queries.items():
            out = self.dir / f"final-{name}.parquet"
            target = exp.Literal.string(str(out)).sql(dialect="duckdb")
            self.con.execute(f"COPY ({text(sql)}) TO {target} (FORMAT parquet, COMPRESSION zstd)")
            done[name] = out
        for name, table in tables.items():
            out = self.dir / f"final-{name}.parquet"
            pq.write_table(table, out, compression="zstd")
            done[name] = out
        self.ws.replace_tables(done)  # all or none, even under kill -9


def iter_ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``items`` produced by a background thread, ``depth`` ahead of the consumer: reading
    the next batch (Arrow's parser releases the GIL) overlaps converting this one."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(("item", item))
            q.put(("end", None))
        except BaseException as e:  # handed to the consumer
            q.put(("error", e))

    context = contextvars.copy_context()  # messages keep the caller's style
    t = threading.Thread(target=context.run, args=(produce,), daemon=True)
    t.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while t.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)


__all__ = [
    "PREFIX",
    "ROW_COL",
    "Background",
    "Check",
    "StagedWriter",
    "Staging",
    "clean_stale",
    "iter_ahead",
]

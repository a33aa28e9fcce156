"""Where the facts stage's tables are: the workspace's Parquet, or tables the engine has.

The policy's ``[engine.tables]`` names, per table the facts stage reads (order_lines, orders,
products, costs), either a catalog table (``"sales.order_lines"``, ``"catalog.schema.table"``)
or a Parquet location the engine itself reads (``"s3a://bucket/lines.parquet"``, for a cluster
whose executors cannot see this machine's files). A table not named there is the workspace's
own ``data/<table>.parquet``, read by the engine.

A :class:`Tables` answers three questions the same way for each kind: has, table and row
count. Parquet footers are read only for local files; elsewhere one aggregate runs in the
engine. Its :meth:`Tables.manifest` is what run.json records of the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow.parquet as pq

from keyfolio.errors import WorkspaceError, first_line
from keyfolio.workspace import Workspace, file_sha256


@dataclass(frozen=True)
class ColumnStats:
    rows: int
    nulls: int
    min: Any
    max: Any


def column_stats(path: Path, column: str) -> ColumnStats | None:
    """Row count, nulls, min and max of a column from a Parquet footer (None if unknown)."""
    meta = pq.read_metadata(path)
    try:
        idx = meta.schema.to_arrow_schema().get_field_index(column)
    except Exception:  # pragma: no cover - unreadable schema
        return None
    if idx < 0:
        return None
    nulls, lo, hi = 0, None, None
    for g in range(meta.num_row_groups):
        st = meta.row_group(g).column(idx).statistics
        if st is None or not st.has_null_count:
            return None
        nulls += st.null_count
        if meta.row_group(g).num_rows == st.null_count:
            continue
        if not st.has_min_max:
            return None
        lo = st.min if lo is None or st.min < lo else lo
        hi = st.max if hi is None or st.max > hi else hi
    return ColumnStats(meta.num_rows, nulls, lo, hi)


def is_location(ref: str) -> bool:
    """Whether an ``[engine.tables]`` value is a Parquet location (else a catalog table)."""
    return "://" in ref or ref.lower().endswith(".parquet") or ref.startswith("/")


class Tables:
    """The facts stage's tables on one open engine connection (``con``)."""

    def __init__(
        self, ws: Workspace, con: Any, engine_tables: Mapping[str, str] | None = None
    ) -> None:
        self.ws, self.con = ws, con
        self.engine_tables = dict(engine_tables or {})
        self._cache: dict[str, ir.Table] = {}
        self._rows: dict[str, int] = {}

    def has(self, name: str) -> bool:
        return name in self.engine_tables or self.ws.has_table(name)

    def local_path(self, name: str) -> Path | None:
        """The local Parquet file of a table (its footer can be read), else None."""
        if name in self.engine_tables:
            ref = self.engine_tables[name]
            if is_location(ref) and "://" not in ref and Path(ref).is_file():
                return Path(ref)
            return None
        return self.ws.table_path(name) if self.ws.has_table(name) else None

    def table(self, name: str) -> ir.Table:
        """The table as an Ibis expression on the engine (read once per connection)."""
        if name not in self._cache:
            self._cache[name] = self._open(name)
        return self._cache[name]

    def _open(self, name: str) -> ir.Table:
        ref = self.engine_tables.get(name)
        where = ref or str(self.ws.table_path(name))
        try:
            if ref is None or is_location(ref):
                return self.con.read_parquet(where, table_name=f"kf_{name}")
            *database, table = ref.split(".")
            db: Any = (
                None if not database else (database[0] if len(database) == 1 else tuple(database))
            )
            return self.con.table(table, database=db)
        except Exception as exc:  # the engine's refusal, as one line naming the table
            hint = (
                "name the table in [engine.tables] (a catalog table the engine has)"
                if ref is None
                else "check the name in [engine.tables] and that the engine can read it"
            )
            raise WorkspaceError(
                f"{name} ({where}): the engine {self.con.name} could not read it: "
                f"{first_line(exc)}; {hint}"
            ) from exc

    def columns(self, name: str) -> list[str]:
        return list(self.table(name).columns)

    def rows(self, name: str) -> int:
        """The table's row count: the Parquet footer of a local file, else one count."""
        if name not in self._rows:
            path = self.local_path(name)
            if path is not None:
                self._rows[name] = pq.read_metadata(path).num_rows
            else:
                t = self.table(name)
                n = self.con.to_pyarrow(t.aggregate(n=t.count()))["n"][0].as_py()
                self._rows[name] = int(n)
        return self._rows[name]

    def manifest(self) -> dict[str, dict[str, Any]]:
        """What run.json records of every input table: a local file's hash, row count and
        size; an engine table's name and row count (the engine holds its bytes)."""
        out: dict[str, dict[str, Any]] = {}
        for table in sorted({*self.ws.tables(), *self.engine_tables}):
            if table in self.engine_tables:
                out[table] = {"table": self.engine_tables[table], "rows": self.rows(table)}
                continue
            path = self.ws.table_path(table)
            out[table] = {
                "rows": self.ws.table_metadata(table).num_rows,
                "sha256": file_sha256(path),
                "bytes": path.stat().st_size,
            }
        return out

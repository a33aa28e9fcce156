"""The only reader and writer of run folders, ``WORKSPACE/runs/<run_id>/``.

A run folder is built under a temporary name and renamed into place when every file is in
it, so a folder with ``run.json`` is a complete run. Run ids are UTC timestamps
(``20261201T083000Z``, ``-2``, ``-3`` … within one second) and sort chronologically: the
*previous* run of a run is the complete run whose id sorts just before it, and the previous
run of a new run is the latest one. Every file name a run may hold is a constant here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from keyfolio.errors import WorkspaceError, first_line
from keyfolio.workspace import POLICY_FILE, Workspace, staged_dir

RUN_JSON = "run.json"
PORTFOLIO = "portfolio.parquet"
YEARLY = "yearly.parquet"
COST_TO_SERVE = "cost_to_serve.parquet"
WHALE = "whale.parquet"
CONTRIBUTIONS = "contributions.parquet"
SELECTION = "selection.json"
RECONCILIATION = "reconciliation.parquet"
VALUE_MODELS = "value_models.json"
RETURN_ON_CUSTOMER = "return_on_customer.json"
# the files a complete run may lack (a stage that had nothing to write)
OPTIONAL = (CONTRIBUTIONS, SELECTION, RECONCILIATION, VALUE_MODELS, WHALE, COST_TO_SERVE, YEARLY)

WRITE_CHUNK_ROWS = 131_072


@dataclass(frozen=True)
class Run:
    """A complete run folder (``dir``) and its id."""

    id: str
    dir: Path

    def path(self, name: str) -> Path:
        return self.dir / name

    def has(self, name: str) -> bool:
        return (self.dir / name).is_file()

    @property
    def workspace_root(self) -> Path | None:
        """The workspace the run belongs to (None for a run folder moved elsewhere)."""
        root = self.dir.parent.parent
        is_ws = self.dir.parent.name == "runs" and (root / POLICY_FILE).is_file()
        return root if is_ws else None

    def meta(self) -> dict[str, Any]:
        """``run.json``: policy text and hash, inputs, code version, timings, warnings."""
        doc = self.document(RUN_JSON)
        if doc is None:
            raise WorkspaceError(f"{self.dir}: not a run folder (no {RUN_JSON})")
        return doc

    def document(self, name: str) -> dict[str, Any] | None:
        """A JSON file of the run as a dict (None when the run has no such file)."""
        path = self.dir / name
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WorkspaceError(f"{path}: not valid JSON ({exc})") from None
        return data if isinstance(data, dict) else None

    def portfolio(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The portfolio, or the named columns of it that exist (at 1M accounts all ~100
        columns take gigabytes); ``account_id`` as text."""
        df = self.table(PORTFOLIO, columns=columns)
        if df is None:
            raise WorkspaceError(f"{self.dir}: no {PORTFOLIO} in this run")
        if "account_id" in df.columns:
            df["account_id"] = df["account_id"].astype(str)
        return df

    def table(
        self,
        name: str,
        *,
        columns: Sequence[str] | None = None,
        filters: list[tuple[str, str, Any]] | None = None,
    ) -> pd.DataFrame | None:
        """A Parquet file of the run as pandas (None when the run has no such file);
        ``columns``: those of the named that exist."""
        path = self.dir / name
        if not path.is_file():
            return None
        cols = None
        with _damaged(path):
            if columns is not None:
                present = set(pq.read_schema(path).names)
                cols = [c for c in dict.fromkeys(columns) if c in present]
            return pq.read_table(path, columns=cols, filters=filters).to_pandas()

    def columns(self, name: str = PORTFOLIO) -> list[str]:
        """The column names of a Parquet file of the run (from its footer)."""
        with _damaged(self.dir / name):
            return list(pq.read_schema(self.dir / name).names)


@contextlib.contextmanager
def _damaged(path: Path) -> Iterator[None]:
    """A run file that is not readable Parquet is an error naming it (runs are written
    whole, so this is damage done afterwards)."""
    try:
        yield
    except (OSError, pa.ArrowException) as exc:
        raise WorkspaceError(
            f"{path}: damaged run file, not readable as Parquet ({first_line(exc)}); move the run "
            f"folder {path.parent.name} out of runs/ to use the others"
        ) from exc


# -- finding runs -------------------------------------------------------------------------
def run_ids(ws: Workspace) -> list[str]:
    """Ids of the complete runs, oldest first."""
    if not ws.runs_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in ws.runs_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / RUN_JSON).is_file()
    )


def get(ws: Workspace, run_id: str | None = None) -> Run:
    """The run ``run_id``, or the latest run when None; a clear error when there is none."""
    ids = run_ids(ws)
    if not ids:
        raise WorkspaceError(f"{ws.root}: no runs yet (use `keyfolio run {ws.root}`)")
    if run_id is None:
        run_id = ids[-1]
    elif run_id not in ids:
        raise WorkspaceError(
            f"{ws.root}: no run {run_id!r}; runs: {', '.join(ids[-5:])}"
            + (" ..." if len(ids) > 5 else "")
        )
    return Run(run_id, ws.runs_dir / run_id)


def latest(ws: Workspace) -> Run | None:
    ids = run_ids(ws)
    return Run(ids[-1], ws.runs_dir / ids[-1]) if ids else None


def previous(ws: Workspace, run_id: str | None = None) -> Run | None:
    """The complete run just before ``run_id`` (None: before a new run, i.e. the latest)."""
    ids = [r for r in run_ids(ws) if run_id is None or r < run_id]
    return Run(ids[-1], ws.runs_dir / ids[-1]) if ids else None


def last_two(ws: Workspace) -> tuple[Run, Run]:
    """The two latest runs (older, newer); an error naming how many there are."""
    ids = run_ids(ws)
    if len(ids) < 2:
        raise WorkspaceError(
            f"{ws.root}: needs two runs, found {len(ids)} (use `keyfolio run {ws.root}`)"
        )
    return get(ws, ids[-2]), get(ws, ids[-1])


def open_folder(path: Path) -> Run:
    """A run folder given by its path (e.g. one copied out of its workspace)."""
    path = Path(path)
    if not (path / RUN_JSON).is_file() or not (path / PORTFOLIO).is_file():
        raise WorkspaceError(f"{path}: not a run folder (expected {RUN_JSON} and {PORTFOLIO})")
    return Run(path.name, path)


def previous_of(run: Run) -> Run | None:
    """The previous run of ``run`` in its workspace (None for a first run or a loose folder)."""
    root = run.workspace_root
    if root is None:
        return None
    return previous(Workspace(root), run.id)


def new_run_id(ws: Workspace, now: dt.datetime | None = None) -> str:
    """A new, unused run id for a run started at ``now`` (UTC)."""
    now = now or dt.datetime.now(dt.UTC)
    base = now.strftime("%Y%m%dT%H%M%SZ")
    taken = {p.name for p in ws.runs_dir.iterdir()} if ws.runs_dir.is_dir() else set()
    run_id, n = base, 1
    while run_id in taken:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


# -- writing ------------------------------------------------------------------------------
def json_safe(x: Any) -> Any:
    """Plain JSON values: numpy scalars as Python, NaN and infinities as null."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


class RunWriter:
    """Writes the files of one new run into its staging folder (see :func:`write_run`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def frame(self, name: str, df: pd.DataFrame) -> None:
        """A DataFrame as Parquet, in row chunks: at 1M accounts x ~100 columns converting
        the whole frame to Arrow at once takes gigabytes. The file reads back the same."""
        df = df.reset_index(drop=True)
        schema = pa.Schema.from_pandas(df, preserve_index=False)
        with pq.ParquetWriter(self.folder / name, schema, compression="zstd") as writer:
            for lo in range(0, max(len(df), 1), WRITE_CHUNK_ROWS):
                part = df.iloc[lo : lo + WRITE_CHUNK_ROWS]
                writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))

    def frames(
        self,
        name: str,
        parts: Iterable[pd.DataFrame | pa.Table],
        empty: pd.DataFrame,
        repeated: Sequence[str] | None = None,
    ) -> None:
        """A long table streamed to Parquet one part (one row group) at a time; ``empty``
        is written when there are no parts. ``repeated``: the columns with few distinct
        values; only they are dictionary-encoded and get min/max statistics (a dictionary
        and statistics of a million distinct ids per row group cost half the writing)."""
        options: dict[str, Any] = (
            {} if repeated is None
            else {"use_dictionary": list(repeated), "write_statistics": list(repeated)}
        )  # fmt: skip
        writer: pq.ParquetWriter | None = None
        try:
            for frame in parts:
                table = (
                    frame if isinstance(frame, pa.Table)
                    else pa.Table.from_pandas(frame, preserve_index=False)
                )  # fmt: skip
                if writer is None:
                    writer = pq.ParquetWriter(
                        self.folder / name, table.schema, compression="snappy", **options
                    )
                writer.write_table(table.cast(writer.schema), row_group_size=len(frame) or None)
            if writer is None:
                empty.to_parquet(self.folder / name, index=False)
        finally:
            if writer is not None:
                writer.close()

    def parquet_bytes(self, name: str, data: bytes) -> None:
        (self.folder / name).write_bytes(data)

    def document(self, name: str, obj: Any) -> None:
        text = json.dumps(json_safe(obj), indent=2, default=str)
        (self.folder / name).write_text(text, encoding="utf-8")


@contextlib.contextmanager
def write_run(ws: Workspace, run_id: str) -> Iterator[RunWriter]:
    """``with write_run(ws, run_id) as w: w.frame(PORTFOLIO, df); ...``: the folder appears
    under ``runs/`` only when the block succeeds, with every file in it."""
    with staged_dir(ws.runs_dir / run_id) as tmp:
        yield RunWriter(tmp)

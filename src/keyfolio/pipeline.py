"""``keyfolio run``: the whole pipeline, one plain function per stage.

facts -> economics -> size -> (value) -> (definition) -> a new ``runs/<run_id>/`` folder
with ``portfolio.parquet`` and ``run.json`` (policy text and hash, input hashes and row
counts, code version, stage timings and rows), plus the side tables of each stage.
Each stage reports the rows it produced.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import keyfolio
from keyfolio.economics import Economics, compute_economics, whale_curve
from keyfolio.facts import Facts, compute_facts, connect, release
from keyfolio.policy import Policy, load_policy
from keyfolio.segments import assign_size
from keyfolio.workspace import Workspace, file_sha256, staged_dir

Progress = Callable[[str], None]


@dataclass
class StageLog:
    timings: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, progress: Progress | None) -> Iterator[None]:
        if progress:
            progress(name)
        t0 = time.perf_counter()
        yield
        # a stage may run in parts (its engine pass, then the rest): the timings add up
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 4)


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    policy: Policy
    portfolio: pd.DataFrame
    facts: Facts
    economics: Economics
    warnings: list[str]
    meta: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)


def input_manifest(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Hash, row count and size of every canonical table in the workspace."""
    out: dict[str, dict[str, Any]] = {}
    for table in ws.tables():
        path = ws.table_path(table)
        meta = pq.read_metadata(path)
        out[table] = {
            "rows": meta.num_rows,
            "sha256": file_sha256(path),
            "bytes": path.stat().st_size,
        }
    return out


def new_run_id(ws: Workspace, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    base = now.strftime("%Y%m%dT%H%M%SZ")
    existing = set(ws.runs()) | (
        {p.name for p in ws.runs_dir.iterdir()} if ws.runs_dir.is_dir() else set()
    )
    run_id, n = base, 1
    while run_id in existing:
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _previous_as_of(ws: Workspace) -> dt.date | None:
    """The last order date the previous run saw (for return on customer)."""
    if not ws.runs():
        return None
    meta = json.loads((ws.run_dir() / "run.json").read_text(encoding="utf-8"))
    as_of = meta.get("as_of")
    return dt.date.fromisoformat(as_of) if as_of else None


def _optional(ws: Workspace, table: str) -> pa.Table | None:
    return ws.read_table(table) if ws.has_table(table) else None


def run(
    ws: Workspace,
    *,
    progress: Progress | None = None,
    threads: int | None = None,
    robustness_draws: int | None = None,
) -> RunResult:
    """Run the whole pipeline on a workspace and write a new run folder."""
    started = dt.datetime.now(dt.UTC)
    log = StageLog()
    policy = load_policy(ws.policy_path)
    manifest = input_manifest(ws)
    con = connect(threads)
    with log.stage("facts", progress):
        facts = compute_facts(ws, policy, con=con, since=_previous_as_of(ws))
    log.rows["facts"] = facts.accounts.num_rows
    engine_results: dict[str, Any] = {}
    for stage in _extra_stages():
        if stage.engine is not None:  # passes over the lines, while the engine is open
            with log.stage(f"{stage.name}_lines", progress):
                engine_results[stage.name] = stage.engine(ws=ws, policy=policy, facts=facts,
                                                          con=con)  # fmt: skip
    release(con)  # the per-account stages run in pandas: give back the engine's memory
    with log.stage("economics", progress):
        econ = compute_economics(
            facts,
            accounts=_optional(ws, "accounts"),
            wallet=_optional(ws, "wallet"),
            window_months=policy.growth.window_months,
        )
    log.rows["economics"] = len(econ.portfolio)
    with log.stage("segments", progress):
        portfolio = assign_size(econ.portfolio, policy.size)
    log.rows["segments"] = len(portfolio)
    warnings = facts.warnings + econ.warnings
    extras: dict[str, Any] = {}
    for stage in _extra_stages():
        with log.stage(stage.name, progress):
            portfolio, produced = stage.fn(
                ws=ws, policy=policy, portfolio=portfolio, facts=facts,
                warnings=warnings, robustness_draws=robustness_draws,
                engine=engine_results.pop(stage.name, None),
            )  # fmt: skip
        extras.update(produced)
        log.rows[stage.name] = len(portfolio)
    run_id = new_run_id(ws, started)
    meta: dict[str, Any] = {
        "run_id": run_id,
        "started": started.isoformat(timespec="seconds"),
        "keyfolio_version": keyfolio.__version__,
        "python": platform.python_version(),
        "policy": {"sha256": policy.sha256, "text": policy.text},
        "inputs": manifest,
        "as_of": facts.as_of.isoformat() if facts.as_of else None,
        "currency": policy.currency,
        "rows": {**facts.rows, **log.rows},
        "warnings": warnings,
    }
    final = ws.runs_dir / run_id
    with log.stage("write", progress), staged_dir(final) as tmp:
        _write_run(tmp, portfolio, facts, econ, extras)
        meta["timings_s"] = log.timings
        meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        (tmp / "run.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    # the write stage's own timing is known only now: record it too
    meta["timings_s"] = log.timings
    (final / "run.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return RunResult(run_id, final, policy, portfolio, facts, econ, warnings, meta, extras)


def _write_run(
    folder: Path, portfolio: pd.DataFrame, facts: Facts, econ: Economics, extras: dict[str, Any]
) -> None:
    write_frame(portfolio, folder / "portfolio.parquet")
    (folder / "yearly.parquet").write_bytes(facts.yearly_parquet)
    write_frame(econ.cost_by_activity, folder / "cost_to_serve.parquet")
    write_frame(whale_curve(portfolio), folder / "whale.parquet")
    for name, obj in extras.items():
        if name.startswith("_"):
            continue  # in-memory only (e.g. the full definition object for the CLI)
        if callable(obj):
            obj(folder)
        elif isinstance(obj, pd.DataFrame):
            write_frame(obj, folder / f"{name}.parquet")
        else:
            (folder / f"{name}.json").write_text(
                json.dumps(obj, indent=2, default=str), encoding="utf-8"
            )


WRITE_CHUNK_ROWS = 131_072


def write_frame(df: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame to Parquet in row chunks: at 1M accounts x ~100 columns converting
    the whole frame to Arrow at once takes gigabytes. The file reads back the same."""
    df = df.reset_index(drop=True)
    schema = pa.Schema.from_pandas(df, preserve_index=False)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for lo in range(0, max(len(df), 1), WRITE_CHUNK_ROWS):
            part = df.iloc[lo : lo + WRITE_CHUNK_ROWS]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))


def read_portfolio(ws: Workspace, run_id: str | None = None) -> tuple[str, pd.DataFrame]:
    folder = ws.run_dir(run_id)
    return folder.name, pd.read_parquet(folder / "portfolio.parquet")


@dataclass(frozen=True)
class ExtraStage:
    """A stage after size segmentation. ``engine`` (optional): its pass over the order lines,
    ``engine(ws=, policy=, facts=, con=)``, run right after the facts stage while the engine
    is open; ``fn`` then gets its result as ``engine=`` (the engine is closed by then)."""

    name: str
    fn: Callable[..., tuple[pd.DataFrame, dict[str, Any]]]
    engine: Callable[..., Any] | None = None


def _extra_stages() -> list[ExtraStage]:
    """Stages after size segmentation (value, definition), in pipeline order."""
    from keyfolio import stages

    return stages.STAGES

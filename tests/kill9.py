"""kill -9 harness: kill ``keyfolio import`` and ``keyfolio run`` at exact crash points
and after random delays, then check the workspace is the state before or the state after,
never a mix, and that the next command works and leaves nothing behind.

Used by ``tests/test_faults.py`` (a few kills) and ``benchmarks/kill9.py`` (20+ a command).

*State* of the tables: per table, the row count and an order-free hash of its rows
(DuckDB ``sum(hash(...))``), read the way every reader reads (after
:meth:`Workspace.settled`, which completes a publish a killed import left half done).
*State* of the runs: the ids of the complete runs, each with a run.json that parses and a
portfolio that reads.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from keyfolio import runs
from keyfolio.sample import make_sample
from keyfolio.workspace import CRASH_ENV, Workspace

CLI = [sys.executable, "-c", "from keyfolio.cli import main; main()"]
Tables = dict[str, tuple[int, int]]


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def tables_state(ws: Workspace) -> Tables:
    ws.settled()
    con = duckdb.connect()
    out: Tables = {}
    for table in ws.tables():
        path = ws.table_path(table)
        cols = ", ".join(f'"{c}"' for c in pq.read_schema(path).names)
        query = f"SELECT count(*), coalesce(sum(hash({cols})), 0) FROM read_parquet(?)"  # noqa: S608
        row = con.execute(query, [str(path)]).fetchone()
        assert row is not None
        out[table] = (int(row[0]), int(row[1]))
    con.close()
    return out


def runs_state(ws: Workspace) -> list[str]:
    ids = runs.run_ids(ws)
    for rid in ids:
        run = runs.get(ws, rid)
        json.loads(run.path(runs.RUN_JSON).read_text(encoding="utf-8"))
        pq.read_metadata(run.path(runs.PORTFOLIO))
    return ids


def leftovers(ws: Workspace) -> list[str]:
    """Temporary things in the workspace (none may survive a completed command)."""
    found = []
    for folder in (ws.root, ws.data_dir, ws.runs_dir):
        for p in folder.iterdir() if folder.is_dir() else []:
            if (
                p.name.endswith(".tmp")
                or p.name.startswith((".staging-", ".publish"))
                or (folder == ws.runs_dir and p.name.startswith("."))
            ):
                found.append(str(p.relative_to(ws.root)))
    return found


@dataclass
class Tally:
    command: str
    kills: int = 0
    states_checked: int = 0
    old: int = 0
    new: int = 0
    completed_by_next: int = 0  # kills after which a reader found a publish to complete
    failures: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    """A workspace and two mappings (two different companies' exports) to switch between."""

    ws: Workspace
    mappings: list[Path]
    states: list[Tables]

    @classmethod
    def prepare(cls, root: Path, accounts: int = 300, lines: int = 20_000) -> Scenario:
        maps = []
        for seed in (1, 2):
            info = make_sample(root / f"src{seed}", accounts=accounts, lines=lines, seed=seed,
                               sources=True)  # fmt: skip
            maps.append(info.path / "sources" / "mapping.toml")
        ws = Workspace(root / "src1")
        states = []
        for m in (maps[1], maps[0]):  # state 1 is the second export's, state 0 the first's
            r = cli("import", str(ws.root), "--mapping", str(m))
            assert r.returncode == 0, r.stderr
            states.insert(0, tables_state(ws))
        assert states[0] != states[1]
        return cls(ws, maps, states)

    def current(self) -> int:
        got = tables_state(self.ws)
        return self.states.index(got) if got in self.states else -1

    def kill_import(
        self, tally: Tally, *, delay: float | None = None, at: str | None = None
    ) -> None:
        """One import towards the other state, killed after ``delay`` s or at crash point
        ``at``; then the state is checked."""
        before = self.current()
        target = 1 - before
        args = ["import", str(self.ws.root), "--mapping", str(self.mappings[target])]
        _kill(args, delay, at)
        tally.kills += 1
        journal = (self.ws.data_dir / ".publish.json").exists()
        state = self.current()
        tally.states_checked += 1
        if state == -1:
            tally.failures.append(f"import killed ({delay=}, {at=}): tables are neither state")
            return
        tally.old += state == before
        tally.new += state == target
        tally.completed_by_next += journal

    def kill_run(self, tally: Tally, *, delay: float | None = None, at: str | None = None) -> None:
        before = runs_state(self.ws)
        _kill(["run", str(self.ws.root)], delay, at)
        tally.kills += 1
        try:
            after = runs_state(self.ws)
        except Exception as exc:  # a run listed that does not read is the failure
            tally.failures.append(f"run killed ({delay=}, {at=}): {exc!r}")
            return
        tally.states_checked += 1
        if after == before:
            tally.old += 1
        elif after[:-1] == before:
            tally.new += 1
        else:
            tally.failures.append(f"run killed ({delay=}, {at=}): runs {before} -> {after}")

    def next_command_works(self, tally: Tally, command: str) -> None:
        """The next writing command succeeds and leaves no temporary files behind."""
        if command == "import":
            target = 1 - max(self.current(), 0)
            r = cli("import", str(self.ws.root), "--mapping", str(self.mappings[target]))
        else:
            r = cli("run", str(self.ws.root))
        tally.states_checked += 1
        if r.returncode != 0 or "Traceback" in r.stderr:
            tally.failures.append(f"next {command} failed: {r.stderr.strip()[-300:]}")
        left = leftovers(self.ws)
        if left:
            tally.failures.append(f"next {command} left {left}")


def _kill(args: list[str], delay: float | None, at: str | None) -> None:
    env = {**os.environ, CRASH_ENV: at} if at else dict(os.environ)
    env.pop("KEYFOLIO_DEBUG", None)
    proc = subprocess.Popen(
        [*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    if delay is not None:
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=600)
    if proc.stderr is not None:
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        if "Traceback" in err:
            raise AssertionError(f"{args[0]} printed a traceback: {err[-500:]}")


def timed(args: list[str]) -> float:
    t = time.perf_counter()
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    return time.perf_counter() - t


def delays(total: float, n: int, rng: random.Random) -> list[float]:
    """Half spread over the whole command, half around its end (where it writes; a loaded
    machine stretches the command, so up to 1.3 times its uncut time)."""
    half = n // 2
    return [rng.uniform(0.2, total) for _ in range(half)] + [
        rng.uniform(0.7 * total, 1.3 * total) for _ in range(n - half)
    ]


IMPORT_POINTS = ["publish:journal", "publish:rename:0", "publish:rename:1", "publish:rename:3"]
RUN_POINTS = ["staged:runs:before", "staged:runs:after"]

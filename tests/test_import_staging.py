"""Bounded memory (issue 10, item 11): an import stages its batches in a hidden folder of
the workspace and checks them there; a failed or killed import leaves the previous tables
as they were and nothing the next command trips over."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from keyfolio.errors import ImportValidationError
from keyfolio.ingest import import_mapping
from keyfolio.ingest.readers import BATCH_ROWS
from keyfolio.ingest.staging import PREFIX, clean_stale
from keyfolio.workspace import POLICY_FILE, Workspace

MAPPING = """[order_lines]
file = "{file}"
[order_lines.columns]
order_id = "OrderID"
account_id = "Customer"
order_date = "OrderDate"
quantity = "Qty"
unit_price = "Price"
"""


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / POLICY_FILE).write_text('currency = "EUR"\n')
    return Workspace(root)


def _sales(path: Path, n: int, bad_every: int = 0) -> Path:
    """``n`` lines over several batches; every ``bad_every``-th date in d/m/Y."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("OrderID,Customer,OrderDate,Qty,Price\n")
        for i in range(n):
            day = 1 + i % 28
            date = (
                f"{day:02d}/03/2024" if bad_every and i % bad_every == 0 else f"2024-03-{day:02d}"
            )
            fh.write(f"{i // 3},C{i % 97:03d},{date},{1 + i % 5},{10 + i % 7}.5\n")
    return path


def _mapping(tmp_path: Path, file: Path) -> Path:
    m = tmp_path / f"{file.stem}.toml"
    m.write_text(MAPPING.format(file=file.name), encoding="utf-8")
    return m


def _digest(ws: Workspace) -> dict[str, str]:
    files = sorted(p for p in ws.data_dir.iterdir() if p.is_file())
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _hidden(ws: Workspace) -> list[str]:
    return sorted(p.name for p in ws.data_dir.iterdir() if p.name.startswith("."))


def test_a_file_of_many_batches_is_imported_whole_and_in_order(
    ws: Workspace, tmp_path: Path
) -> None:
    n = 2 * BATCH_ROWS + 123
    res = import_mapping(ws, _mapping(tmp_path, _sales(tmp_path / "big.csv", n)))
    assert res.tables == {"order_lines": n}
    t = pq.read_table(ws.table_path("order_lines"))
    assert t.num_rows == n
    assert t["order_id"].to_pylist()[:4] == ["0", "0", "0", "1"]
    assert t["order_id"].to_pylist()[-1] == str((n - 1) // 3)
    assert sum(t["quantity"].to_pylist()) == sum(1 + i % 5 for i in range(n))
    assert _hidden(ws) == []


def test_bad_values_across_batches_are_gathered_not_repeated_per_batch(
    ws: Workspace, tmp_path: Path
) -> None:
    n = 3 * BATCH_ROWS
    with pytest.raises(ImportValidationError) as e:
        import_mapping(ws, _mapping(tmp_path, _sales(tmp_path / "dates.csv", n, bad_every=10)))
    dated = [p for p in e.value.problems if p.column == "OrderDate"]
    # five distinct bad values with their first row and count, then the total: not 5 per batch
    assert len(dated) == 6, [p.found for p in dated]
    assert dated[0].row == 2 and dated[0].found.startswith("'01/03/2024' (")
    bad = range(0, n, 10)
    kinds = len({i % 28 for i in bad})
    assert dated[-1].row is None
    assert dated[-1].found == f"{len(bad):,} row(s) in all, {kinds} distinct value(s)"
    assert not ws.data_dir.exists()


def test_a_failed_import_leaves_the_tables_and_no_staging(ws: Workspace, tmp_path: Path) -> None:
    import_mapping(ws, _mapping(tmp_path, _sales(tmp_path / "good.csv", 1000)))
    before = _digest(ws)
    with pytest.raises(ImportValidationError):
        import_mapping(ws, _mapping(tmp_path, _sales(tmp_path / "bad.csv", 5000, bad_every=7)))
    assert _digest(ws) == before
    assert _hidden(ws) == []


def test_a_killed_import_leaves_the_tables_and_the_next_import_cleans_up(
    ws: Workspace, tmp_path: Path
) -> None:
    import_mapping(ws, _mapping(tmp_path, _sales(tmp_path / "good.csv", 1000)))
    before = _digest(ws)
    big = _mapping(tmp_path, _sales(tmp_path / "huge.csv", 40 * BATCH_ROWS))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "import", str(ws.root),
         "--mapping", str(big)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        staged = None
        deadline = time.monotonic() + 120
        while staged is None and time.monotonic() < deadline and proc.poll() is None:
            for d in ws.data_dir.glob(f"{PREFIX}*"):
                if any(f.stat().st_size > 0 for f in d.glob("*.parquet")):
                    staged = d
            time.sleep(0.02)
        assert staged is not None, "the import never staged a batch"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the killed import's folder is left, the tables are as they were
    assert staged.is_dir()
    assert _digest(ws) == before
    assert pq.read_table(ws.table_path("order_lines")).num_rows == 1000
    # the next import removes it (its process is gone) and works
    res = import_mapping(ws, _mapping(tmp_path, _sales(tmp_path / "next.csv", 500)))
    assert res.tables == {"order_lines": 500}
    assert not staged.exists()
    assert _hidden(ws) == []


def test_a_staging_folder_of_a_live_import_is_left_alone(ws: Workspace) -> None:
    ws.data_dir.mkdir()
    mine = ws.data_dir / f"{PREFIX}{os.getpid()}-abcd1234"
    gone = ws.data_dir / f"{PREFIX}999999999-abcd1234"
    other = ws.data_dir / ".staging-notes"  # not ours: a name the pattern does not match
    for d in (mine, gone, other):
        d.mkdir()
    assert clean_stale(ws.data_dir) == [gone]
    assert mine.is_dir() and other.is_dir() and not gone.exists()


def test_progress_follows_the_file_to_its_end_then_the_checks(
    ws: Workspace, tmp_path: Path
) -> None:
    sales = _sales(tmp_path / "progress.csv", 3 * BATCH_ROWS)
    heard: list[tuple[str, int, int]] = []
    import_mapping(ws, _mapping(tmp_path, sales), lambda *a: heard.append(a))
    reading = [(d, t) for what, d, t in heard if what.startswith("reading progress.csv")]
    mib = -(-sales.stat().st_size // 2**20)
    assert len(reading) >= 3 and reading[-1] == (mib, mib)
    assert [d for d, _ in reading] == sorted(d for d, _ in reading)
    checks = [(d, t) for what, d, t in heard if what == "checking tables"]
    assert checks[0] == (0, 2) and checks[-1] == (2, 2)

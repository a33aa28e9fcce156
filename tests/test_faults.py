"""Faults: kill -9 at exact points and at random, concurrent writers, what dead commands
leave behind, and file modes. The workspace is always in a state a command left."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keyfolio import runs
from keyfolio.lock import LOCK_FILE, WorkspaceLock
from keyfolio.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from kill9 import IMPORT_POINTS, RUN_POINTS, Scenario, Tally, cli, leftovers  # noqa: E402


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return Scenario.prepare(tmp_path_factory.mktemp("kill9"))


def test_import_killed_between_renames_is_completed_not_mixed(scenario: Scenario) -> None:
    tally = Tally("import")
    for point in IMPORT_POINTS:
        before = scenario.current()
        scenario.kill_import(tally, at=point)
        # the journal was written: every staged file is complete, so the import happened
        assert scenario.current() == 1 - before, point
    assert tally.failures == []
    assert tally.new == len(IMPORT_POINTS) and tally.completed_by_next == len(IMPORT_POINTS)
    rng = random.Random(3)
    for delay in (rng.uniform(2, 6), rng.uniform(6, 12)):
        scenario.kill_import(tally, delay=delay)
    scenario.next_command_works(tally, "import")
    assert tally.failures == []


def test_run_killed_leaves_complete_runs_only(scenario: Scenario) -> None:
    tally = Tally("run")

    def staged() -> list[Path]:
        return [p for p in scenario.ws.runs_dir.iterdir() if p.name.startswith(".")]

    scenario.kill_run(tally, at=RUN_POINTS[0])  # the folder complete, not yet renamed
    assert staged(), "the kill before the rename leaves its staged folder"
    scenario.kill_run(tally, at=RUN_POINTS[1])  # renamed: the run exists
    assert staged() == [], "the next run removes the dead one's staged folder"
    assert tally.failures == []
    assert (tally.old, tally.new) == (1, 1)
    umask = os.umask(0o022)
    os.umask(umask)
    for rid in runs.run_ids(scenario.ws):  # the team's folder, not a private one
        assert _mode(scenario.ws.runs_dir / rid) == 0o777 & ~umask
    scenario.kill_run(tally, delay=random.Random(5).uniform(3, 10))
    scenario.next_command_works(tally, "run")
    assert tally.failures == []
    r = cli("diff", str(scenario.ws.root))
    assert r.returncode == 0, r.stderr


def test_a_second_writer_is_told_who_is_writing(tmp_path: Path) -> None:
    assert cli("init", str(tmp_path / "ws")).returncode == 0
    with WorkspaceLock(tmp_path / "ws", "test-holder"):
        for args in (["run"], ["import", "accounts", str(tmp_path / "x.csv")], ["init", "--force"]):
            r = cli(args[0], str(tmp_path / "ws"), *args[1:])
            assert r.returncode == 1, r.stderr
            err = r.stderr.strip()
            assert len(err.splitlines()) == 1, err
            assert f"workspace busy: keyfolio test-holder (pid {os.getpid()}) since" in err
    # released: the lock file says nobody, and the next command runs
    assert (tmp_path / "ws" / LOCK_FILE).read_text() == ""


def test_a_dead_holders_lock_and_leftovers_are_taken_over(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = {"pid": dead.pid, "command": "import", "since": "2026-12-01T10:02:00+00:00",
              "host": os.uname().nodename}  # fmt: skip
    (ws / LOCK_FILE).write_text(json.dumps(holder))
    (ws / "data" / ".orders.parquet.k3j2.tmp").write_bytes(b"x" * 1000)
    (ws / "data" / ".staging-99999999-abcd").mkdir()
    (ws / "runs" / ".20261201T100200Z.x7").mkdir()
    (ws / ".keyfolio.toml.a1.tmp").write_text("half")
    (tmp_path / "a.csv").write_text("id,name\nA1,Alpha\n")
    r = cli("import", str(ws), "accounts", str(tmp_path / "a.csv"), "--col", "account_id=id",
            "--col", "name=name")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "removed 4 temporary file(s) and folder(s)" in r.stderr
    assert f"keyfolio import (pid {dead.pid})" in r.stderr
    assert leftovers(Workspace(ws)) == []


def test_two_runs_at_once_never_crash(scenario: Scenario) -> None:
    before = runs.run_ids(scenario.ws)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from keyfolio.cli import main; main()",
                "run",
                str(scenario.ws.root),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = [p.returncode for p in procs]
    for code, (_, err) in zip(codes, outs, strict=True):
        assert "Traceback" not in err
        assert code == 0 or (code == 1 and "workspace busy: keyfolio run" in err), err
    assert len(runs.run_ids(scenario.ws)) == len(before) + codes.count(0)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_files_keep_their_mode_and_new_ones_follow_the_umask(tmp_path: Path) -> None:
    def as_group(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from keyfolio.cli import main; main()", *args],
            capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(0o002),
        )  # fmt: skip

    ws = tmp_path / "ws"
    assert as_group("init", str(ws)).returncode == 0
    assert _mode(ws / "keyfolio.toml") == 0o664
    (tmp_path / "a.csv").write_text("id,name\nA1,Alpha\n")
    imp = ["import", str(ws), "accounts", str(tmp_path / "a.csv"), "--col", "account_id=id"]
    assert as_group(*imp).returncode == 0
    table = ws / "data" / "accounts.parquet"
    assert _mode(table) == 0o664
    table.chmod(0o640)
    time.sleep(0.01)
    assert as_group(*imp).returncode == 0
    assert _mode(table) == 0o640  # a replaced file keeps its mode
    policy = ws / "keyfolio.toml"
    policy.chmod(0o644)
    assert as_group("init", str(ws), "--force").returncode == 0
    assert _mode(policy) == 0o644


def test_import_says_where_each_file_was_read_from(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "customers.csv").write_text("id,name\nA1,Alpha\n")
    (outside / "products.csv").write_text("sku,name\nP1,Pen\n")
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "linked.csv").symlink_to(outside / "products.csv")
    (maps / "m.toml").write_text(
        '[accounts]\nfile = "../elsewhere/customers.csv"\ncolumns = { account_id = "id" }\n'
        '[products]\nfile = "linked.csv"\ncolumns = { product_id = "sku" }\n'
    )
    r = cli("import", str(ws), "--mapping", str(maps / "m.toml"))
    assert r.returncode == 0, r.stderr
    assert f"accounts: 1 rows from {outside / 'customers.csv'}" in r.stdout
    assert f"products: 1 rows from {outside / 'products.csv'}" in r.stdout  # the link's target

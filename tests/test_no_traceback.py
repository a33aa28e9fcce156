"""The "no traceback" sweep: every command, run against a workspace broken in one way
(damaged or empty tables, a damaged app database, a damaged run, a garbage policy or
mapping, a read-only workspace, a write that fails for lack of space), ends with one
error line that names the file, exits non-zero, prints no Python traceback, and leaves the
workspace as it was."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from keyfolio import runs
from keyfolio.lock import LOCK_FILE
from keyfolio.sample import make_sample
from keyfolio.workspace import Workspace


def cli(*args: str, preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KEYFOLIO_DEBUG"}
    if preexec is not None:  # a size limit must not truncate Python's own bytecode cache
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", *args],
        capture_output=True, text=True, timeout=300, env=env, preexec_fn=preexec,
    )  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small workspace with sources, tables and one run."""
    info = make_sample(tmp_path_factory.mktemp("base") / "ws", accounts=150, lines=6_000,
                       seed=4, sources=True)  # fmt: skip
    r = cli("run", str(info.path))
    assert r.returncode == 0, r.stderr
    r = cli("override", str(info.path), "000002", "--in", "--reason", "kept", "--by", "lead")
    assert r.returncode == 0, r.stderr
    return info.path


@pytest.fixture
def ws(base: Path) -> Iterator[Path]:
    """A copy of the base workspace in a folder every user can enter (the read-only case
    runs the command as another user when the tests run as root)."""
    top = Path(tempfile.mkdtemp(prefix="kf-sweep-"))
    top.chmod(0o755)
    shutil.copytree(base, top / "ws")
    yield top / "ws"
    for p in [top, *top.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(top)


def snapshot(ws: Path) -> dict[str, str]:
    """Every file of the workspace but the lock file and SQLite's transient -wal/-shm
    files, by content hash."""
    return {
        str(p.relative_to(ws)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(ws.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE and not p.name.endswith(("-wal", "-shm"))
    }


def run_dir(ws: Path) -> Path:
    return runs.get(Workspace(ws)).dir


def corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(64)  # zeros: the page no longer decompresses
    path.write_bytes(bytes(data))


# -- the ways a workspace is broken ------------------------------------------------------
def empty_orders(ws: Path) -> str:
    (ws / "data" / "orders.parquet").write_bytes(b"")
    return "orders.parquet"


def damaged_lines(ws: Path) -> str:
    corrupt_middle(ws / "data" / "order_lines.parquet")
    return "order_lines"  # the footer reads; the damage shows as the pages are read


def truncated_accounts(ws: Path) -> str:
    p = ws / "data" / "accounts.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return "accounts.parquet"


def damaged_db(ws: Path) -> str:
    (ws / "keyfolio.db").write_bytes(os.urandom(4096))
    for extra in ("keyfolio.db-wal", "keyfolio.db-shm"):
        (ws / extra).unlink(missing_ok=True)
    return "keyfolio.db"


def damaged_portfolio(ws: Path) -> str:
    p = run_dir(ws) / runs.PORTFOLIO
    p.write_bytes(p.read_bytes()[:100])
    return runs.PORTFOLIO


def garbage_run_json(ws: Path) -> str:
    (run_dir(ws) / runs.RUN_JSON).write_bytes(b"\x00\xff{not json")
    return runs.RUN_JSON


def garbage_policy(ws: Path) -> str:
    (ws / "keyfolio.toml").write_bytes(os.urandom(300))
    return "keyfolio.toml"


def garbage_mapping(ws: Path) -> str:
    (ws / "sources" / "mapping.toml").write_bytes(b"\xff\xfe[accounts\x00\n= =")
    return "mapping.toml"


BREAKS = {
    "empty table": (empty_orders, [["run"], ["import", "accounts", "@accounts"]]),
    "damaged data page": (damaged_lines, [["run"], ["clv", "check"]]),
    "truncated table": (truncated_accounts, [["run"], ["import", "orders", "@orders"]]),
    "damaged app database": (damaged_db, [["override", "000003", "--in", "--reason", "x"],
                                          ["override", "000002", "--remove"], ["run"]]),
    "damaged run": (damaged_portfolio, [["explain", "000002"], ["export"], ["report"], ["run"]]),
    "garbage run.json": (garbage_run_json, [["report"], ["run"]]),
    "garbage policy": (garbage_policy, [["run"], ["clv", "check"]]),
    "garbage mapping": (garbage_mapping, [["import", "--mapping", "@mapping"]]),
}  # fmt: skip

CASES = [(kind, args) for kind, (_, commands) in BREAKS.items() for args in commands]


def _args(ws: Path, args: list[str]) -> list[str]:
    src = ws / "sources"
    files = {"@accounts": src / "customers.csv", "@orders": src / "orders.csv",
             "@mapping": src / "mapping.toml"}  # fmt: skip
    out = [args[0], *(["check"] if args[0] == "clv" else []), str(ws)]
    rest = args[2:] if args[0] == "clv" else args[1:]
    out += [str(files.get(a, a)) for a in rest]
    if args[:2] == ["import", "accounts"]:
        out += ["--col", "account_id=CustomerID", "--col", "name=CompanyName"]
    if args[:2] == ["import", "orders"]:
        out += ["--col", "order_id=OrderID", "--col", "account_id=CustomerID",
                "--col", "order_date=OrderDate", "--date-format", "%m/%d/%Y"]  # fmt: skip
    if args[0] == "override":
        out += ["--by", "lead"]
    return out


def one_error_line(r: subprocess.CompletedProcess[str], names: str) -> str:
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if not ln.startswith("warning:")]
    assert len(errors) == 1 and errors[0].startswith("error: "), r.stderr
    assert names in errors[0], errors[0]
    assert "internal error" not in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize(("kind", "args"), CASES, ids=[f"{k}: {' '.join(a)}" for k, a in CASES])
def test_broken_workspace_is_one_line(ws: Path, kind: str, args: list[str]) -> None:
    names = BREAKS[kind][0](ws)
    before = snapshot(ws)
    one_error_line(cli(*_args(ws, args)), names)
    assert snapshot(ws) == before


@contextlib.contextmanager
def read_only(ws: Path) -> Iterator[None]:
    """Make the workspace unwritable for the command: folders without write bits, and as
    root (who writes anyway) a read-only bind mount of the folder."""
    if os.geteuid() != 0:
        for p in [ws, *ws.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)
        yield
        return
    mount = shutil.which("mount") or "/usr/bin/mount"
    for cmd in ([mount, "--bind", str(ws), str(ws)], [mount, "-o", "remount,bind,ro", str(ws)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run([shutil.which("umount") or "umount", str(ws)], capture_output=True)
            pytest.skip(f"a read-only bind mount is needed as root: {' '.join(cmd)}: {r.stderr}")
    try:
        yield
    finally:
        subprocess.run([shutil.which("umount") or "umount", str(ws)], check=True)


WRITERS = [["run"], ["import", "--mapping", "@mapping"], ["report"], ["init", "--force"],
           ["override", "000003", "--in", "--reason", "x"], ["export"]]  # fmt: skip


@pytest.mark.parametrize("args", WRITERS, ids=[" ".join(a) for a in WRITERS])
def test_read_only_workspace_is_one_line(ws: Path, args: list[str]) -> None:
    before = snapshot(ws)
    with read_only(ws):
        line = one_error_line(cli(*_args(ws, args)), str(ws))
    assert "ermission denied" in line or "ead-only" in line, line
    assert snapshot(ws) == before


def _small_disk(limit: int) -> Callable[[], None]:
    """Writes beyond ``limit`` bytes a file fail (EFBIG), as they do on a full disk."""

    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


FULL = [["run"], ["import", "--mapping", "@mapping"], ["report"], ["export", "-f", "xlsx"]]


@pytest.mark.parametrize("args", FULL, ids=[" ".join(a) for a in FULL])
def test_full_disk_is_one_line(ws: Path, args: list[str]) -> None:
    before = snapshot(ws)
    line = one_error_line(cli(*_args(ws, args), preexec=_small_disk(20_000)), "")
    assert any(w in line for w in ("too large", "space", "disk I/O")), line
    assert snapshot(ws) == before


COMMANDS = [["run"], ["import", "--mapping", "@mapping"], ["report"], ["export"],
            ["explain", "000002"], ["diff"], ["override", "000003", "--in", "--reason", "x"],
            ["clv", "check"]]  # fmt: skip


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_no_workspace_is_one_line(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nowhere"
    argv = _args(missing, args)
    one_error_line(cli(*argv), "nowhere")


def test_run_draws_negative_is_a_usage_error(base: Path) -> None:
    r = cli("run", str(base), "--draws", "-5")
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stderr
    assert "draws" in r.stderr

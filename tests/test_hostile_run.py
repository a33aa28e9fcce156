"""Hostile runs: figures beyond what the sums can hold are refused in one line, extreme but
finite numbers are computed without overflow, no numpy text ever reaches the terminal (a
RuntimeWarning in a stage becomes a run warning), and data that looks like markup is kept
as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from hostile import cli, edit, no_numpy_text, one_line, run_folders, sample_workspace
from keyfolio.schema import TABLES


@pytest.fixture(scope="module")
def base_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_workspace(tmp_path_factory.mktemp("hostile") / "base")


@pytest.fixture
def ws(base_ws: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(base_ws, root)
    return root


def test_huge_finite_capacity_is_solved_not_overflowed() -> None:
    from keyfolio.selection.exact import capacity_units, greedy_many

    values = np.array([[3.0], [2.0], [1.0]])
    for hours, cap, limit in (([400.0, 250.0, 150.0], 1e300, None),
                              ([1e-300, 250.0, 150.0], 1e300, None),
                              ([400.0, 400.0, 150.0], 1.7e308, 2)):  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            chosen = greedy_many(values, np.array(hours), cap, limit)[:, 0]
        assert chosen.sum() == (limit or 3)
    assert capacity_units(np.array([2.5, 400.0]), 1.7e308) is None


# -- numbers the data produce ----------------------------------------------------------------


def _scale(ws: Path, factor: float) -> None:
    """Multiply every money column of the workspace by ``factor``."""
    money = {"order_lines": ["unit_price", "net_revenue", "unit_cost"], "products": ["unit_cost"],
             "orders": ["freight"], "costs": ["amount"], "wallet": ["total_spend"]}  # fmt: skip
    for table, cols in money.items():
        path = ws / "data" / f"{table}.parquet"
        if not path.exists():
            continue
        t = pq.read_table(path)
        for c in cols:
            if c in t.column_names:
                t = t.set_column(t.column_names.index(c), c, pc.multiply(t[c], factor))
        pq.write_table(t, path)


def test_figures_beyond_exact_sums_are_refused_inone_line(ws: Path) -> None:
    _scale(ws, 1e25)
    err = one_line(cli("run", str(ws), "--draws", "10"))
    assert "order_lines" in err and "1e+27" in err, err
    assert run_folders(ws) == []


def _flat_workspace(root: Path, quantity: float, price: float, zero: bool = False) -> Path:
    """A workspace of flat order lines written straight into data/ (canonical Parquet)."""

    assert cli("init", str(root)).returncode == 0
    rng = np.random.default_rng(3)
    n_acc, n = 60, 900
    acc = rng.integers(0, n_acc, n)
    qty = np.round(rng.uniform(1, 3, n)) * quantity
    unit = rng.uniform(0.5, 2.0, n) * price
    if zero:
        unit[acc == 0] = 0.0  # an account with zero revenue (and zero cost)
        unit[acc == 1] = 0.0
    lines = {
        "account_id": pa.array([f"A{i:03d}" for i in acc]),
        "order_date": pa.array(
            [dt.date(2023, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)],
            pa.date32(),
        ),
        "quantity": pa.array(qty),
        "unit_price": pa.array(unit),
        "unit_cost": pa.array(np.where(acc == 1, 5.0, unit * 0.6)),
    }
    spec = TABLES["order_lines"].arrow_schema(list(lines))
    pq.write_table(pa.table([lines[f.name] for f in spec], schema=spec),
                   root / "data" / "order_lines.parquet")  # fmt: skip
    accounts = {"account_id": pa.array([f"A{i:03d}" for i in range(n_acc)]),
                "name": pa.array([f"Account {i}" for i in range(n_acc)])}  # fmt: skip
    spec = TABLES["accounts"].arrow_schema(list(accounts))
    pq.write_table(pa.table([accounts[f.name] for f in spec], schema=spec),
                   root / "data" / "accounts.parquet")  # fmt: skip
    return root


def test_amounts_that_cancel_out_are_refused_inone_line(tmp_path: Path) -> None:
    """Two lines of +-1e30 on one day: the account's total (0) passes the facts stage, the
    exact sums of the value pass cannot hold the lines."""
    ws = _flat_workspace(tmp_path / "ws", quantity=1.0, price=10.0)
    path = ws / "data" / "order_lines.parquet"
    t = pq.read_table(path)
    first = t.slice(0, 1)
    extra = pa.concat_tables([first, first])
    i = t.column_names.index("unit_price")
    extra = extra.set_column(i, "unit_price", pa.array([1e30, -1e30]))
    pq.write_table(pa.concat_tables([t, extra]), path)
    for command in (["run", str(ws), "--draws", "10"], ["clv", "check", str(ws)]):
        err = one_line(cli(*command))
        assert "order_lines: an amount beyond 1e+27" in err, err
    assert run_folders(ws) == []


def test_huge_figures_run_without_numpy_text(tmp_path: Path) -> None:
    ws = _flat_workspace(tmp_path / "ws", quantity=1e12, price=1e13)  # lines of about 1e25
    result = cli("run", str(ws), "--draws", "10")
    assert result.returncode == 0, result.stderr[-3000:]
    no_numpy_text(result)


def test_zero_revenue_runs_without_numpy_text(tmp_path: Path) -> None:
    ws = _flat_workspace(tmp_path / "ws", quantity=1.0, price=10.0, zero=True)
    result = cli("run", str(ws), "--draws", "10")
    assert result.returncode == 0, result.stderr[-3000:]
    no_numpy_text(result)


@pytest.mark.parametrize("scale", ["minmax", "percentile", "direct"])
def test_infinite_attribute_values_run_without_numpy_text(ws: Path, scale: str) -> None:
    path = ws / "data" / "accounts.parquet"
    t = pq.read_table(path)
    n = t.num_rows
    x = np.arange(n, dtype=float)
    x[0], x[1], x[2] = -np.inf, np.inf, 1e308
    x[3] = -1e308
    pq.write_table(t.append_column("x_attr", pa.array(x)), path)
    edit(ws, ("# Strength: our position",
               f'[[attractiveness]]\nname = "x"\nsource = "attribute:x_attr"\nscale = "{scale}"\n\n'
               "# Strength: our position"))  # fmt: skip
    result = cli("run", str(ws), "--draws", "10", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    no_numpy_text(result)
    run_warnings = json.loads(result.stdout)["warnings"]
    assert any("criterion x" in w and "infinite" in w for w in run_warnings), run_warnings


def test_a_numpy_warning_in_a_stage_becomes_a_run_warning(
    ws: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:

    from keyfolio.pipeline import run, segments
    from keyfolio.workspace import Workspace

    size = segments.size

    def noisy(*args: Any, **kwargs: Any) -> Any:
        np.array([1.0]) / np.array([0.0])  # divide by zero encountered in divide
        warnings.warn("a planted problem", RuntimeWarning, stacklevel=1)
        return size(*args, **kwargs)

    monkeypatch.setattr(segments, "size", noisy)
    result = run(Workspace.open(ws))
    err = capfd.readouterr().err
    assert "RuntimeWarning" not in err and "encountered" not in err, err
    mine = [w for w in result.warnings if w.startswith("stage segments:")]
    assert len(mine) == 2, result.warnings
    assert any("divide by zero encountered in divide" in w for w in mine)
    assert all("NaN or infinite" in w for w in mine)
    meta = json.loads((result.run_dir / "run.json").read_text())
    assert [w for w in meta["warnings"] if w.startswith("stage segments:")] == mine


# -- an override whose reason looks like markup -------------------------------------------------


def test_override_reason_with_markup_is_stored_and_shown_literally(ws: Path) -> None:
    from keyfolio.db import list_overrides
    from keyfolio.workspace import Workspace

    reason = "[/x] [bold]x[/bold]"
    account = pq.read_table(ws / "data" / "accounts.parquet")["account_id"][0].as_py()
    result = cli("override", str(ws), account, "--in", "--reason", reason, "--by", "[/k]")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert reason in result.stdout and "[/k]" in result.stdout, result.stdout
    stored = list_overrides(Workspace.open(ws))
    assert [(o.account_id, o.reason, o.who) for o in stored] == [(account, reason, "[/k]")]

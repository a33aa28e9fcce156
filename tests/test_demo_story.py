"""The bundled sample end to end: the planted truth must come out of the pipeline.

The generator plants value destroyers (very large accounts that lose money once
cost-to-serve is counted) and diamonds in the rough (modest, high-margin, fast-growing
accounts) and records them in truth.json; nothing in the pipeline reads that file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from keyfolio.analysis.summary import summarise
from keyfolio.pipeline import RunOptions, RunResult, run
from keyfolio.policy import load_policy
from keyfolio.sample import generate_workspace
from keyfolio.workspace import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, RunResult, dict]:
    root = tmp_path_factory.mktemp("demo") / "ws"
    generate_workspace(root, accounts=2000, lines=200_000)
    ws = Workspace.open(root)
    result = run(ws, RunOptions(robustness_draws=200))
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return ws, result, truth


def test_every_account_is_in_the_portfolio(demo: tuple[Workspace, RunResult, dict]) -> None:
    ws, result, truth = demo
    p = result.portfolio
    assert len(p) == ws.read_table("accounts").num_rows == 2000
    no_orders = p[p["account_id"].isin(truth["no_orders"])]
    assert len(no_orders) and (no_orders["revenue"] == 0).all()
    value_cols = ["clv", "p_alive", "roci", "profit_potential"]
    assert p.loc[p["has_orders"].astype(bool), value_cols[:2]].notna().all().all()


def test_summary_shows_the_planted_destroyers_and_diamonds(
    demo: tuple[Workspace, RunResult, dict],
) -> None:
    _, result, truth = demo
    summary = summarise(result.portfolio, "EUR")
    p = result.portfolio.set_index("account_id")
    assert (p.loc[truth["value_destroyers"], "net_contribution"] < 0).all()
    shown = set(summary.destroyers["account_id"])
    assert len(shown & set(truth["value_destroyers"])) >= 6
    shown = set(summary.diamonds["account_id"])
    assert len(shown & set(truth["diamonds"])) >= 4


def test_definition_on_the_sample(demo: tuple[Workspace, RunResult, dict]) -> None:
    ws, result, truth = demo
    p = result.portfolio.set_index("account_id")
    policy = load_policy(ws.policy_path)
    key = p[p["is_key"].astype(bool)]
    # the capacity constraint holds exactly
    assert key["hours_needed"].sum() <= policy.selection.capacity_hours
    # no planted value destroyer is key
    assert not p.loc[truth["value_destroyers"], "is_key"].any()
    # the planted diamonds rank far above the typical account
    dia = p.loc[truth["diamonds"], "attractiveness"]
    assert dia.median() > p.loc[p["selectable"].astype(bool), "attractiveness"].quantile(0.9)
    # and a good share of them make it into the key list (capacity allows 30 of 1,900)
    assert p.loc[truth["diamonds"], "is_key"].mean() >= 0.3
    # every key account explains itself
    assert key["reasons"].str.len().min() > 0
    assert set(key["decision"]) <= {"selected", "kept", "overridden"}


def test_demo_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "demo",
         str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Biggest value destroyers" in out and "Diamonds in the rough" in out
    assert "Key accounts:" in out
    assert str(tmp_path / "demo") in out
    runs = list((tmp_path / "demo" / "runs").iterdir())
    assert len(runs) == 1
    p = pd.read_parquet(runs[0] / "portfolio.parquet")
    assert p["is_key"].any()

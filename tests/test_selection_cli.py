"""CLI: explain, diff, override (over run folders holding what the definition writes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keyfolio.cli import build_app
from keyfolio.policy import parse_policy
from synthetic import define_key_accounts, make_portfolio, write_definition

POLICY = """
[[attractiveness]]
name = "contribution"
source = "metric:net_contribution"
[selection]
capacity_hours = 2000
[robustness]
draws = 50
"""

runner = CliRunner()
app = build_app()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    (root / "keyfolio.toml").write_text(POLICY)
    pf = make_portfolio(80, seed=9)
    pol = parse_policy(POLICY)
    prev = None
    for run_id, pf_run in (("20260101T000000", pf), ("20260102T000000", pf.iloc[5:])):
        d = define_key_accounts(pf_run, policy=pol, previous=prev)
        write_definition(d, root / "runs" / run_id)
        prev = d.portfolio
    return root


def test_explain(ws: Path) -> None:
    r = runner.invoke(app, ["explain", str(ws), "A000010", "--json"])
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)
    total = sum(c["contribution"] for c in e["contributions"] if c["group"] == "attractiveness")
    assert total == pytest.approx(e["account"]["attractiveness"])
    r = runner.invoke(app, ["explain", str(ws), "A000010"])
    assert r.exit_code == 0 and "contribution" in r.stdout and "to flip" in r.stdout
    r = runner.invoke(app, ["explain", str(ws), "NOPE"])
    assert r.exit_code == 1 and "'NOPE' is not in run" in r.output


def test_diff_defaults_to_last_two_runs(ws: Path) -> None:
    r = runner.invoke(app, ["diff", str(ws), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["run_a"] == "20260101T000000"
    left = [c for c in out["changes"] if c["change"] == "left"]
    assert all(c["why"] == "account not in run B" or c["decision"] for c in left)
    r = runner.invoke(app, ["diff", str(ws), "20260101T000000"])
    assert r.exit_code == 1 and "both RUN_A and RUN_B" in r.output


def test_override(ws: Path) -> None:
    from keyfolio.db.overrides import list_overrides
    from keyfolio.workspace import Workspace

    r = runner.invoke(
        app, ["override", str(ws), "A000003", "--in", "--reason", "pilot", "--by", "kim"]
    )
    assert r.exit_code == 0, r.output
    ovs = list_overrides(Workspace.open(ws))
    assert [(o.account_id, o.direction, o.who) for o in ovs] == [("A000003", "in", "kim")]
    r = runner.invoke(app, ["override", str(ws), "A000003", "--in"])
    assert r.exit_code == 1 and "--reason" in r.output
    r = runner.invoke(app, ["override", str(ws), "A000003", "--remove", "--by", "kim"])
    assert r.exit_code == 0 and not list_overrides(Workspace.open(ws))

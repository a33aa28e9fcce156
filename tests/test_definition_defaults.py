"""Decisions a KAM lead would sign with the template's defaults: capacity is a ceiling, not a
target; accounts that never ordered or lose money are not key by default; the defaults say
when they do not fit; strength varies without survey data; each list is compared with the
rest (issue 9, items 2-4, 11 and 12)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from keyfolio import runs
from keyfolio.ingest import import_mapping
from keyfolio.pipeline import RunOptions, run
from keyfolio.policy import parse_policy, template_text
from keyfolio.sample import generate_workspace
from keyfolio.schema import TABLES
from keyfolio.workspace import Workspace, init_workspace

REPO = Path(__file__).resolve().parents[1]


def _set(ws: Workspace, old: str, new: str) -> None:
    text = ws.policy_path.read_text(encoding="utf-8")
    assert old in text, old
    ws.policy_path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def slack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, object]:
    """A 50-account sample with five times the KAM hours it could use."""
    root = tmp_path_factory.mktemp("slack") / "ws"
    generate_workspace(root, accounts=50, lines=6000)
    ws = Workspace.open(root)
    line = next(
        x for x in ws.policy_path.read_text().splitlines() if x.startswith("capacity_hours")
    )
    _set(ws, line, "capacity_hours = 100000")
    return ws, run(ws, RunOptions(robustness_draws=0))


def test_slack_capacity_does_not_make_everyone_key(slack) -> None:  # type: ignore[no-untyped-def]
    ws, result = slack
    pf = result.portfolio
    cand = pf[pf["selectable"]]
    key = cand[cand["is_key"]]
    assert 0 < len(key) < len(cand)
    assert (key["has_orders"] | key["is_target"]).all()  # nobody key who never ordered
    assert (key["attractiveness"] >= 50).all()  # nobody below the floor
    losers = key[key["net_contribution"] < 0]
    assert losers["quadrant"].isin(["strategic", "star"]).all()
    sel = result.definition.selection
    assert sel["limited_by"].startswith("capacity not binding: ")
    assert (
        "of 100,000 h used" in sel["limited_by"]
        and "below the attractiveness floor" in (sel["limited_by"])
    )
    # the never rules and the floor give reasons a person can check
    out = cand[~cand["is_key"]]
    below = out[(out["attractiveness"] < 50) & ~out["rules"].str.contains("never", na=False)]
    assert below["reasons"].str.contains("below the floor 50").all()
    no_orders = out[~out["has_orders"]]
    assert no_orders["reasons"].str.contains("not has_orders and not is_target").all()


def test_the_summary_says_capacity_does_not_bind(slack) -> None:  # type: ignore[no-untyped-def]
    ws, _ = slack
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "run", str(ws.root)],
        capture_output=True, text=True, timeout=300, env={"COLUMNS": "80", "PATH": ""},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Capacity not binding:" in res.stdout
    assert "of 100,000 h used" in res.stdout


def test_a_named_target_without_orders_can_be_key(tmp_path: Path) -> None:
    """A prospect with no orders is kept out by the template's rule, unless the declared list
    `targets` (or an account attribute `target`) names it."""
    root = tmp_path / "ws"
    generate_workspace(root, accounts=60, lines=6000)
    ws = Workspace.open(root)
    pf = run(ws, RunOptions(robustness_draws=0)).portfolio
    prospect = pf.loc[~pf["has_orders"] & pf["selectable"], "account_id"].iloc[0]
    declared = ws.read_table("declared")
    targets = pa.table({"list_name": ["targets"], "account_id": [prospect]},
                       schema=TABLES["declared"].arrow_schema())  # fmt: skip
    ws.write_tables({"declared": pa.concat_tables([declared, targets])})
    pf = run(ws, RunOptions(robustness_draws=0)).portfolio.set_index("account_id")
    assert pf.at[prospect, "is_target"]
    assert "never rule" not in str(pf.at[prospect, "reasons"])
    rec = runs.get(ws).table(runs.RECONCILIATION)
    assert rec is not None and "targets" not in set(rec["list_name"].dropna())


def test_defaults_that_do_not_fit_are_said(shared_data: Path, tmp_path: Path) -> None:
    """Northwind with the template: a third of the buying customers would be key; the run
    says so. With one threshold every account with revenue is 'large': said too."""
    ws = init_workspace(tmp_path / "nw")
    import_mapping(ws, REPO / "examples" / "northwind" / "mapping.toml")
    _set(ws, "min_attractiveness = 50", "min_attractiveness = 0")
    result = run(ws, RunOptions(robustness_draws=0))
    assert any("more than a quarter" in w and "capacity_hours" in w for w in result.warnings)
    _set(ws, 'method = "pareto"', 'method = "thresholds"\nthresholds = [1, 2]')
    result = run(ws, RunOptions(robustness_draws=0))
    assert any("are 'large'" in w for w in result.warnings)


def test_strength_varies_without_feedback_and_a_flat_one_is_said(
    shared_data: Path, tmp_path: Path
) -> None:
    """Northwind has no feedback and no wallet: the template's strength still varies (years,
    regularity, breadth); a strength made of feedback alone is flagged as one axis."""
    ws = init_workspace(tmp_path / "nw")
    import_mapping(ws, REPO / "examples" / "northwind" / "mapping.toml")
    result = run(ws, RunOptions(robustness_draws=0))
    cand = result.portfolio[result.portfolio["selectable"] & result.portfolio["has_orders"]]
    assert cand["strength"].std() > 3 and cand["category_breadth"].nunique() > 3
    assert not any("strength has no informative data" in w for w in result.warnings)
    assert set(cand["quadrant"]) & {"star", "streamline"}  # not only strategic / status
    policy = parse_policy(template_text())
    feedback_only = "\n".join(
        f'[[strength]]\nname = "{c.name}"\nsource = "{c.source}"\nscale = "direct"\n'
        f"range = [1, 5]\n"
        for c in policy.strength
        if c.kind == "feedback"
    )
    text = template_text()
    head, _, rest = text.partition("[[strength]]")
    tail = rest[rest.index("# --- Segments") :]
    ws.policy_path.write_text(head + feedback_only + "\n" + tail, encoding="utf-8")
    result = run(ws, RunOptions(robustness_draws=0))
    assert any("strength has no informative data" in w for w in result.warnings)


def test_explain_states_a_bar_that_agrees_with_the_list(slack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The stated last in is key, the first out is not; a first out above the bar is said to
    have not fitted; no suggestion asks for fewer hours than an account's tier needs."""
    ws, _ = slack
    _set(ws, "capacity_hours = 100000", "capacity_hours = 1200")
    result = run(ws, RunOptions(robustness_draws=0))
    pf = result.portfolio.set_index("account_id")
    sel = result.definition.selection
    assert pf.at[sel["last_in"]["account_id"], "is_key"]
    assert not pf.at[sel["first_out"]["account_id"], "is_key"]
    assert not pf["flip"].str.contains("fewer KAM hours").any()
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "explain",
         str(ws.root), sel["first_out"]["account_id"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"first out {sel['first_out']['account_id']}" in res.stdout
    if sel["first_out"]["score"] > sel["last_in"]["score"]:
        assert "did not fit" in res.stdout


def test_key_versus_the_rest_per_list_in_the_json_and_the_report(tmp_path: Path) -> None:
    """The demo's leadership list earns less margin than the accounts not on it (the known
    finding); the run's JSON, the CLI and the report's first pages say so."""
    root = tmp_path / "demo"
    generate_workspace(root, accounts=400, lines=40_000)
    res = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli import main; main()", "run", str(root),
         "--json", "--draws", "0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    e = pd.DataFrame(out["key_vs_rest"]).set_index(["list_name", "side"])
    pf = runs.get(Workspace.open(root)).portfolio()
    key = pf[pf["selectable"] & pf["is_key"]]
    assert e.loc[("definition", "on the list"), "n_accounts"] == len(key)
    assert e.loc[("definition", "on the list"), "cm_pct"] == pytest.approx(
        key["contribution_margin"].sum() / key["revenue"].sum()
    )
    assert "leadership" in out["weaker_lists"]
    from keyfolio.report import build_model, load_run

    model = build_model(load_run(runs.get(Workspace.open(root))))
    glance = model.section("glance")
    assert "leadership" in glance.numbers["weaker_lists"]
    texts = " ".join(getattr(i, "text", "") for i in glance.items)
    assert "The list “leadership” earns a contribution margin of" in texts

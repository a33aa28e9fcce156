"""The live what-if (keyfolio.analysis.whatif) and the definition form (policy_form), on a
small sample workspace with one run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keyfolio import pipeline, runs
from keyfolio.analysis import whatif
from keyfolio.analysis.policy_form import apply_form
from keyfolio.db import close_db
from keyfolio.db.engine import ENV_VAR
from keyfolio.errors import PolicyError, RuleError
from keyfolio.policy import Policy, load_policy, parse_policy
from keyfolio.sample import make_sample
from keyfolio.workspace import Workspace

COMPARED = ["account_id", "is_key", "decision", "attractiveness", "strength", "quadrant",
            "strategy", "growth_band", "strategic_band"]  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    mp = pytest.MonkeyPatch()
    mp.delenv(ENV_VAR, raising=False)
    root = tmp_path_factory.mktemp("whatif") / "ws"
    make_sample(root, accounts=400, lines=12_000, seed=5)
    ws = Workspace.open(root)
    pipeline.run(ws, pipeline.RunOptions(robustness_draws=0))
    yield ws
    whatif.clear_cache()
    close_db(ws)
    mp.undo()


def _weighted(policy: Policy, name: str, weight: float) -> Policy:
    crits = [c.model_copy(update={"weight": weight}) if c.name == name else c
             for c in policy.attractiveness]  # fmt: skip
    return policy.model_copy(update={"attractiveness": crits})


def _with_selection(policy: Policy, **values: object) -> Policy:
    return policy.model_copy(update={"selection": policy.selection.model_copy(update=values)})


def _fast_frame(w: whatif.WhatIf, base: whatif.WhatIfBase, policy: Policy) -> pd.DataFrame:
    defn = base.segments(base.scores(whatif.what_if_policy(policy)), policy)
    return pd.DataFrame(
        {"account_id": w.account_id, "is_key": w.is_key, **{k: np.asarray(defn[k], dtype=object)
         if k in ("quadrant", "strategy", "growth_band", "strategic_band") else defn[k]
         for k in ("attractiveness", "strength", "quadrant", "strategy", "growth_band",
                   "strategic_band")}}
    )  # fmt: skip


def _policies(policy: Policy, pf: pd.DataFrame) -> list[Policy]:
    key = pf.loc[pf["is_key"], "account_id"].iloc[0]
    other = pf.loc[~pf["is_key"] & pf["selectable"], "account_id"].iloc[-1]
    must = [f"account_id = '{other}'"]
    never = [*policy.selection.never, f"account_id = '{key}'"]
    return [
        policy,
        _weighted(policy, policy.attractiveness[0].name, 20.0),
        _with_selection(policy, must=must, never=never, keep_margin=0.0),
        _with_selection(policy, capacity_hours=None, max_key_accounts=10, min_attractiveness=60),
        policy.model_copy(update={"matrix": policy.matrix.model_copy(
            update={"attractiveness_cut": 65.0, "growth_cuts": (-0.1, 0.3)})}),
    ]  # fmt: skip


def test_fast_path_equals_pipeline_define(workspace: Workspace) -> None:
    """The cached what-if decides exactly as pipeline.define does on the same inputs."""
    base = whatif.base_for(workspace)
    policy = load_policy(workspace.policy_path)
    for p in _policies(policy, base.portfolio.assign(is_key=base.before["is_key"])):
        w = base.evaluate(p)
        plain = base.definition(p).portfolio
        fast = _fast_frame(w, base, p)
        assert list(plain["account_id"]) == list(fast["account_id"])
        assert (plain["is_key"].to_numpy() == w.is_key).all()
        for col in ("attractiveness", "strength"):
            np.testing.assert_allclose(plain[col].to_numpy(float), fast[col].to_numpy(float))
        for col in ("quadrant", "strategy", "growth_band", "strategic_band"):
            assert list(plain[col].astype(str)) == list(fast[col].astype(str)), col
        by_id = plain.set_index("account_id")
        for m in [*w.entering, *w.leaving]:
            assert m.reason == by_id.at[m.account_id, "reasons"]
            assert m.decision == by_id.at[m.account_id, "decision"]


def test_nothing_changed_moves_nothing(workspace: Workspace) -> None:
    w = whatif.what_if(workspace, load_policy(workspace.policy_path))
    assert w.entering == [] and w.leaving == [] and w.key == w.key_before > 0
    assert sum(w.quadrants.values()) == w.candidates == sum(w.quadrants_before.values())
    assert w.quadrants == w.quadrants_before and w.key_by_tier == w.key_by_tier_before


def test_rules_move_the_accounts_they_name(workspace: Workspace) -> None:
    policy = load_policy(workspace.policy_path)
    pf = runs.latest(workspace).portfolio()  # type: ignore[union-attr]
    key = str(pf.loc[pf["is_key"], "account_id"].iloc[0])
    floor = policy.selection.min_attractiveness or 0.0
    out = pf[~pf["is_key"] & pf["selectable"] & pf["has_orders"] & (pf["net_contribution"] > 0)
             & (pf["attractiveness"] >= floor) & ~pf["not_assessed"]]  # fmt: skip
    other = str(out.sort_values("attractiveness")["account_id"].iloc[0])
    edited = _with_selection(policy, must=[f"account_id = '{other}'"],
                             never=[*policy.selection.never, f"account_id = '{key}'"])  # fmt: skip
    w = whatif.what_if(workspace, edited)
    entering = {m.account_id: m for m in w.entering}
    leaving = {m.account_id: m for m in w.leaving}
    assert entering[other].reason.endswith(f"must rule: account_id = '{other}'")
    assert leaving[key].reason == f"was key; never rule: account_id = '{key}'"
    assert leaving[key].decision == "deselected" and entering[other].decision == "selected"


def test_a_weight_change_moves_accounts_by_that_criterion(workspace: Workspace) -> None:
    policy = load_policy(workspace.policy_path)
    name = "growth"
    w = whatif.what_if(workspace, _weighted(policy, name, 60.0))
    assert w.entering and w.leaving
    base = whatif.base_for(workspace)
    crit = next(c for c in base.scores(policy).criteria if c.criterion.name == name)
    index = {a: i for i, a in enumerate(base.account_id)}
    score_in = np.mean([crit.score[index[m.account_id]] for m in w.entering])
    score_out = np.mean([crit.score[index[m.account_id]] for m in w.leaving])
    assert score_in > score_out
    assert all(m.attractiveness_before != m.attractiveness for m in w.entering)


def test_what_ifs_never_write_and_the_next_run_is_unchanged(
    workspace: Workspace, tmp_path: Path
) -> None:
    twin = Workspace(tmp_path / "twin")
    shutil.copytree(workspace.root, twin.root)
    before = sorted((p.relative_to(workspace.root), p.stat().st_mtime_ns)
                    for p in workspace.root.rglob("*") if p.is_file())  # fmt: skip
    ids = runs.run_ids(workspace)
    policy = load_policy(workspace.policy_path)
    first = whatif.what_if(workspace, policy)
    for weight in (0.5, 5.0, 50.0):
        whatif.what_if(workspace, _weighted(policy, "growth", weight))
    whatif.what_if(workspace, _with_selection(policy, capacity_hours=100_000.0))
    after = sorted((p.relative_to(workspace.root), p.stat().st_mtime_ns)
                   for p in workspace.root.rglob("*") if p.is_file())  # fmt: skip
    assert runs.run_ids(workspace) == ids and after == before
    options = pipeline.RunOptions(robustness_draws=0)
    real = pipeline.run(workspace, options).portfolio
    alone = pipeline.run(twin, options).portfolio
    pd.testing.assert_frame_equal(real[COMPARED + ["reasons"]], alone[COMPARED + ["reasons"]])
    # and the what-if said what this next run decides
    assert (real["is_key"].to_numpy() == first.is_key).all()
    assert list(real["quadrant"].astype(str)) == list(first.quadrant.astype(str))


def test_what_if_refuses_unknown_columns_and_notes_earlier_stages(workspace: Workspace) -> None:
    policy = load_policy(workspace.policy_path)
    bad = _with_selection(policy, never=["no_such_column > 1"])
    with pytest.raises(RuleError, match="selection.never\\[0\\].*unknown column 'no_such_column'"):
        whatif.what_if(workspace, bad)
    crit = policy.attractiveness[0].model_copy(update={"source": "metric:nope"})
    with pytest.raises(PolicyError, match="names no portfolio column 'nope'"):
        whatif.what_if(workspace, policy.model_copy(update={"attractiveness": [crit]}))
    sized = policy.model_copy(update={"size": policy.size.model_copy(update={"cuts": (0.5, 0.9)})})
    w = whatif.what_if(workspace, sized)
    assert any(x.startswith("size changed: these take effect at the next run") for x in w.warnings)


def test_form_fields_edit_the_text_and_keep_the_rest(workspace: Workspace) -> None:
    text = workspace.policy_path.read_text(encoding="utf-8")
    fields = {
        "weight:attractiveness:1": "4.5", "scale:strength:0": "percentile",
        "matrix:strength_cut": "55", "selection:capacity_hours": "",
        "selection:max_key_accounts": "30", "selection:must": "account_id = 'A'\n\n",
        "selection:never": "status = 'closed'\nrevenue < 0",
    }  # fmt: skip
    edited = apply_form(text, fields)
    p = parse_policy(edited)
    assert p.attractiveness[1].weight == 4.5 and p.strength[0].scale == "percentile"
    assert p.matrix.strength_cut == 55 and p.selection.capacity_hours is None
    assert p.selection.max_key_accounts == 30 and p.selection.must == ["account_id = 'A'"]
    assert p.selection.never == ["status = 'closed'", "revenue < 0"]
    original = parse_policy(text)
    assert p.attractiveness[0] == original.attractiveness[0] and p.value == original.value
    kept = [line for line in text.splitlines() if line.startswith("#")]
    assert all(line in edited.splitlines() for line in kept)  # comments stay


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weight:attractiveness:0": "heavy"}, "attractiveness\\[0\\].weight: expected a number"),
        ({"weight:strength:0": "nan"}, "strength\\[0\\].weight: expected a finite number"),
        ({"scale:strength:0": "log"}, "strength\\[0\\].scale: expected one of"),
        ({"weight:strength:99": "1"}, "strength\\[99\\]: no such criterion"),
        ({"selection:keep_margin": ""}, "selection.keep_margin: expected a number"),
    ],
)
def test_form_fields_refused(workspace: Workspace, fields: dict[str, str], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        apply_form(workspace.policy_path.read_text(encoding="utf-8"), fields)


def test_form_out_of_range_caught_by_the_policy_check(workspace: Workspace) -> None:
    text = apply_form(workspace.policy_path.read_text(encoding="utf-8"),
                      {"weight:attractiveness:0": "-2"})  # fmt: skip
    with pytest.raises(PolicyError, match="attractiveness\\[0\\].weight: expected a finite num"):
        parse_policy(text)

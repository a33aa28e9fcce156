"""Reconciliation with the declared key-account lists."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from keyfolio.selection.reconcile import Reconciliation, reconcile


def test_reconcile() -> None:
    pf = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "m1", "g"],
            "name": ["A", "B", "C", "D", "M1", "G"],
            "group_id": [None, None, None, None, "g", None],
            "in_group": [False, False, False, False, True, False],
            "is_key": [True, True, False, False, False, True],
            "quadrant": ["strategic", "star", "status", "streamline", "star", "strategic"],
            "decision": ["selected", "selected", "not selected", "deselected", "not selected",
                         "selected"],
            "reasons": ["r_a", "r_b", "below the bar", "never rule", "member", "r_g"],
            "selectable": [True, True, True, True, False, True],
            "revenue": [100.0, 200.0, 300.0, 400.0, 50.0, 500.0],
            "contribution_margin": [40.0, 50.0, 30.0, 20.0, 10.0, 100.0],
            "cost_to_serve": [10.0, 10.0, 30.0, 60.0, 5.0, 20.0],
            "net_contribution": [30.0, 40.0, 0.0, -40.0, 5.0, 80.0],
        }
    )  # fmt: skip
    declared = pd.DataFrame(
        {
            "list_name": ["board", "board", "board", "emea", "emea", "emea", "rep", "targets"],
            "account_id": ["a", "c", "d", "c", "d", "m1", "zz", "b"],
        }
    )
    rec = reconcile(pf, declared)
    # key vs the rest, per list, over the selectable accounts (m1 is in its group g):
    # definition a, b, g: margin 190 of 800 revenue; the rest c, d: 50 of 700
    e = rec.economics.set_index(["list_name", "side"])
    assert e.loc[("definition", "on the list"), "n_accounts"] == 3
    assert e.loc[("definition", "on the list"), "cm_pct"] == pytest.approx(190 / 800)
    assert e.loc[("definition", "the rest"), "cts_pct"] == pytest.approx(90 / 700)
    # board = a, c, d: 90 of 800; the rest b, g: 150 of 700 -> the board's list earns less
    assert e.loc[("board", "on the list"), "cm_pct"] == pytest.approx(90 / 800)
    assert e.loc[("board", "the rest"), "net_pct"] == pytest.approx(120 / 700)
    assert rec.weaker_lists() == ["board", "emea"]
    assert "targets" not in set(rec.lists["list_name"])  # a list of targets, not of key accounts
    lists = rec.lists.set_index("list_name")
    assert lists.loc["board", ["n_declared", "n_known", "n_key"]].tolist() == [3, 3, 1]
    assert lists.loc["emea", "n_key"] == 1  # m1 counts as its group g, which is key
    assert lists.loc["rep", "n_known"] == 0
    ov = rec.overlap.set_index(["list_a", "list_b"])
    assert ov.loc[("board", "emea"), "jaccard"] == pytest.approx(2 / 4)
    assert ov.loc[("board", "definition"), "jaccard"] == pytest.approx(1 / 5)
    failing = rec.failing.set_index("account_id")
    assert sorted(failing.index) == ["c", "d"]
    assert failing.at["c", "lists"] == "board, emea" and failing.at["d", "reasons"] == "never rule"
    assert rec.unlisted["account_id"].tolist() == ["b"]
    # the run stores the sections as one long table; read back, each section is the same
    buf = io.BytesIO()
    rec.frame().to_parquet(buf, index=False)
    back = Reconciliation.from_frame(pd.read_parquet(io.BytesIO(buf.getvalue())))
    for name, df in rec.sections().items():
        got = getattr(back, name)
        assert list(got.columns) == list(df.columns), name
        assert got.astype(str).values.tolist() == df.astype(str).values.tolist(), name
    assert back.failing.set_index("account_id").at["d", "reasons"] == "never rule"
    assert back.overlap["jaccard"].tolist() == pytest.approx(rec.overlap["jaccard"].tolist())


def test_no_declared_lists() -> None:
    pf = pd.DataFrame({"account_id": ["a"], "name": ["A"], "is_key": [True], "quadrant": ["star"],
                       "decision": ["selected"], "reasons": ["x"]})  # fmt: skip
    rec = reconcile(pf, None)
    assert not rec.has_lists
    assert all(df.empty for name, df in rec.sections().items() if name != "economics")
    assert rec.economics["list_name"].unique().tolist() == ["definition"]


def test_an_unknown_id_on_two_lists_is_failing_and_says_so() -> None:
    pf = pd.DataFrame({"account_id": ["a", "b"], "name": ["A", "B"], "is_key": [True, False],
                       "quadrant": ["star", "status"], "decision": ["selected", "not selected"],
                       "reasons": ["x", "below the bar"]})  # fmt: skip
    declared = pd.DataFrame(
        {"list_name": ["board", "board", "rep", "rep"], "account_id": ["zz", "b", "zz", "b"]}
    )
    failing = reconcile(pf, declared).failing.set_index("account_id")
    assert sorted(failing.index) == ["b", "zz"]
    assert failing.at["zz", "reasons"] == "not in the portfolio (unknown id)"
    assert pd.isna(failing.at["zz", "name"])
    assert failing.at["b", "reasons"] == "below the bar" and failing.at["b", "name"] == "B"

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
        }
    )  # fmt: skip
    declared = pd.DataFrame(
        {
            "list_name": ["board", "board", "board", "emea", "emea", "emea", "rep"],
            "account_id": ["a", "c", "d", "c", "d", "m1", "zz"],
        }
    )
    rec = reconcile(pf, declared)
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
    assert all(df.empty for df in rec.sections().values())

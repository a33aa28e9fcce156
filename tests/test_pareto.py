"""Pareto ranks and cumulative shares (:func:`keyfolio.pipeline.economics.pareto`, sorted in
Arrow) against the pandas procedure they replaced, over random portfolios with ties, missing
and negative values and rows that are not selectable."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from keyfolio.pipeline.economics import pareto

COLUMNS = ("pareto_rank_revenue", "cum_share_revenue", "pareto_rank_net", "cum_share_net",
           "whale_cum_net")  # fmt: skip


def pandas_pareto(df: pd.DataFrame) -> pd.DataFrame:
    sel = df["selectable"].astype(bool)
    for col in COLUMNS:
        df[col] = np.nan
    s = df.loc[sel]
    order = s.sort_values(["revenue", "account_id"], ascending=[False, True]).index
    total = s["revenue"].clip(lower=0).sum()
    df.loc[order, "pareto_rank_revenue"] = np.arange(1, len(order) + 1)
    cum = s.loc[order, "revenue"].clip(lower=0).cumsum()
    df.loc[order, "cum_share_revenue"] = cum / total if total > 0 else np.nan
    order = s.sort_values(["net_contribution", "account_id"], ascending=[False, True]).index
    df.loc[order, "pareto_rank_net"] = np.arange(1, len(order) + 1)
    cum_net = s.loc[order, "net_contribution"].cumsum()
    total_net = s["net_contribution"].sum()
    df.loc[order, "whale_cum_net"] = cum_net
    df.loc[order, "cum_share_net"] = cum_net / total_net if total_net != 0 else np.nan
    return df


AMOUNT = st.one_of(st.sampled_from([0.0, 100.0, -50.0, np.nan]), st.floats(-1e6, 1e6))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(AMOUNT, AMOUNT, st.booleans()), min_size=1, max_size=40),
       st.randoms(use_true_random=False))  # fmt: skip
def test_same_ranks_and_shares_as_the_pandas_sort(rows, rnd) -> None:  # type: ignore[no-untyped-def]
    ids = [f"A{i:02d}" for i in range(len(rows))]
    rnd.shuffle(ids)
    df = pd.DataFrame(
        {
            "account_id": pd.Series(ids, dtype="string"),
            "revenue": [r[0] for r in rows],
            "net_contribution": [r[1] for r in rows],
            "selectable": [r[2] for r in rows],
        }
    )
    got, want = pareto(df.copy()), pandas_pareto(df.copy())
    for col in COLUMNS:
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)

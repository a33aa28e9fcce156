"""``keyfolio clv check``: can the customer-value models be trusted on this data? Fit on the
order days before a holdout, predict the holdout, compare (:func:`keyfolio.value.backtest`)."""

from __future__ import annotations

from keyfolio.pipeline.facts import connect, reading, release, value_lines
from keyfolio.policy import load_policy
from keyfolio.value.clv import BacktestResult, backtest
from keyfolio.value.summary import exact_sums
from keyfolio.workspace import Workspace


def clv_check(ws: Workspace, holdout_months: int) -> BacktestResult:
    """Backtest the lifetime-value models on the workspace's own order lines."""
    ws.settled()  # not halfway through an import's replacement of the tables
    policy = load_policy(ws.policy_path)
    con = connect()
    try:
        with reading(ws), exact_sums():  # the lines are read as the backtest goes
            return backtest(
                value_lines(con, ws),
                holdout_months=holdout_months,
                time_unit_days=policy.value.time_unit_days,
                min_repeat_customers=policy.value.min_repeat_customers,
            )
    finally:
        release(con)

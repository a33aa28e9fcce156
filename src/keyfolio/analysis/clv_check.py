"""``keyfolio clv check``: can the customer-value models be trusted on this data? Fit on the
order days before a holdout, predict the holdout, compare (:func:`keyfolio.value.backtest`)."""

from __future__ import annotations

from keyfolio.pipeline.engine import engine_url, open_engine
from keyfolio.pipeline.facts import reading, value_lines
from keyfolio.pipeline.sources import Tables
from keyfolio.policy import load_policy
from keyfolio.value.clv import BacktestResult, backtest
from keyfolio.value.summary import exact_sums
from keyfolio.workspace import Workspace


def clv_check(ws: Workspace, holdout_months: int, engine: str | None = None) -> BacktestResult:
    """Backtest the lifetime-value models on the workspace's own order lines, on the engine
    a run uses (``engine``: a URL overriding KEYFOLIO_ENGINE and the policy's)."""
    ws.settled()  # not halfway through an import's replacement of the tables
    policy = load_policy(ws.policy_path)
    eng = open_engine(engine_url(policy, engine))
    try:
        src = Tables(ws, eng.con, policy.engine.tables)
        with reading(ws, eng.scheme), exact_sums():  # the lines are read as the backtest goes
            return backtest(
                value_lines(src),
                holdout_months=holdout_months,
                time_unit_days=policy.value.time_unit_days,
                min_repeat_customers=policy.value.min_repeat_customers,
            )
    finally:
        eng.close()

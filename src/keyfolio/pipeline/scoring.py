"""The scoring stage: the policy's criteria -> 0-100 attractiveness and strength per
account, with per-criterion contributions (:func:`keyfolio.scoring.score_portfolio`)."""

from __future__ import annotations

import pandas as pd

from keyfolio.policy import Policy
from keyfolio.scoring import Scores, score_portfolio


def scores(
    portfolio: pd.DataFrame,
    policy: Policy,
    *,
    assessments: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
) -> Scores:
    """Every portfolio row scored on the policy's criteria."""
    return score_portfolio(portfolio, policy, assessments=assessments, feedback=feedback)


def columns(s: Scores, index: pd.Index) -> pd.DataFrame:
    """The scores as portfolio columns: attractiveness, strength, not_assessed (missing an
    ``exclude`` criterion) and assessors_disagree."""
    return pd.DataFrame(
        {
            "attractiveness": s.attractiveness,
            "strength": s.strength,
            "not_assessed": s.not_assessed,
            "assessors_disagree": s.assessors_disagree,
        },
        index=index,
    )

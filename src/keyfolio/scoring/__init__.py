"""Scoring: the policy's weighted criteria -> 0-100 attractiveness and strength per account
with per-criterion contributions (:mod:`~keyfolio.scoring.scores`), and the KAM matrix
read off the two scores (:mod:`~keyfolio.scoring.matrix`)."""

from keyfolio.scoring.matrix import QUADRANTS, STRATEGY, segment
from keyfolio.scoring.scales import NEUTRAL, fit_scale
from keyfolio.scoring.scores import (
    CONTRIBUTION_COLUMNS,
    GROUPS,
    CriterionScore,
    Scores,
    normalised_weights,
    score_portfolio,
)
from keyfolio.scoring.sources import VALUE_METRICS

__all__ = [
    "CONTRIBUTION_COLUMNS",
    "GROUPS",
    "NEUTRAL",
    "QUADRANTS",
    "STRATEGY",
    "VALUE_METRICS",
    "CriterionScore",
    "Scores",
    "fit_scale",
    "normalised_weights",
    "score_portfolio",
    "segment",
]

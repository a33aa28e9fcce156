"""Synthetic portfolios with planted truth, and the definition stages run on them (tests).

:func:`make_portfolio` returns a DataFrame in the shape the economics stage produces. Two
planted groups: ``planted == "destroyer"`` (value destroyers: negative net contribution,
shrinking, high cost to serve) and ``planted == "star"`` (fast-growing, high-margin,
large contribution). Everything else is ordinary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keyfolio import runs
from keyfolio.pipeline import DefinitionInputs, define
from keyfolio.pipeline import selection as selection_stage
from keyfolio.policy import Policy
from keyfolio.selection import Definition

# Three attractiveness criteria, one of them assessed by people (so that assessors' spread is
# drawn), on 5,000 KAM hours: the robustness tests' policy, completed by each test's own
# [robustness] (and [selection] hours) lines.
ROBUSTNESS_POLICY = """
[[attractiveness]]
name = "contribution"
source = "metric:net_contribution"
weight = 2
[[attractiveness]]
name = "growth"
source = "metric:revenue_growth"
[[attractiveness]]
name = "fit"
source = "assessment:fit"
scale = "direct"
[selection]
capacity_hours = 5000
"""


def make_portfolio(
    n: int = 200, *, seed: int = 0, n_star: int = 5, n_destroyer: int = 5
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    revenue = rng.lognormal(11, 1.0, n)
    cm_pct = np.clip(rng.normal(0.30, 0.08, n), 0.02, 0.7)
    growth = rng.normal(0.03, 0.10, n)
    cts = revenue * np.clip(rng.normal(0.08, 0.03, n), 0.0, None)
    planted = np.array(["" for _ in range(n)], dtype=object)
    idx = rng.permutation(n)
    star, destroyer = idx[:n_star], idx[n_star : n_star + n_destroyer]
    planted[star], planted[destroyer] = "star", "destroyer"
    revenue[star] = np.quantile(revenue, 0.97) * rng.uniform(1.0, 1.5, len(star))
    cm_pct[star], growth[star] = rng.uniform(0.5, 0.6, len(star)), rng.uniform(0.4, 0.8, len(star))
    cts[star] = revenue[star] * 0.03
    revenue[destroyer] = np.quantile(revenue, 0.9) * rng.uniform(1.0, 1.2, len(destroyer))
    cm_pct[destroyer], growth[destroyer] = 0.05, rng.uniform(-0.4, -0.2, len(destroyer))
    cts[destroyer] = revenue[destroyer] * 0.25
    cm = revenue * cm_pct
    net = cm - cts
    order = np.argsort(-cm)
    share = np.empty(n)
    share[order] = np.cumsum(cm[order]) / cm.sum()
    tier = np.where(share <= 0.8, "large", np.where(share <= 0.95, "medium", "small"))
    regions = np.array(["EMEA", "Americas", "APAC"], dtype=object)
    ids = np.array([f"A{i:06d}" for i in range(n)], dtype=object)
    return pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Account {i}" for i in range(n)],
            "parent_id": None,
            "group_id": None,
            "in_group": False,
            "is_group": False,
            "selectable": True,
            "country": "DE",
            "region": regions[rng.integers(0, 3, n)],
            "industry": "manufacturing",
            "owner": [f"rep{i % 7}" for i in range(n)],
            "market_leader": rng.random(n) < 0.2,
            "status": np.where(rng.random(n) < 0.02, "closed", "active"),
            "revenue": revenue,
            "cogs": revenue - cm,
            "contribution_margin": cm,
            "cm_pct": cm_pct,
            "cost_to_serve": cts,
            "net_contribution": net,
            "revenue_ttm": revenue,
            "revenue_prev_ttm": revenue / (1 + growth),
            "revenue_growth": growth,
            "share_of_wallet": np.where(rng.random(n) < 0.5, rng.uniform(0.05, 0.9, n), np.nan),
            "orders": rng.integers(1, 200, n),
            "order_days": rng.integers(1, 150, n),
            "years_active": rng.uniform(0.2, 15, n),
            "size_tier": tier,
            "planted": planted,
        }
    )


def define_key_accounts(portfolio: pd.DataFrame, *, policy: Policy, **inputs: Any) -> Definition:
    """The definition stages of the pipeline (scoring, matrix, selection) on a portfolio."""
    return define(portfolio, policy, DefinitionInputs(**inputs))


def write_definition(defn: Definition, folder: Path) -> runs.Run:
    """A run folder holding what the definition stages write (and a minimal run.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    w = runs.RunWriter(folder)
    w.frame(runs.PORTFOLIO, defn.portfolio)
    selection_stage.write(defn, w)
    w.document(runs.RUN_JSON, {"run_id": folder.name})
    return runs.Run(folder.name, folder)

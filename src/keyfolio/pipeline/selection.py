"""The selection stage: who is key, under the KAM capacity, with reasons
(:func:`keyfolio.selection.select`), and the files it leaves in the run folder.

Files: ``contributions.parquet`` (per account and criterion: raw, score, weight,
contribution; streamed one criterion at a time), ``selection.json`` (the selection summary,
its warnings and the overrides in force) and ``reconciliation.parquet`` (the reconciliation
sections stacked, ``section`` column). The portfolio itself is written by the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from keyfolio import runs
from keyfolio.errors import RuleError
from keyfolio.ids import isin
from keyfolio.overrides import Override
from keyfolio.policy import Policy
from keyfolio.scoring import CONTRIBUTION_COLUMNS, Scores
from keyfolio.selection import Definition, select
from keyfolio.selection.reconcile import TARGETS
from keyfolio.selection.rules import check_syntax

TRUE = frozenset({"1", "true", "yes", "y", "x", "target"})


def targets(portfolio: pd.DataFrame, declared: pd.DataFrame | None) -> pd.Series:
    """``is_target``: the account is a named key-account target (a prospect, a market leader
    in a new market), so the template's "no orders" rule does not keep it out. From an
    account attribute ``target`` (true / yes / 1) or the declared list ``targets``; a group
    is a target when one of its members is."""
    ids = portfolio["account_id"].astype(str)
    flag = pd.Series(False, index=portfolio.index)
    if "target" in portfolio.columns:
        raw = portfolio["target"]
        flag |= raw.astype(object).map(lambda v: str(v).strip().lower() in TRUE).astype(bool)
    if declared is not None and len(declared):
        named = declared.loc[declared["list_name"].astype(str) == TARGETS, "account_id"]
        flag |= isin(ids, named.astype(str))
    if "group_id" in portfolio.columns:
        heads = set(portfolio.loc[flag & portfolio["group_id"].notna(), "group_id"].astype(str))
        flag |= isin(ids, heads)
    return flag.rename("is_target")


def check_rules(policy: Policy, source: str) -> None:
    """Refuse a ``must`` / ``never`` rule that cannot be read (syntax, nesting, forbidden
    nodes) before the run spends time on the data; its columns are checked at selection."""
    sel = policy.selection
    for key, kind, rules in (("must", "must rule", sel.must), ("never", "never rule", sel.never)):
        for i, text in enumerate(rules):
            try:
                check_syntax(text, kind=kind, key=f"selection.{key}[{i}]")
            except RuleError as exc:
                raise RuleError(f"{source}: {exc}") from None


def key_accounts(
    portfolio: pd.DataFrame,
    scores: Scores,
    policy: Policy,
    *,
    declared: pd.DataFrame | None,
    previous: pd.DataFrame | None,
    overrides: Sequence[Override],
) -> Definition:
    """The definition applied to a scored, segmented portfolio."""
    return select(
        portfolio, scores, policy=policy, declared=declared, previous=previous,
        overrides=overrides,
    )  # fmt: skip


def write(defn: Definition, w: runs.RunWriter) -> None:
    """The stage's files (not the portfolio)."""
    empty = pd.DataFrame(columns=list(CONTRIBUTION_COLUMNS))
    w.frames(runs.CONTRIBUTIONS, defn.scores.contribution_tables(), empty,
             repeated=["group", "criterion", "source", "missing"])  # fmt: skip
    w.frame(runs.RECONCILIATION, defn.reconciliation.frame())
    w.document(runs.SELECTION, {**defn.selection, "warnings": defn.warnings})

"""The segments stage: size tier (before the value stage, whose KAM investment depends on
it) and the KAM matrix quadrant with the growth and strategic-value bands (after scoring).

Size: small / medium / large per the policy's ``[size]``.

* ``method = "pareto"``: accounts are sorted by the basis, largest first. An account is
  *large* if the accounts before it make less than ``cuts[0]`` of the total (so the large
  tier is the smallest set of accounts that together make the first 80%), *medium* if they
  make less than ``cuts[1]``, *small* otherwise. Accounts with a basis <= 0 are small.
* ``method = "thresholds"``: medium from ``thresholds[0]``, large from ``thresholds[1]``.

Tiers are computed over the selectable rows (stand-alone accounts and group roll-ups);
members of a group carry their group's tier. The matrix is
:func:`keyfolio.scoring.matrix.segment`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keyfolio.policy import MatrixPolicy, SizePolicy
from keyfolio.scoring.matrix import segment


def size_tiers(basis: pd.Series, policy: SizePolicy) -> pd.Series:
    """Tier per value of ``basis`` (one entry per account)."""
    values = basis.astype("float64").fillna(0.0).to_numpy()
    tiers = np.full(len(values), "small", dtype=object)
    if policy.method == "thresholds":
        assert policy.thresholds is not None
        lo, hi = policy.thresholds
        tiers[values >= lo] = "medium"
        tiers[values >= hi] = "large"
        return pd.Series(tiers, index=basis.index, dtype="string")
    positive = np.clip(values, 0, None)
    total = positive.sum()
    if total <= 0:
        return pd.Series(tiers, index=basis.index, dtype="string")
    order = np.lexsort((np.arange(len(values)), -values))
    before = (np.cumsum(positive[order]) - positive[order]) / total
    ranked = np.full(len(order), "small", dtype=object)
    ranked[before < policy.cuts[1]] = "medium"
    ranked[before < policy.cuts[0]] = "large"
    ranked[positive[order] <= 0] = "small"
    tiers[order] = ranked
    return pd.Series(tiers, index=basis.index, dtype="string")


def size(portfolio: pd.DataFrame, policy: SizePolicy) -> pd.DataFrame:
    """The columns ``size_tier`` and ``size_basis`` for the portfolio (same index)."""
    sel = portfolio["selectable"].astype(bool)
    basis = portfolio[policy.basis]
    tiers = pd.Series(pd.NA, index=portfolio.index, dtype="string")
    tiers[sel] = size_tiers(basis[sel], policy)
    members = portfolio["group_id"].notna() & ~sel
    if members.any():  # a member has its group's tier (looked up by id, not a Python dict)
        by_id = pd.Series(tiers[sel].to_numpy(), index=portfolio.loc[sel, "account_id"].to_numpy())
        tiers[members] = portfolio.loc[members, "group_id"].map(by_id)
    return pd.DataFrame(
        {"size_tier": tiers.fillna("small"), "size_basis": policy.basis}, index=portfolio.index
    )


def matrix(portfolio: pd.DataFrame, policy: MatrixPolicy) -> pd.DataFrame:
    """The columns quadrant, strategy, growth_band and strategic_band for a portfolio that
    has attractiveness and strength (same index)."""
    return segment(portfolio, policy)


LARGE_SHARE = 0.5


def size_warnings(portfolio: pd.DataFrame, tiers: pd.DataFrame) -> list[str]:
    """A warning when more than half of the accounts with revenue come out "large": the cuts
    or thresholds then do not separate the few big accounts from the rest."""
    sel = portfolio["selectable"].astype(bool) & (portfolio["revenue"].astype(float) > 0)
    if not sel.any():
        return []
    share = float((tiers.loc[sel, "size_tier"] == "large").mean())
    if share <= LARGE_SHARE:
        return []
    return [
        f"{share:.0%} of the accounts with revenue are 'large': the size tiers do not single out "
        "the big accounts; lower [size] cuts (pareto) or raise the thresholds"
    ]

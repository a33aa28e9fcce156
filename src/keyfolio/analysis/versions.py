"""Questions about policy versions: is this policy fit to save (its rules and the whole
definition on the latest run), and what does going from one version to another change
(the policy's keys, and the accounts it moves on the latest run, by what-if)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keyfolio import runs
from keyfolio.analysis.whatif import MAX_MOVES, base_for, what_if
from keyfolio.db import policies
from keyfolio.db.policies import PolicyChange, PolicyCheck
from keyfolio.pipeline import selection as selection_stage
from keyfolio.policy import Policy, parse_policy
from keyfolio.workspace import Workspace


def policy_check(ws: Workspace) -> PolicyCheck:
    """The check of a policy before it is saved: its rules as a run reads them and, when
    there is a run, the whole definition on the latest run's portfolio, so that a rule,
    criterion or objective naming an unknown column is refused now, not at the next run."""

    def check(policy: Policy) -> None:
        selection_stage.check_rules(policy, "keyfolio.toml")
        if runs.latest(ws) is not None:
            what_if(ws, policy)

    return check


@dataclass(frozen=True)
class MovedAccount:
    account_id: str
    name: str
    key_in_a: bool
    key_in_b: bool
    quadrant_a: str
    quadrant_b: str


@dataclass
class VersionDiff:
    """Two policy versions: what changed and, on the latest run, which accounts it moves."""

    a: int
    b: int
    changes: list[PolicyChange]
    run_id: str | None
    key_a: int
    key_b: int
    moved: list[MovedAccount]  # at most MAX_MOVES, those entering under b first
    n_moved: int


def diff_versions(ws: Workspace, a: int, b: int) -> VersionDiff:
    """Versions ``a`` and ``b`` compared: :func:`keyfolio.db.policies.diff_policies`, and
    the what-if of both on the latest run (no accounts when there is no run)."""
    pa = parse_policy(policies.version(ws, a).text, source=f"policy version {a}")
    pb = parse_policy(policies.version(ws, b).text, source=f"policy version {b}")
    changes = policies.diff_policies(pa, pb)
    if runs.latest(ws) is None:
        return VersionDiff(a, b, changes, None, 0, 0, [], 0)
    wa, wb = what_if(ws, pa), what_if(ws, pb)
    differ = wa.is_key != wb.is_key
    rows = np.flatnonzero(differ)
    rows = rows[np.argsort(~wb.is_key[rows], kind="stable")][:MAX_MOVES]
    names = base_for(ws).names
    moved = [
        MovedAccount(
            account_id=str(wb.account_id[i]),
            name="" if names[i] is None else str(names[i]),
            key_in_a=bool(wa.is_key[i]),
            key_in_b=bool(wb.is_key[i]),
            quadrant_a=str(wa.quadrant[i]),
            quadrant_b=str(wb.quadrant[i]),
        )  # fmt: skip
        for i in rows
    ]
    return VersionDiff(a, b, changes, wb.run_id, wa.key, wb.key, moved, int(differ.sum()))

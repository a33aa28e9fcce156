"""Policy criteria → 0–100 scores with per-criterion contributions.

Each criterion of ``[[attractiveness]]`` / ``[[strength]]`` reads one source per account:

* ``metric:<column>`` / ``attribute:<column>`` — a portfolio column;
* ``assessment:<criterion>`` — people's scores from the ``assessments`` table (mean over
  assessors; spread, count and disagreement are kept);
* ``feedback:<metric>`` — the customer's view from the ``feedback`` table (latest value).

The raw value is mapped to 0–100 by the criterion's scale (percentile, minmax, bands, map,
direct), optionally inverted (``100 - score``). Weights are normalised within the group, so
``attractiveness = sum(weight_i * score_i)`` is itself on 0–100 and the contributions
``weight_i * score_i`` add up to it exactly.

Missing values are never silently zero. The rule (criterion ``missing``, default ``neutral``
for metrics/attributes and ``[assessments] missing`` for assessments/feedback) says whether a
missing value scores 50 (neutral), the median score, or excludes the account from selection
("not assessed"; shown as 50 so that the matrix stays defined).

Sources a workspace lacks: value metrics (clv, roci, profit_potential, p_alive) before the
value stage has run, and assessment/feedback criteria with no data at all, are scored neutral
with a warning. Any other missing column is a :class:`~keyfolio.errors.PolicyError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from keyfolio.errors import PolicyError
from keyfolio.policy import Criterion, Policy
from keyfolio.scoring.scales import NEUTRAL, fit_scale, score_map
from keyfolio.scoring.sources import account_ids, assessment_source, column_source

GROUPS = ("attractiveness", "strength")
CONTRIBUTION_COLUMNS = (
    "account_id", "group", "criterion", "source", "raw", "raw_text",
    "score", "weight", "contribution", "missing", "n_assessors", "sd",
)  # fmt: skip


@dataclass
class CriterionScore:
    """One criterion scored for every portfolio row (arrays aligned with the portfolio)."""

    criterion: Criterion
    group: str
    weight: float  # normalised within the group
    raw: np.ndarray  # raw value per account (object: numbers, strings, bools or None;
    # a float array, NaN = missing, for float columns)
    score: np.ndarray  # 0-100 after the missing rule
    missing: np.ndarray  # bool: the raw value was missing
    rule: str  # the missing rule applied
    # Assessments only: the assessors' spread on the score scale (robustness) and counts.
    spread_lo: np.ndarray | None = None
    spread_hi: np.ndarray | None = None
    n_assessors: np.ndarray | None = None
    sd: np.ndarray | None = None

    @property
    def contribution(self) -> np.ndarray:
        return self.weight * self.score


@dataclass
class Scores:
    """The result of :func:`score_portfolio`."""

    account_id: np.ndarray
    criteria: list[CriterionScore]
    attractiveness: np.ndarray
    strength: np.ndarray
    not_assessed: np.ndarray  # bool: missing an 'exclude' criterion
    not_assessed_on: list[str]  # per account: the criteria missing (';'-joined), or ""
    assessors_disagree: np.ndarray
    uninformative: list[str] = field(default_factory=list)  # groups that hardly vary
    warnings: list[str] = field(default_factory=list)

    def group(self, name: str) -> list[CriterionScore]:
        return [c for c in self.criteria if c.group == name]

    def score_matrix(self, group: str) -> np.ndarray:
        """(n_accounts, n_criteria) scores of one group, in policy order."""
        cs = self.group(group)
        if not cs:
            return np.zeros((len(self.account_id), 0))
        return np.column_stack([c.score for c in cs])

    def weights(self, group: str) -> np.ndarray:
        return np.array([c.weight for c in self.group(group)], dtype=float)

    def contribution_tables(self) -> Iterator[pa.Table]:
        """The long contributions table one criterion at a time (see :meth:`contributions`),
        built in Arrow: lets a writer stream it instead of holding accounts x criteria rows at
        once (at 1M accounts, 18M rows; through pandas frames that took a minute)."""
        n = len(self.account_id)
        ids = pa.array(self.account_id, pa.large_string(), from_pandas=True)
        text = pa.large_string()
        for c in self.criteria:
            if c.raw.dtype.kind == "f":
                raw_num = np.asarray(c.raw, dtype=float)
            else:
                raw_num = pd.to_numeric(pd.Series(c.raw, dtype=object), errors="coerce").to_numpy(
                    dtype=float
                )
            yield pa.table(
                {
                    "account_id": ids,
                    "group": pa.repeat(pa.scalar(c.group, text), n),
                    "criterion": pa.repeat(pa.scalar(c.criterion.name, text), n),
                    "source": pa.repeat(pa.scalar(c.criterion.source, text), n),
                    "raw": _floats(raw_num),
                    "raw_text": pa.array(raw_texts(c.raw), text),
                    "score": _floats(c.score),
                    "weight": _floats(np.full(n, c.weight)),
                    "contribution": _floats(c.contribution),
                    "missing": pc.if_else(pa.array(np.asarray(c.missing, dtype=bool)),
                                          pa.scalar(c.rule, text), pa.scalar("", text)),
                    "n_assessors": pa.array(
                        c.n_assessors if c.n_assessors is not None else np.zeros(n), pa.int64()
                    ),
                    "sd": _floats(c.sd if c.sd is not None else np.full(n, np.nan)),
                }
            )  # fmt: skip

    def contributions(self) -> pd.DataFrame:
        """Long table: account_id, group, criterion, source, raw, raw_text, score, weight,
        contribution, missing, n_assessors, sd. Contributions sum to the group scores."""
        tables = list(self.contribution_tables())
        if not tables:
            return pd.DataFrame(columns=list(CONTRIBUTION_COLUMNS))
        return pa.concat_tables(tables).to_pandas()


def _floats(values: np.ndarray) -> pa.Array:
    """Floats as pandas writes them: NaN is null."""
    return pa.array(np.asarray(values, dtype=float), pa.float64(), from_pandas=True)


def raw_texts(raw: np.ndarray) -> list[str]:
    """Each raw value as shown (floats to six significant digits, missing as ""), formatted
    once per distinct value: a million accounts hold far fewer distinct values than rows
    (and a Python call per value took 36 s for 18 criteria)."""
    kinds = set() if raw.dtype.kind == "f" else {type(v) for v in raw.tolist()} - {type(None)}
    if raw.dtype.kind == "f" or kinds == {float}:
        # distinct bit patterns, so that -0.0 stays "-0" and 0.0 "0" (equal as numbers)
        bits = np.ascontiguousarray(pd.to_numeric(raw).astype(np.float64)).view(np.int64)
        uniq, inverse = np.unique(bits, return_inverse=True)
        shown = np.array(
            ["" if x != x else f"{x:.6g}" for x in uniq.view(np.float64).tolist()], dtype=object
        )
        return shown[inverse.reshape(-1)].tolist()
    if len(kinds) != 1:  # 1, 1.0 and True are one key to a hash: format them one by one
        return [_fmt_raw(v) for v in raw]
    codes, uniq_obj = pd.factorize(pd.Series(raw, dtype=object), use_na_sentinel=True)
    shown = np.array([_fmt_raw(v) for v in uniq_obj.tolist()] + [""], dtype=object)
    return shown[codes].tolist()  # code -1 (missing): the "" at the end


def _fmt_raw(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float | np.floating):
        return f"{float(v):.6g}"
    return str(v)


def _missing_rule(crit: Criterion, policy: Policy) -> str:
    if crit.missing is not None:
        return crit.missing
    if crit.kind in ("assessment", "feedback"):
        return policy.assessments.missing
    return "neutral"


def _score_one(
    portfolio: pd.DataFrame,
    crit: Criterion,
    group: str,
    weight: float,
    policy: Policy,
    assessments: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
    warnings: list[str],
    fit_on: np.ndarray,
    ids: pd.Index | None = None,
) -> CriterionScore:
    if crit.kind in ("metric", "attribute"):
        src = column_source(portfolio, crit)
    else:
        table = assessments if crit.kind == "assessment" else feedback
        src = assessment_source(portfolio, crit, table, crit.kind, ids)
    rule = _missing_rule(crit, policy)
    if src.absent:
        if rule == "exclude":
            warnings.append(
                f"criterion {crit.name}: {src.absent}; scored neutral "
                "(missing = 'exclude' would exclude every account)"
            )
        else:
            warnings.append(f"criterion {crit.name}: {src.absent}; scored neutral")
        n = len(portfolio)
        return CriterionScore(
            crit, group, weight, src.raw, np.full(n, NEUTRAL), np.ones(n, bool), "neutral"
        )
    lo_s = hi_s = None
    if crit.scale == "map":
        score = score_map(crit, src.raw, warnings)
    else:
        if src.numeric is None:
            raise PolicyError(
                f"criterion {crit.name!r}: scale {crit.scale!r} needs numbers but "
                f"{crit.source!r} holds categories; use scale = 'map'"
            )
        n_inf = int(np.isinf(src.numeric).sum())
        if n_inf:
            warnings.append(
                f"criterion {crit.name}: {n_inf:,} account(s) have an infinite value of "
                f"{crit.source}; scored at the end of the scale (check the data)"
            )
        # scales are fitted on the candidates (as size tiers and Pareto are) and applied to
        # every row: a group's members must not move a candidate's percentile
        tf = fit_scale(crit, src.numeric[fit_on], policy)
        score = tf(src.numeric).astype(float)
        if src.lo is not None and src.hi is not None:
            lo_s, hi_s = tf(src.lo), tf(src.hi)
    if crit.invert:
        score = 100.0 - score
        if lo_s is not None and hi_s is not None:
            lo_s, hi_s = 100.0 - hi_s, 100.0 - lo_s
    missing = np.isnan(score)
    if missing.any():
        fill = NEUTRAL
        known = ~missing & fit_on
        if rule == "median" and known.any():
            fill = float(np.median(score[known]))
        elif rule == "lowest":
            fill = 0.0
        score = np.where(missing, fill, score)
    if lo_s is not None and hi_s is not None:
        lo_s = np.where(np.isnan(lo_s), score, lo_s)
        hi_s = np.where(np.isnan(hi_s), score, hi_s)
    return CriterionScore(
        crit, group, weight, src.raw, score, missing, rule,
        spread_lo=lo_s, spread_hi=hi_s, n_assessors=src.count, sd=src.sd,
    )  # fmt: skip


def normalised_weights(criteria: Sequence[Criterion]) -> np.ndarray:
    w = np.array([c.weight for c in criteria], dtype=float)
    return w / w.sum() if len(w) else w


def score_portfolio(
    portfolio: pd.DataFrame,
    policy: Policy,
    *,
    assessments: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    fit_on: np.ndarray | None = None,
) -> Scores:
    """Score every portfolio row on the policy's criteria (see the module docstring).

    ``fit_on``: the rows the scales are fitted on (default: the ``selectable`` ones, i.e.
    the candidates; a group's members are scored on the candidates' scale)."""
    warnings: list[str] = []
    if fit_on is None:
        fit_on = (
            portfolio["selectable"].fillna(False).astype(bool).to_numpy()
            if "selectable" in portfolio.columns
            else np.ones(len(portfolio), dtype=bool)
        )
    if not fit_on.any():
        fit_on = np.ones(len(portfolio), dtype=bool)
    names = [c.name for c in (*policy.attractiveness, *policy.strength)]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise PolicyError(f"criterion names must be unique; repeated: {', '.join(dup)}")
    n = len(portfolio)
    scored: list[CriterionScore] = []
    totals = {}
    ids = pd.Index(account_ids(portfolio))  # its hash table is made once, for every criterion
    for group in GROUPS:
        crits: list[Criterion] = list(getattr(policy, group))
        weights = normalised_weights(crits)
        cs = [
            _score_one(
                portfolio,
                c,
                group,
                float(w),
                policy,
                assessments,
                feedback,
                warnings,
                fit_on,
                ids,
            )  # fmt: skip
            for c, w in zip(crits, weights, strict=True)
        ]
        if not cs:
            warnings.append(f"no [[{group}]] criteria in the policy; {group} is neutral (50)")
            totals[group] = np.full(n, NEUTRAL)
        else:
            totals[group] = np.sum([c.contribution for c in cs], axis=0)
        scored.extend(cs)
    excl = [c for c in scored if c.rule == "exclude"]
    not_assessed = np.zeros(n, dtype=bool)
    on: dict[int, list[str]] = {}  # only the accounts missing one: not a list per account
    for c in excl:
        not_assessed |= c.missing
        for i in np.flatnonzero(c.missing).tolist():
            on.setdefault(i, []).append(c.criterion.name)
    flat = [g for g in GROUPS if _uninformative(totals[g][fit_on])]
    for g in flat:
        other = "attractiveness" if g == "strength" else "strength"
        warnings.append(
            f"{g} has no informative data: every account scores about "
            f"{float(np.median(totals[g][fit_on])):.1f}, so the KAM matrix has one axis "
            f"({other}); give {g} criteria that vary (see the template)"
        )
    sd_limit = policy.assessments.disagreement_sd
    disagree = np.zeros(n, dtype=bool)
    for c in scored:
        if c.sd is not None and c.n_assessors is not None:
            disagree |= (c.n_assessors >= 2) & (np.nan_to_num(c.sd) > sd_limit)
    return Scores(
        account_id=account_ids(portfolio).to_numpy(dtype=object),
        criteria=scored,
        attractiveness=totals["attractiveness"],
        strength=totals["strength"],
        not_assessed=not_assessed,
        not_assessed_on=[";".join(on[i]) if i in on else "" for i in range(n)],
        assessors_disagree=disagree,
        uninformative=flat,
        warnings=warnings,
    )


UNINFORMATIVE_RANGE = 1.0  # points: the middle 90% of the candidates within this span


def _uninformative(total: np.ndarray) -> bool:
    """A score that hardly varies between the candidates (constant, or all but a few at the
    same value): it cannot order them."""
    if len(total) < 2:
        return False
    lo, hi = np.percentile(total, [5, 95])
    return bool(hi - lo < UNINFORMATIVE_RANGE)

"""What if the definition were this policy? Re-score and re-select on the latest run's
portfolio with an edited policy, without writing anything.

The what-if answers what the *next* run would decide with the edited policy on the same
facts: the latest run's portfolio (economics, size tiers, value) is scored and selected
again, with that run's key list as the hysteresis baseline (the next run's ``previous``),
the workspace's assessments, feedback and overrides, and no robustness draws. The size,
value, cost-to-serve and growth settings belong to the stages before the definition: the
what-if keeps the run's figures and says so when the edited policy changes them.

A what-if never writes: it is not a run (``runs.run_ids`` is unchanged) and never becomes
the baseline of the next run's hysteresis.

Speed: :class:`WhatIfBase` holds what does not change between edits (the portfolio read
once, the inputs, the criterion scores fitted so far), so a weight change only re-weights
the cached criterion scores and re-selects. The selection is the selection's own steps
(:mod:`keyfolio.selection.select` and :mod:`keyfolio.selection.decide`); the reason text is
computed only for the accounts that move (the run computes it for every account, which is
most of its time at 100k accounts). :func:`what_if_definition` is the plain path through
:func:`keyfolio.pipeline.define`, which the tests compare it with.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from keyfolio import db, runs
from keyfolio.analysis.whatif_steps import (
    Matched,
    arrow,
    band_codes,
    combine_scores,
    quadrant_codes,
    run_rule,
)
from keyfolio.errors import PolicyError
from keyfolio.overrides import Override
from keyfolio.pipeline import PREVIOUS_COLUMNS, DefinitionInputs, define
from keyfolio.pipeline import selection as selection_stage
from keyfolio.policy import Criterion, Policy, parse_policy, with_values
from keyfolio.scoring import (
    GROUPS,
    NEUTRAL,
    QUADRANTS,
    STRATEGY,
    CriterionScore,
    Scores,
    normalised_weights,
)
from keyfolio.scoring.matrix import _GROWTH_NOTE
from keyfolio.scoring.scores import _missing_rule, _score_one
from keyfolio.scoring.sources import account_ids
from keyfolio.selection import Definition
from keyfolio.selection import reasons as reasons_mod
from keyfolio.selection.decide import Inputs, Outcome, capacity_report, decide
from keyfolio.selection.rules import _where, parse_rule, rule_columns
from keyfolio.selection.select import (
    _objective,
    _overrides,
    _prev_key,
    _share_warning,
    limited_by,
)
from keyfolio.workspace import Workspace

# the columns the definition adds to the portfolio (dropped to get back what it started from)
DEFINITION_COLUMNS = (
    "is_target", "attractiveness", "strength", "not_assessed", "assessors_disagree",
    "quadrant", "strategy", "growth_band", "strategic_band", "hours_needed", "is_key",
    "decision", "reasons", "flip", "rules", "override", "was_key", "p_key", "contested",
)  # fmt: skip
# policy sections used by the stages before the definition: the what-if keeps the run's
EARLIER_STAGES = ("currency", "horizon_years", "discount_rate", "size", "cost_to_serve",
                  "growth", "value")  # fmt: skip
CHART_COLUMNS = ("account_id", "name", "strength", "attractiveness", "revenue", "decision",
                 "size_tier", "quadrant", "is_key")  # fmt: skip
# what the definition adds before selection (rules may name these)
# the columns scoring and segments add (is_target is the base's: it does not depend on the
# policy); rules may name them
DEFINED = ("attractiveness", "strength", "not_assessed", "assessors_disagree", "quadrant",
           "strategy", "growth_band", "strategic_band")  # fmt: skip
CHART_SAMPLE = 1500  # accounts besides the key ones in the chart (a fixed random sample)
BANDS = ("low", "medium", "high", "unknown")
MAX_MOVES = 500  # accounts entering or leaving listed with their reasons (all are counted)


@dataclass(frozen=True)
class Move:
    """An account that would enter or leave the key list, with the selection's reason."""

    account_id: str
    name: str
    direction: str  # "enters" or "leaves"
    decision: str  # the what-if's decision (selected, deselected, overridden, ...)
    quadrant_before: str
    quadrant: str
    attractiveness_before: float
    attractiveness: float
    reason: str  # why, under the edited policy
    reason_before: str  # the run's reason


@dataclass
class WhatIf:
    """The edited policy's definition on the latest run's facts, against that run."""

    run_id: str
    policy_sha256: str
    candidates: int
    key_before: int
    key: int
    quadrants_before: dict[str, int]  # candidates per KAM quadrant
    quadrants: dict[str, int]
    key_by_quadrant: dict[str, int]
    key_by_tier_before: dict[str, int]
    key_by_tier: dict[str, int]
    entering: list[Move]
    leaving: list[Move]
    n_entering: int
    n_leaving: int
    capacity: dict[str, dict[str, Any]]  # per constraint: used, available, slack, binding
    limited_by: str
    bar: float | None
    warnings: list[str]
    # for the matrix chart: the key accounts (now or before) and a fixed sample of the other
    # candidates, CHART_COLUMNS after the edit
    points: pd.DataFrame = field(repr=False)
    # per account of the run's portfolio (in its order): id, key or not, quadrant
    account_id: np.ndarray = field(repr=False)
    is_key: np.ndarray = field(repr=False)
    quadrant: pd.Categorical = field(repr=False)


@dataclass
class _Selected:
    defn: dict[str, Any]  # the definition's columns (attractiveness, quadrant, ...) by name
    inputs: Inputs
    outcome: Outcome
    context: reasons_mod.Context
    capacity: dict[str, dict[str, Any]]
    warnings: list[str]


def what_if_policy(policy: Policy) -> Policy:
    """The policy as the what-if applies it: no robustness draws."""
    return with_values(policy, "robustness", {"draws": 0}, source="what-if")


class WhatIfBase:
    """What does not change between what-ifs on one run: its portfolio (without the
    definition's columns), the inputs, the previous key list, the overrides applied, and
    the criterion scores and rule results computed so far."""

    def __init__(self, run: runs.Run, inputs: DefinitionInputs) -> None:
        pf = run.portfolio()
        self.run = run
        try:
            text = str(run.meta().get("policy", {}).get("text", ""))
            self.run_policy: Policy | None = parse_policy(text, source=f"run {run.id}")
        except PolicyError:
            self.run_policy = None
        self.before = pf[[c for c in (*CHART_COLUMNS, "reasons") if c in pf.columns]].copy()
        self.before["is_key"] = self.before["is_key"].fillna(False).astype(bool)
        base = pf.drop(columns=[c for c in DEFINITION_COLUMNS if c in pf.columns])
        base = base.assign(is_target=selection_stage.targets(base, inputs.declared))
        sel = base["selectable"] if "selectable" in base.columns else pd.Series(True, base.index)
        base = base.assign(selectable=sel.fillna(False).astype(bool))
        self.portfolio = base.reset_index(drop=True)
        self.before = self.before.reset_index(drop=True)
        self.quadrant_before = pd.Categorical(self.before["quadrant"], categories=QUADRANTS)
        self.previous = pf[[c for c in PREVIOUS_COLUMNS if c in pf.columns]]
        self.inputs = replace(inputs, previous=self.previous)
        self.columns = [*map(str, base.columns), *DEFINED]
        self.fit_on = _fit_on(base)
        self.account_id = account_ids(self.portfolio).to_numpy(dtype=object)
        # fixed-width text: the selection sorts ids to break ties (from objects: 35 ms a time)
        self.account_text = self.account_id.astype(str)
        self.selectable = self.portfolio["selectable"].to_numpy(dtype=bool)
        self.has_orders = (
            self.portfolio["has_orders"].fillna(False).astype(bool).to_numpy()
            if "has_orders" in base.columns
            else np.ones(len(base), dtype=bool)
        )
        self.group_of = _group_of(self.portfolio)
        names = self.portfolio["name"] if "name" in base.columns else self.portfolio["account_id"]
        self.names = names.astype(object).to_numpy()
        others = np.flatnonzero(self.selectable)
        pick = np.random.default_rng(0).permutation(len(others))[:CHART_SAMPLE]
        self.sample = np.zeros(len(base), dtype=bool)
        self.sample[others[pick]] = True
        revenue = self.portfolio["revenue"] if "revenue" in base.columns else None
        self.revenue = np.full(len(base), np.nan) if revenue is None else revenue.to_numpy(float)
        self.prev_key = _prev_key(self.portfolio, self.previous)
        self.override_warnings: list[str] = []
        self.override_in, self.override_out, self.override_text, _ = _overrides(
            self.portfolio, inputs.overrides, self.selectable, self.override_warnings
        )
        tier = self.portfolio["size_tier"] if "size_tier" in base.columns else None
        self.tier = pd.Categorical(tier if tier is not None else [None] * len(base))
        self._scores: dict[str, tuple[CriterionScore, list[str]]] = {}
        self._rules: dict[str, np.ndarray] = {}  # rules on the run's own columns
        self._columns: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()  # the caches and the connection: one user at a time
        self._con = duckdb.connect()

    # -- the plain path -----------------------------------------------------------------
    def definition(self, policy: Policy) -> Definition:
        """The definition exactly as :func:`keyfolio.pipeline.define` makes it (all reasons,
        reconciliation; slower): what the next run would write, robustness aside."""
        return define(self.portfolio, what_if_policy(policy), self.inputs)

    # -- the fast path ------------------------------------------------------------------
    def evaluate(self, policy: Policy) -> WhatIf:
        """The edited policy's key list, matrix and moves against the run."""
        policy = what_if_policy(policy)
        selection_stage.check_rules(policy, "the edited policy")
        scores = self.scores(policy)
        defn = self.segments(scores, policy)
        return self._compare(policy, _select(self, defn, scores, policy))

    def scores(self, policy: Policy) -> Scores:
        """:func:`keyfolio.scoring.score_portfolio` from the cached criterion scores: a
        criterion is scored once per base, whatever its weight."""
        names = [c.name for c in (*policy.attractiveness, *policy.strength)]
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise PolicyError(f"criterion names must be unique; repeated: {', '.join(dup)}")
        n = len(self.portfolio)
        warnings: list[str] = []
        scored: list[CriterionScore] = []
        totals: dict[str, np.ndarray] = {}
        for group in GROUPS:
            crits: list[Criterion] = list(getattr(policy, group))
            weights = normalised_weights(crits)
            cs = [self._criterion(c, group, float(w), policy, warnings)
                  for c, w in zip(crits, weights, strict=True)]  # fmt: skip
            if not cs:
                warnings.append(f"no [[{group}]] criteria in the policy; {group} is neutral (50)")
                totals[group] = np.full(n, NEUTRAL)
            else:
                totals[group] = np.sum([c.contribution for c in cs], axis=0)
            scored.extend(cs)
        return combine_scores(self.account_id, scored, totals, self.fit_on, policy, warnings)

    def _criterion(
        self, crit: Criterion, group: str, weight: float, policy: Policy, warnings: list[str]
    ) -> CriterionScore:
        key = _criterion_key(crit, group, policy)
        with self._lock:
            hit = self._scores.get(key)
        if hit is None:
            own: list[str] = []
            cs = _score_one(
                self.portfolio, crit, group, 1.0, policy, self.inputs.assessments,
                self.inputs.feedback, own, self.fit_on,
            )  # fmt: skip
            hit = (cs, own)
            with self._lock:
                self._scores[key] = hit
        warnings.extend(hit[1])
        return replace(hit[0], criterion=crit, weight=weight)

    def segments(self, scores: Scores, policy: Policy) -> dict[str, Any]:
        """The definition's columns before selection, as
        :func:`keyfolio.scoring.segment` makes them (quadrant, strategy, bands; categorical)."""
        m = policy.matrix
        if m.growth_metric not in self.portfolio.columns:
            raise PolicyError(
                f"[matrix] growth_metric: no portfolio column {m.growth_metric!r}; available: "
                + ", ".join(sorted(self.columns))
            )
        g = band_codes(self._numeric(m.growth_metric), m.growth_cuts)
        a, st = scores.attractiveness, scores.strength
        q = quadrant_codes(a >= m.attractiveness_cut, st >= m.strength_cut)
        texts = [STRATEGY[x] + _GROWTH_NOTE[y] for x in QUADRANTS for y in BANDS]
        unique = list(dict.fromkeys(texts))
        strategy = np.array([unique.index(t) for t in texts])[q * len(BANDS) + g]
        return {
            "is_target": self.portfolio["is_target"], "attractiveness": scores.attractiveness,
            "strength": scores.strength, "not_assessed": scores.not_assessed,
            "assessors_disagree": scores.assessors_disagree,
            "quadrant": pd.Categorical.from_codes(q, categories=QUADRANTS),
            "strategy": pd.Categorical.from_codes(strategy, categories=unique),
            "growth_band": pd.Categorical.from_codes(g, categories=BANDS),
            "strategic_band": pd.Categorical.from_codes(
                band_codes(a, m.strategic_cuts), categories=BANDS
            ),
        }  # fmt: skip

    def rules(
        self, defn: dict[str, Any], texts: Sequence[str], kind: str, key: str
    ) -> tuple[np.ndarray, list[list[str]]]:
        """:func:`keyfolio.selection.rules.evaluate_rules` (the same checks and SQL); a rule
        on the run's own columns is evaluated once per base."""
        n = len(self.portfolio)
        any_match = np.zeros(n, dtype=bool)
        masks: list[np.ndarray] = []
        for i, text in enumerate(texts):
            where = _where(text, kind, f"{key}[{i}]")
            tree = parse_rule(text, self.columns, kind=kind, key=f"{key}[{i}]")
            cols = rule_columns(tree)
            own = not set(cols) & set(DEFINED)
            with self._lock:
                mask = self._rules.get(text) if own else None
            if mask is None:
                frame = pa.table(
                    {**{c: arrow(defn[c]) if c in defn else self.arrow(c) for c in cols},
                     "__row": pa.array(np.arange(n, dtype=np.int64))}
                )  # fmt: skip
                mask = np.zeros(n, dtype=bool)
                with self._lock:
                    mask[run_rule(self._con, frame, tree, where)] = True
                if own:
                    with self._lock:
                        self._rules[text] = mask
            any_match |= mask
            masks.append(mask)
        return any_match, cast(list[list[str]], Matched(list(texts), masks))

    def _numeric(self, column: str) -> np.ndarray:
        """A base column as floats (NaN: missing or not a number), kept."""
        with self._lock:
            hit = self._columns.get(("numeric", column))
        if hit is None:
            hit = pd.to_numeric(self.portfolio[column], errors="coerce").to_numpy(dtype=float)
            with self._lock:
                self._columns[("numeric", column)] = hit
        return hit

    def arrow(self, column: str) -> pa.Array:
        """A base column as Arrow (what the rules scan), kept."""
        with self._lock:
            hit = self._columns.get(("arrow", column))
        if hit is None:
            hit = pa.Array.from_pandas(self.portfolio[column])
            with self._lock:
                self._columns[("arrow", column)] = hit
        return hit

    def hours(self, policy: Policy, warnings: list[str]) -> np.ndarray:
        """The KAM hours each account needs (as the selection's ``_prepare``)."""
        hours: dict[str, float] = {str(k): v for k, v in policy.selection.hours.items()}
        default = hours.get("small", 0.0)
        per = np.array([hours.get(str(c), np.nan) for c in self.tier.categories] + [np.nan])
        needed = per[np.where(self.tier.codes >= 0, self.tier.codes, len(per) - 1)]
        unknown = self.selectable & np.isnan(needed)
        if unknown.any():
            warnings.append(
                f"{int(unknown.sum())} account(s) without a size tier in [selection] hours; "
                "counted as 'small'"
            )
        return np.where(np.isnan(needed), default, needed)

    def _compare(self, policy: Policy, s: _Selected) -> WhatIf:
        before = self.before
        was = before["is_key"].to_numpy(dtype=bool)
        now = s.outcome.is_key
        cand = self.selectable
        enter, leave = np.flatnonzero(now & ~was), np.flatnonzero(was & ~now)
        q = s.defn["quadrant"]
        return WhatIf(
            run_id=self.run.id, policy_sha256=policy.sha256, candidates=int(cand.sum()),
            key_before=int(was.sum()), key=int(now.sum()),
            quadrants_before=_counts(self.quadrant_before, cand), quadrants=_counts(q, cand),
            key_by_quadrant=_counts(q, now), key_by_tier_before=_counts(self.tier, was),
            key_by_tier=_counts(self.tier, now),
            entering=self._moves(s, enter, "enters"), leaving=self._moves(s, leave, "leaves"),
            n_entering=len(enter), n_leaving=len(leave), capacity=s.capacity,
            limited_by=limited_by(s.inputs, s.outcome, s.capacity),
            bar=s.outcome.bar, warnings=[*self._earlier(policy), *s.warnings],
            points=self._points(s, cand & (self.sample | was | now)), is_key=now,
            account_id=self.account_id, quadrant=q,
        )  # fmt: skip

    def _points(self, s: _Selected, rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "account_id": self.account_id[rows],
                "name": self.names[rows],
                "strength": s.defn["strength"][rows],
                "attractiveness": s.defn["attractiveness"][rows],
                "revenue": self.revenue[rows],
                "decision": s.outcome.decision[rows],
                "size_tier": self.tier[rows],
                "quadrant": s.defn["quadrant"][rows],
                "is_key": s.outcome.is_key[rows],
            }
        ).reset_index(drop=True)

    def _moves(self, s: _Selected, rows: np.ndarray, direction: str) -> list[Move]:
        """The first :data:`MAX_MOVES` accounts of ``rows``, best objective first."""
        objective = s.inputs.objective[rows]
        rows = rows[np.argsort(-np.nan_to_num(objective, nan=-np.inf), kind="stable")]
        rows = rows[:MAX_MOVES]
        texts = _reasons(s, rows)
        before = self.before
        return [
            Move(
                account_id=str(self.account_id[i]),
                name=_text(self.names[i]),
                direction=direction,
                decision=str(s.outcome.decision[i]),
                quadrant_before=_text(before["quadrant"].iat[i]),
                quadrant=_text(s.defn["quadrant"][i]),
                attractiveness_before=float(before["attractiveness"].iat[i]),
                attractiveness=float(s.defn["attractiveness"][i]),
                reason=text,
                reason_before=_text(before["reasons"].iat[i]) if "reasons" in before else "",
            )  # fmt: skip
            for i, text in zip(rows, texts, strict=True)
        ]

    def _earlier(self, policy: Policy) -> list[str]:
        """A note when the edit changes settings of the stages before the definition."""
        ran = self.run_policy
        if ran is None:
            return []
        changed = [k for k in EARLIER_STAGES if getattr(ran, k) != getattr(policy, k)]
        if not changed:
            return []
        return [
            f"{', '.join(changed)} changed: these take effect at the next run; the what-if "
            f"keeps run {self.run.id}'s size tiers, values and cost to serve"
        ]


# -- a cache of bases, per run and inputs ---------------------------------------------------
_BASES: OrderedDict[tuple[Any, ...], WhatIfBase] = OrderedDict()
_BASES_LOCK = threading.Lock()
MAX_BASES = 2  # each holds a run's portfolio (~100 MB at 100k accounts)


def base_for(ws: Workspace) -> WhatIfBase:
    """The base of the workspace's latest run with its current inputs (kept while the run,
    the assessment/feedback/declared tables and the overrides stay the same)."""
    run = runs.get(ws)
    overrides = tuple(db.list_overrides(ws))
    key = (str(ws.root), run.id, _tables_stamp(ws), overrides)
    with _BASES_LOCK:
        base = _BASES.get(key)
        if base is not None:
            _BASES.move_to_end(key)
            return base
    inputs = _inputs(ws, overrides)
    base = WhatIfBase(run, inputs)
    with _BASES_LOCK:
        _BASES[key] = base
        while len(_BASES) > MAX_BASES:
            _BASES.popitem(last=False)
    return base


def what_if(ws: Workspace, policy: Policy) -> WhatIf:
    """The edited ``policy`` on the workspace's latest run (see the module docstring)."""
    return base_for(ws).evaluate(policy)


def what_if_definition(run: runs.Run, policy: Policy, inputs: DefinitionInputs) -> Definition:
    """The plain path: :func:`keyfolio.pipeline.define` on ``run``'s portfolio with its key
    list as the hysteresis baseline."""
    return WhatIfBase(run, inputs).definition(policy)


def warm(ws: Workspace, policy: Policy) -> None:
    """Build the latest run's base and score ``policy``'s criteria in the background, so the
    editor's first what-if answers as fast as the next ones. A failure here is only a cold
    cache: the what-if itself reports it."""

    def work() -> None:
        try:
            what_if(ws, policy)
        except Exception:  # noqa: BLE001, S110 - see the docstring
            pass

    threading.Thread(target=work, name="keyfolio-whatif-warm", daemon=True).start()


def clear_cache() -> None:
    with _BASES_LOCK:
        _BASES.clear()


def _inputs(ws: Workspace, overrides: Sequence[Override]) -> DefinitionInputs:
    inputs = DefinitionInputs.of(ws, None)
    return replace(inputs, overrides=overrides)


def _tables_stamp(ws: Workspace) -> tuple[Any, ...]:
    out: list[Any] = []
    for table in ("assessments", "feedback", "declared"):
        path = ws.table_path(table)
        st = path.stat() if path.is_file() else None
        out.append((table, st.st_mtime_ns, st.st_size) if st else (table, None))
    return tuple(out)


# -- helpers --------------------------------------------------------------------------------
def _fit_on(pf: pd.DataFrame) -> np.ndarray:
    if "selectable" not in pf.columns:
        return np.ones(len(pf), dtype=bool)
    fit_on = pf["selectable"].fillna(False).astype(bool).to_numpy()
    return fit_on if fit_on.any() else np.ones(len(pf), dtype=bool)


def _group_of(pf: pd.DataFrame) -> list[str]:
    if "group_id" not in pf.columns:
        return [""] * len(pf)
    return pf["group_id"].astype(object).where(pf["group_id"].notna(), "").astype(str).tolist()


def _criterion_key(crit: Criterion, group: str, policy: Policy) -> str:
    """What a criterion's 0-100 scores depend on: all of it but the weight (and the
    description), its missing rule and, for assessments on the direct scale, their scale."""
    spec = crit.model_dump(mode="json", exclude={"weight", "description"})
    return repr((group, sorted(spec.items()), _missing_rule(crit, policy),
                 policy.assessments.scale))  # fmt: skip


def _select(base: WhatIfBase, defn: dict[str, Any], scores: Scores, policy: Policy) -> _Selected:
    """:func:`keyfolio.selection.select` up to the decisions, on ``base``'s portfolio with
    the definition's columns ``defn`` (no reasons, robustness or reconciliation:
    :func:`_reasons` gives the reasons of the accounts asked for)."""
    sel = policy.selection
    warnings = [*scores.warnings, *base.override_warnings]
    objective = _objective_of(base, defn, sel.objective)
    must, must_rules = base.rules(defn, sel.must, "must rule", "selection.must")
    never, never_rules = base.rules(defn, sel.never, "never rule", "selection.never")
    group = None
    if sel.capacity_by is not None:
        if sel.capacity_by not in base.portfolio.columns:
            raise PolicyError(f"[selection] capacity_by: no portfolio column {sel.capacity_by!r}")
        col = base.portfolio[sel.capacity_by]
        group = col.astype(object).where(col.notna(), "").astype(str).to_numpy(dtype=object)
    selectable = base.selectable
    attractiveness = defn["attractiveness"]
    floor = sel.min_attractiveness
    inp = Inputs(
        account_id=base.account_text, objective=objective, hours=base.hours(policy, warnings),
        group=group, selectable=selectable, must=must & selectable, never=never & selectable,
        not_assessed=scores.not_assessed, override_in=base.override_in,
        override_out=base.override_out, prev_key=base.prev_key,
        below_floor=selectable & (attractiveness < floor) if floor is not None else None,
    )  # fmt: skip
    out = decide(inp, sel)
    warnings.extend(out.warnings)
    cap = capacity_report(inp, out, sel)
    slack, count_full = reasons_mod.slack_summary(cap)
    ctx = reasons_mod.Context(
        objective=sel.objective, keep_margin=sel.keep_margin, must_rules=must_rules,
        never_rules=never_rules, quadrant=cast(np.ndarray, defn["quadrant"]),  # indexed per row
        not_assessed_on=scores.not_assessed_on, override_text=base.override_text,
        group_of=base.group_of, slack_hours=slack, count_full=count_full,
        attractiveness=attractiveness, floor=floor,
    )  # fmt: skip
    share = pd.DataFrame({"selectable": selectable, "has_orders": base.has_orders})
    warnings.extend(_share_warning(share, out))
    return _Selected(defn, inp, out, ctx, cap, warnings)


def _objective_of(base: WhatIfBase, defn: dict[str, Any], name: str) -> np.ndarray:
    if name in defn and name in ("attractiveness", "strength"):
        return np.asarray(defn[name], dtype=float)
    frame = base.portfolio
    if name in defn:
        frame = pd.DataFrame({name: defn[name]})
    return _objective(frame, name)


def _reasons(s: _Selected, rows: np.ndarray) -> list[str]:
    """The selection's reason text (:mod:`keyfolio.selection.reasons`) of ``rows``."""
    v = s.inputs.objective.astype(float)
    out: list[str] = []
    for i in rows:
        if s.outcome.is_key[i]:
            text, _ = reasons_mod._reason_key(int(i), v, s.inputs, s.outcome, s.context)
        else:
            text, _ = reasons_mod._reason_not_key(int(i), v, s.inputs, s.outcome, s.context)
        out.append(text)
    return out


def _counts(values: Any, mask: np.ndarray) -> dict[str, int]:
    """Accounts per value among ``mask`` (categories in their order, only those present)."""
    cat = values if isinstance(values, pd.Categorical) else pd.Categorical(np.asarray(values))
    counts = np.bincount(cat.codes[mask & (cat.codes >= 0)], minlength=len(cat.categories))
    return {str(c): int(k) for c, k in zip(cat.categories, counts, strict=True) if k}


def _text(v: object) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)

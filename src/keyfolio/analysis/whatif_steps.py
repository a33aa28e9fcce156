"""The steps of the what-if that work on arrays (:mod:`keyfolio.analysis.whatif`): the end of
:func:`keyfolio.scoring.score_portfolio` on cached criterion scores, the matrix quadrant and
bands as category codes, and the selection rules run on Arrow columns. Each does what the
pipeline's function does (the what-if's tests compare the results with
:func:`keyfolio.pipeline.define`), on arrays that need no per-row Python.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from sqlglot import exp

from keyfolio.errors import RuleError
from keyfolio.policy import Policy
from keyfolio.scoring import GROUPS, CriterionScore, Scores
from keyfolio.scoring.scores import _uninformative


def combine_scores(
    account_id: np.ndarray, scored: list[CriterionScore], totals: dict[str, np.ndarray],
    fit_on: np.ndarray, policy: Policy, warnings: list[str],
) -> Scores:  # fmt: skip
    """The end of :func:`keyfolio.scoring.score_portfolio`: not assessed, uninformative
    groups, assessors who disagree."""
    n = len(account_id)
    not_assessed = np.zeros(n, dtype=bool)
    on = np.full(n, "", dtype=object)  # the criteria missing, ";"-joined
    for c in (c for c in scored if c.rule == "exclude"):
        not_assessed |= c.missing
        idx = np.flatnonzero(c.missing)
        on[idx] = [f"{t};{c.criterion.name}" if t else c.criterion.name for t in on[idx]]
    flat = [g for g in GROUPS if _uninformative(totals[g][fit_on])]
    for g in flat:
        other = "attractiveness" if g == "strength" else "strength"
        warnings.append(
            f"{g} has no informative data: every account scores about "
            f"{float(np.median(totals[g][fit_on])):.1f}, so the KAM matrix has one axis "
            f"({other}); give {g} criteria that vary (see the template)"
        )
    disagree = np.zeros(n, dtype=bool)
    for c in scored:
        if c.sd is not None and c.n_assessors is not None:
            sd = np.nan_to_num(c.sd)
            disagree |= (c.n_assessors >= 2) & (sd > policy.assessments.disagreement_sd)
    return Scores(
        account_id=account_id, criteria=scored, attractiveness=totals["attractiveness"],
        strength=totals["strength"], not_assessed=not_assessed,
        not_assessed_on=on.tolist(), assessors_disagree=disagree,
        uninformative=flat, warnings=warnings,
    )  # fmt: skip


class Matched:
    """Per account, the rule texts that matched (what evaluate_rules lists for every row),
    built only for the rows whose reasons are asked for."""

    def __init__(self, texts: list[str], rows: list[np.ndarray]) -> None:
        self.texts, self.masks = texts, rows

    def __getitem__(self, i: int) -> list[str]:
        return [t for t, m in zip(self.texts, self.masks, strict=True) if m[i]]


def arrow(values: Any) -> pa.Array:
    """A definition column as Arrow: categories as a dictionary, NaN as null (as DuckDB
    reads a pandas float column)."""
    if isinstance(values, pd.Categorical):
        return pa.DictionaryArray.from_arrays(
            pa.array(values.codes, mask=values.codes < 0), pa.array(list(values.categories))
        )
    return pa.Array.from_pandas(np.asarray(values))


def run_rule(
    con: duckdb.DuckDBPyConnection, frame: pa.Table, tree: exp.Expression, where: str
) -> np.ndarray:
    """The rows of ``frame`` where the rule holds (as :mod:`keyfolio.selection.rules` runs it:
    NULL is false)."""
    try:
        con.register("portfolio", frame)
        query = exp.select(exp.column("__row", quoted=True)).from_(exp.to_identifier("portfolio"))
        query = query.where(exp.func("coalesce", tree.copy(), exp.false()))
        rows = con.execute(query.sql(dialect="duckdb")).fetchnumpy()["__row"]
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise RuleError(f"{where}: cannot be evaluated ({first})") from None
    finally:
        con.unregister("portfolio")
    return np.asarray(rows, dtype=np.int64)


def quadrant_codes(high_a: np.ndarray, high_s: np.ndarray) -> np.ndarray:
    """:func:`keyfolio.scoring.matrix.quadrant` as codes into QUADRANTS (strategic, star,
    status, streamline): high is at or above the cut."""
    return np.select([high_a & high_s, high_a & ~high_s, ~high_a & high_s], [0, 1, 2], 3)


def band_codes(values: np.ndarray, cuts: tuple[float, float]) -> np.ndarray:
    """:func:`keyfolio.scoring.matrix.band` as codes into BANDS (low, medium, high,
    unknown for a missing value)."""
    v = np.asarray(values, dtype=float)
    return np.select([np.isnan(v), v >= cuts[1], v >= cuts[0]], [3, 2, 1], 0)

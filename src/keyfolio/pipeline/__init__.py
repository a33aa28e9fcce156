"""``keyfolio run``: the whole pipeline, one plain function per stage, in this order::

    facts        order lines -> per-account facts          (the engine: the only pass over lines)
    value lines  the RFM summary per account               (the same engine, still open)
    economics    margin, cost-to-serve, growth, Pareto     (one row per account from here on)
    segments     size tier
    value        CLV, p_alive, ROCI; return on customer since the previous run
    scoring      attractiveness and strength, per-criterion contributions
    segments     KAM matrix quadrant, growth and strategic-value bands
    selection    rules, optimum under capacity, hysteresis, reasons, robustness, reconciliation

Each stage takes typed inputs and returns a typed result; the columns a stage adds to the
portfolio are joined here (:func:`_join`), so the sequence below is the whole story. A
numpy/pandas ``RuntimeWarning`` raised inside a stage (an overflow, an invalid value) never
reaches the terminal as numpy's text: it becomes a run warning naming the stage
(:meth:`_StageLog.stage`). The
result is a new ``runs/<run_id>/`` folder (:mod:`keyfolio.runs`) with ``portfolio.parquet``,
``run.json`` (policy text and hash, input hashes and row counts, code version, stage timings
and rows) and the side tables of each stage.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
import warnings as pywarnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import keyfolio
from keyfolio import db, runs
from keyfolio.db.assessments import workspace_assessments
from keyfolio.overrides import Override
from keyfolio.pipeline import economics as economics_stage
from keyfolio.pipeline import facts as facts_stage
from keyfolio.pipeline import scoring as scoring_stage
from keyfolio.pipeline import segments
from keyfolio.pipeline import selection as selection_stage
from keyfolio.pipeline import value as value_stage
from keyfolio.pipeline.economics import Economics, whale_curve
from keyfolio.pipeline.engine import engine_url, open_engine
from keyfolio.pipeline.facts import Facts
from keyfolio.pipeline.sources import Tables
from keyfolio.pipeline.value import ReturnOnCustomer, ValueResult
from keyfolio.policy import Policy, load_policy, with_values
from keyfolio.selection import Definition
from keyfolio.workspace import Workspace

Progress = Callable[[str], None]
PREVIOUS_COLUMNS = ("account_id", "clv", "selectable", "is_key")


@dataclass(frozen=True)
class RunOptions:
    """How to run: engine threads (default all cores), robustness draws (default the
    policy's), a progress callback that gets each stage's name as it starts, and the engine's
    URL (default: KEYFOLIO_ENGINE, else the policy's ``[engine] url``, else ``duckdb://``)."""

    threads: int | None = None
    robustness_draws: int | None = None
    progress: Progress | None = None
    engine: str | None = None


@dataclass
class RunResult:
    run: runs.Run
    policy: Policy
    portfolio: pd.DataFrame
    facts: Facts
    economics: Economics
    value: ValueResult
    return_on_customer: ReturnOnCustomer | None
    definition: Definition
    warnings: list[str]
    meta: dict[str, Any]  # what run.json holds

    @property
    def run_id(self) -> str:
        return self.run.id

    @property
    def run_dir(self) -> Path:
        return self.run.dir

    @property
    def timings(self) -> dict[str, float]:
        return dict(self.meta["timings_s"])


@dataclass
class _StageLog:
    progress: Progress | None
    timings: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # numeric warnings, by stage

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.progress:
            self.progress(name)
        t0 = time.perf_counter()
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always", RuntimeWarning)
            yield
        self._numeric(name, caught)
        # a stage may run in parts: the timings add up
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 4)

    def _numeric(self, stage: str, caught: list[pywarnings.WarningMessage]) -> None:
        """A RuntimeWarning (numpy's "overflow encountered in multiply", ...) becomes one run
        warning per stage and message; any other warning is shown as it would have been."""
        for w in caught:
            if not issubclass(w.category, RuntimeWarning):
                pywarnings.showwarning(w.message, w.category, w.filename, w.lineno)
                continue
            text = (
                f"stage {stage}: a computation gave an undefined or overflowing number "
                f"({w.message}, at {Path(w.filename).name}:{w.lineno}); figures of this stage "
                "may be NaN or infinite: check the data for extreme or missing values"
            )
            if text not in self.warnings:
                self.warnings.append(text)

    def take_warnings(self) -> list[str]:
        out, self.warnings = self.warnings, []
        return out


@dataclass(frozen=True)
class DefinitionInputs:
    """What the definition needs besides the portfolio: people's judgement and lists, the
    previous key list and the overrides in force."""

    assessments: pd.DataFrame | None = None
    feedback: pd.DataFrame | None = None
    declared: pd.DataFrame | None = None
    previous: pd.DataFrame | None = None  # account_id, is_key of the previous run
    overrides: Sequence[Override] = ()

    @classmethod
    def of(cls, ws: Workspace, previous: pd.DataFrame | None) -> DefinitionInputs:
        """The workspace's inputs; assessments are the imported table plus the scores
        entered in the web app (db.assessments.workspace_assessments: the newer wins)."""
        return cls(
            assessments=workspace_assessments(ws), feedback=ws.read_frame("feedback"),
            declared=ws.read_frame("declared"), previous=previous,
            overrides=db.list_overrides(ws),
        )  # fmt: skip


def define(portfolio: pd.DataFrame, policy: Policy, inputs: DefinitionInputs) -> Definition:
    """The key-account definition on a portfolio with its economics, size and value:
    scoring -> matrix segments -> selection."""
    pf = _join(portfolio, selection_stage.targets(portfolio, inputs.declared).to_frame())
    scores = scoring_stage.scores(
        pf, policy, assessments=inputs.assessments, feedback=inputs.feedback
    )
    pf = _join(pf, scoring_stage.columns(scores, pf.index))
    pf = _join(pf, segments.matrix(pf, policy.matrix))
    return selection_stage.key_accounts(
        pf, scores, policy, declared=inputs.declared, previous=inputs.previous,
        overrides=inputs.overrides,
    )  # fmt: skip


def run(ws: Workspace, options: RunOptions | None = None) -> RunResult:
    """Run the whole pipeline on a workspace and write a new run folder (holding the
    workspace lock: one writer at a time, and the tables cannot change under the run)."""
    with ws.writing("run"):
        return _run(ws, options or RunOptions())


def _run(ws: Workspace, options: RunOptions) -> RunResult:
    started = dt.datetime.now(dt.UTC)
    log = _StageLog(options.progress)
    policy = _with_draws(load_policy(ws.policy_path), options.robustness_draws)
    selection_stage.check_rules(policy, str(ws.policy_path))
    prev_run = runs.previous(ws)
    previous = prev_run.portfolio(PREVIOUS_COLUMNS) if prev_run else None
    engine = open_engine(engine_url(policy, options.engine), options.threads)
    try:
        src = Tables(ws, engine.con, policy.engine.tables)
        with facts_stage.reading(ws, engine.scheme):
            manifest = src.manifest()
        with facts_stage.reading(ws, engine.scheme), log.stage("facts"):
            facts = facts_stage.compute_facts(ws, policy, since=_as_of(prev_run), tables=src)
        # the value pass runs while the process holds the facts: half the engine's memory
        # (at 1M accounts the same time as the whole of it, 1.2 GB less at its peak)
        engine.share_memory(0.5)
        with facts_stage.reading(ws, engine.scheme), log.stage("value_lines"):
            rfm = value_stage.rfm_pass(src, policy, facts)
    finally:
        engine.close()  # the per-account stages run in pandas: free the engine
    log.rows["facts"] = facts.accounts.num_rows
    with log.stage("economics"):
        econ = economics_stage.compute_economics(
            facts, accounts=_optional(ws, "accounts"), wallet=_optional(ws, "wallet"),
            window_months=policy.growth.window_months,
        )  # fmt: skip
    log.rows["economics"] = len(econ.portfolio)
    with log.stage("segments"):
        tiers = segments.size(econ.portfolio, policy.size)
        pf = _join(econ.portfolio, tiers)
    log.rows["segments"] = len(pf)
    with log.stage("value"):
        value = value_stage.customer_value(pf, rfm, policy, facts)
        pf = _join(pf, value.columns)
        prev_id = prev_run.id if prev_run else None
        roc = value_stage.return_on_customer(pf, previous, prev_id, facts)
        if roc is not None:
            pf = _join(pf, roc.column.rename("return_on_customer").to_frame())
    log.rows["value"] = len(pf)
    with log.stage("definition"):
        defn = define(pf, policy, DefinitionInputs.of(ws, previous))
    log.rows["definition"] = len(defn.portfolio)
    warnings = [*facts.warnings, *econ.warnings, *segments.size_warnings(pf, tiers),
                *value.warnings, *defn.warnings, *log.take_warnings()]  # fmt: skip
    run_id = runs.new_run_id(ws, started)
    meta: dict[str, Any] = {
        "run_id": run_id,
        "started": started.isoformat(timespec="seconds"),
        "keyfolio_version": keyfolio.__version__,
        "python": platform.python_version(),
        "policy": {"sha256": policy.sha256, "text": policy.text},
        "inputs": manifest,
        "engine": engine.describe(),
        "as_of": facts.as_of.isoformat() if facts.as_of else None,
        "currency": policy.currency,
        "rows": {**facts.rows, **log.rows},
        "warnings": warnings,
    }
    with runs.write_run(ws, run_id) as w:
        with log.stage("write"):
            w.frame(runs.PORTFOLIO, defn.portfolio)
            w.parquet_bytes(runs.YEARLY, facts.yearly_parquet)
            w.frame(runs.COST_TO_SERVE, econ.cost_by_activity)
            w.frame(runs.WHALE, whale_curve(defn.portfolio))
            if value.models:
                w.document(runs.VALUE_MODELS, value.models)
            if roc is not None:
                w.document(runs.RETURN_ON_CUSTOMER, roc.summary)
            selection_stage.write(defn, w)
        warnings.extend(log.take_warnings())  # meta holds this list
        meta["timings_s"] = log.timings
        meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        w.document(runs.RUN_JSON, meta)
    return RunResult(
        run=runs.get(ws, run_id), policy=policy, portfolio=defn.portfolio, facts=facts,
        economics=econ, value=value, return_on_customer=roc, definition=defn,
        warnings=warnings, meta=meta,
    )  # fmt: skip


def _join(portfolio: pd.DataFrame, columns: pd.DataFrame) -> pd.DataFrame:
    """The portfolio with a stage's columns added (or replaced), as a new frame; the
    stage's frame has the portfolio's index."""
    return portfolio.assign(**{str(c): columns[c] for c in columns.columns})


def _with_draws(policy: Policy, draws: int | None) -> Policy:
    if draws is None:
        return policy
    return with_values(policy, "robustness", {"draws": draws}, source="--draws")


def _as_of(run: runs.Run | None) -> dt.date | None:
    """The last order date a run saw (the start of return on customer's period)."""
    if run is None:
        return None
    as_of = run.meta().get("as_of")
    return dt.date.fromisoformat(as_of) if as_of else None


def _optional(ws: Workspace, table: str) -> Any:
    return ws.read_table(table) if ws.has_table(table) else None

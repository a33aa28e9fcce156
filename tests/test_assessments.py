"""Web-entered assessments in the app database (SQLite and PostgreSQL): checks, versions,
audit, the merge with imported ones, and the questions over them (spread, disagreement,
the to-assess queue) on hand-made data."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keyfolio import pipeline, runs
from keyfolio.analysis import assessments as qa
from keyfolio.analysis.lists import lists_view, owned_by
from keyfolio.db import close_db, history
from keyfolio.db.assessments import (
    AccountRef,
    AssessedCriterion,
    AssessmentInputError,
    NotYoursError,
    StaleAssessmentError,
    assessments_frame,
    check_may_edit,
    list_assessments,
    merge_assessments,
    policy_criteria,
    save_assessment,
    workspace_assessments,
)
from keyfolio.db.audit_search import AuditFilter, search
from keyfolio.db.engine import ENV_VAR
from keyfolio.db.users import add_user, get_user
from keyfolio.errors import KeyfolioError
from keyfolio.sample import make_sample
from keyfolio.workspace import Workspace
from test_db import pg_cluster, ws  # noqa: F401  (the both-backends fixtures)

CRIT = AssessedCriterion("fit", "strategic fit", "attractiveness", 1.0, 5.0, "")
WIDE = AssessedCriterion("pull", "pull", "strength", 0.0, 10.0, "")


@pytest.fixture
def sample(ws: Workspace) -> Workspace:  # noqa: F811
    """A small sample workspace with one run, on the fixture's database backend."""
    make_sample(ws.root, accounts=50, lines=1000, seed=2)
    opened = Workspace.open(ws.root)
    pipeline.run(opened)
    return opened


def _account(where: Workspace) -> str:
    run = runs.latest(where)
    assert run is not None
    return str(run.portfolio(["account_id"])["account_id"].iloc[0])


def _criterion(where: Workspace) -> AssessedCriterion:
    criteria = policy_criteria(where)
    assert criteria, "the sample policy has assessment criteria"
    return criteria[0]


# -- saving -------------------------------------------------------------------------------
def test_save_versions_and_audit(sample: Workspace) -> None:
    account, crit = _account(sample), _criterion(sample)
    first = save_assessment(sample, account, crit.criterion, "4", " good ", "a@example.com", 0)
    assert (first.score, first.comment, first.version) == (4.0, "good", 1)
    second = save_assessment(sample, account, crit.criterion, 2.5, "worse", "a@example.com", 1)
    assert second.version == 2 and second.score == 2.5
    other = save_assessment(sample, account, crit.criterion, 5, "", "b@example.com", 0)
    assert other.version == 1
    rows = list_assessments(sample, account)
    assert [(r.assessor, r.score) for r in rows] == [("a@example.com", 2.5), ("b@example.com", 5)]
    entries = history(sample, "assessment", account)
    assert [(e.who, e.action) for e in entries] == [
        ("a@example.com", "add"), ("a@example.com", "change"), ("b@example.com", "add"),
    ]  # fmt: skip
    assert entries[1].before["score"] == 4.0 and entries[1].after["score"] == 2.5
    frame = assessments_frame(sample)
    assert list(frame.columns) == ["account_id", "criterion", "score", "assessor", "date",
                                   "comment"]  # fmt: skip
    assert frame["date"].iloc[0] == dt.datetime.now(dt.UTC).date()


def test_stale_version_is_refused_and_changes_nothing(sample: Workspace) -> None:
    account, crit = _account(sample), _criterion(sample)
    save_assessment(sample, account, crit.criterion, 3, "mine", "a@example.com", 0)
    with pytest.raises(StaleAssessmentError, match=r"changed by a@example\.com at .* — reload"):
        save_assessment(sample, account, crit.criterion, 5, "late", "a@example.com", 0)
    with pytest.raises(StaleAssessmentError) as err:
        save_assessment(sample, account, crit.criterion, 5, "late", "a@example.com", 7)
    assert err.value.current.score == 3 and err.value.current.comment == "mine"
    assert [r.score for r in list_assessments(sample, account)] == [3]
    assert len(history(sample, "assessment")) == 1


@pytest.mark.parametrize(
    ("field", "criterion", "score", "comment", "message"),
    [
        ("score", None, "6", "", "expected a number from 1 to 5, found '6'"),
        ("score", None, "0.99", "", "from 1 to 5"),
        ("score", None, "four", "", "expected a number"),
        ("score", None, "nan", "", "expected a number"),
        ("score", None, "inf", "", "expected a number"),
        ("score", None, True, "", "expected a number"),
        ("score", None, "", "", "expected a number"),
        ("criterion", "no_such", "3", "", "expected one of the policy's assessment criteria"),
        ("comment", None, "3", "x" * 4001, "at most 4000 characters, found 4001"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    sample: Workspace, field: str, criterion: str | None, score: object, comment: str,
    message: str,
) -> None:  # fmt: skip
    name = criterion or _criterion(sample).criterion
    with pytest.raises(AssessmentInputError, match=message) as err:
        save_assessment(sample, _account(sample), name, score, comment, "a@example.com", 0)
    assert err.value.field == field and str(err.value).startswith(f"{field}: ")
    assert list_assessments(sample) == [] and history(sample, "assessment") == []


def test_unknown_account_is_refused(sample: Workspace) -> None:
    with pytest.raises(AssessmentInputError, match="expected an account of the latest run"):
        save_assessment(sample, "NOPE", _criterion(sample).criterion, 3, "", "a@x.com", 0)
    assert list_assessments(sample) == []


def test_the_criterion_range_wins_over_the_policy_scale(sample: Workspace) -> None:
    path = sample.policy_path
    text = path.read_text(encoding="utf-8")
    name = _criterion(sample).criterion
    line = re.compile(rf'^source = "assessment:{name}".*$', re.MULTILINE)
    assert line.search(text)
    path.write_text(line.sub(lambda m: m.group(0) + "\nrange = [0, 10]", text, 1), "utf-8")
    saved = save_assessment(sample, _account(sample), name, "9", "", "a@example.com", 0)
    assert saved.score == 9
    with pytest.raises(AssessmentInputError, match="from 0 to 10"):
        save_assessment(sample, _account(sample), name, "11", "", "a@example.com", 1)


def test_only_owners_leads_and_admins_may_edit() -> None:
    account = AccountRef("A1", "Acme", "M0002")
    check_may_edit(account, "lead", None)
    check_may_edit(account, "admin", None)
    check_may_edit(account, "manager", "M0002")
    with pytest.raises(NotYoursError, match="owned by M0002, not by you"):
        check_may_edit(account, "manager", "M0001")
    with pytest.raises(NotYoursError, match="own"):
        check_may_edit(account, "manager", None)
    with pytest.raises(NotYoursError):
        check_may_edit(account, "viewer", None)


# -- feeding the run ----------------------------------------------------------------------
def _run_scores(where: Workspace) -> pd.DataFrame:
    run = runs.latest(where)
    assert run is not None
    cols = ["account_id", "attractiveness", "strength", "is_key", "assessors_disagree"]
    return run.portfolio(cols).sort_values("account_id").reset_index(drop=True)


def test_web_scores_feed_the_run_as_imported_ones_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An assessment entered in the app and the same row imported as a file give identical
    scores in the next run (and differ from a run without it: the test can fail)."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    roots = [tmp_path / name for name in ("web", "file", "none")]
    for root in roots:
        make_sample(root, accounts=50, lines=1000, seed=2)
    web, file, none = (Workspace.open(r) for r in roots)
    try:
        pipeline.run(web)
        account, crit = _account(web), _criterion(web)
        saved = save_assessment(web, account, crit.criterion, crit.high, "why", "x@example.com",
                                0)  # fmt: skip
        path = file.table_path("assessments")
        table = pq.read_table(path)
        row = {
            "account_id": [account], "criterion": [crit.criterion], "score": [saved.score],
            "assessor": ["x@example.com"], "date": [saved.updated_at.date()], "comment": ["why"],
        }  # fmt: skip
        extra = pa.Table.from_pydict(row).select(table.schema.names).cast(table.schema)
        pq.write_table(pa.concat_tables([table, extra]), path)
        for ws in (web, file, none):
            pipeline.run(ws)
        pd.testing.assert_frame_equal(_run_scores(web), _run_scores(file))
        moved = _run_scores(web).set_index("account_id").loc[account, "attractiveness"]
        before = _run_scores(none).set_index("account_id").loc[account, "attractiveness"]
        assert crit.group != "attractiveness" or not math.isclose(moved, before)
    finally:
        for ws in (web, file, none):
            close_db(ws)


def _frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    cols = ["account_id", "criterion", "score", "assessor", "date", "comment"]
    return pd.DataFrame(rows, columns=cols)


def test_merge_the_newer_of_an_assessors_imported_and_web_score_wins() -> None:
    d = dt.date
    imported = _frame([
        ("A", "fit", 1.0, "ann", d(2026, 1, 1), "old file"),
        ("A", "fit", 2.0, "bob", d(2026, 6, 1), "bob's file, newer than his web score"),
        ("A", "fit", 3.0, "cy", None, "undated"),
        ("A", "fit", 4.0, None, d(2026, 1, 1), "nobody's"),
        ("B", "fit", 5.0, "ann", d(2026, 3, 1), "other account"),
    ])  # fmt: skip
    web = _frame([
        ("A", "fit", 5.0, "ann", d(2026, 2, 1), "web"),
        ("A", "fit", 5.0, "bob", d(2026, 5, 1), "web, older"),
        ("A", "fit", 1.0, "cy", d(2026, 1, 1), "web vs undated"),
        ("A", "fit", 2.0, "dee", d(2026, 1, 1), "web only"),
    ])  # fmt: skip
    merged = merge_assessments(imported, web)
    assert merged is not None
    got = sorted(
        (r.account_id, "" if pd.isna(r.assessor) else r.assessor, r.score, r.comment)
        for r in merged.itertuples()
    )
    assert got == sorted([
        ("A", "ann", 5.0, "web"), ("A", "bob", 2.0, "bob's file, newer than his web score"),
        ("A", "cy", 1.0, "web vs undated"), ("A", "", 4.0, "nobody's"),
        ("B", "ann", 5.0, "other account"), ("A", "dee", 2.0, "web only"),
    ])  # fmt: skip
    same_day = _frame([("A", "fit", 3.0, "ann", d(2026, 2, 1), "same day web")])
    merged = merge_assessments(_frame([("A", "fit", 1.0, "ann", d(2026, 2, 1), "file")]), same_day)
    assert merged is not None and list(merged["comment"]) == ["same day web"]
    assert merge_assessments(None, web.iloc[0:0]) is None


def test_workspace_assessments_without_a_database(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    make_sample(tmp_path / "s", accounts=50, lines=1000, seed=1)
    opened = Workspace.open(tmp_path / "s")
    imported = opened.read_frame("assessments")
    merged = workspace_assessments(opened)
    assert imported is not None and merged is not None
    pd.testing.assert_frame_equal(imported, merged)


# -- questions over the scores ------------------------------------------------------------
def test_spread_and_disagreement_worst_first() -> None:
    scores = _frame([
        ("A", "fit", 1, "x", None, None), ("A", "fit", 5, "y", None, None),  # 100% apart
        ("B", "fit", 2, "x", None, None), ("B", "fit", 3, "y", None, None),  # 25%: agree
        ("C", "pull", 0, "x", None, None), ("C", "pull", 5, "y", None, None),  # 50%
        ("D", "fit", 1, "x", None, None),  # one assessor: never a disagreement
        ("E", "other", 1, "x", None, None), ("E", "other", 5, "y", None, None),  # not a criterion
        ("F", "fit", "n/a", "x", None, None),
    ])  # fmt: skip
    s = qa.spread(scores, [CRIT, WIDE]).set_index(["account_id", "criterion"])
    assert s.loc[("A", "fit"), "spread_share"] == 1.0 and s.loc[("C", "pull"), "max"] == 5
    assert math.isnan(s.loc[("D", "fit"), "sd"]) and ("E", "other") not in s.index
    found = qa.disagreements(scores, [CRIT, WIDE])
    assert list(zip(found["account_id"], found["criterion"], strict=True)) == [
        ("A", "fit"), ("C", "pull"),
    ]  # fmt: skip
    exactly_a_third = _frame([("G", "pull", 0, "x", None, None), ("G", "pull", 10 / 3, "y",
                                                                   None, None)])  # fmt: skip
    assert qa.disagreements(exactly_a_third, [WIDE]).empty  # above a third, not at it


def test_the_queue_lists_missing_and_stale_scores_of_owned_accounts() -> None:
    today = dt.date(2026, 12, 1)
    owned = pd.DataFrame({"account_id": ["A", "B", "C"], "name": ["<b>A</b>", "B", "C"]})
    scores = _frame([
        ("A", "fit", 3, "x", dt.date(2026, 11, 1), None),  # current
        ("A", "pull", 3, "x", dt.date(2025, 11, 1), None),  # 395 days: stale
        ("A", "pull", 3, "y", dt.date(2025, 10, 1), None),
        ("B", "fit", 3, "x", None, None),  # undated: stale
        ("B", "pull", 3, "x", today - dt.timedelta(days=365), None),  # exactly a year: current
        ("Z", "fit", 3, "x", dt.date(2020, 1, 1), None),  # not owned
    ])  # fmt: skip
    q = qa.to_assess(owned, scores, [CRIT, WIDE], today)
    got = {(r.account_id, r.criterion, r.status) for r in q.itertuples()}
    assert got == {("A", "pull", "stale"), ("B", "fit", "stale"), ("C", "fit", "missing"),
                   ("C", "pull", "missing")}  # fmt: skip
    assert list(q["status"])[:2] == ["missing", "missing"]
    folded = qa.queue_by_account(q)
    assert list(folded["account_id"]) == ["C", "B", "A"]  # most missing, then undated, oldest
    assert folded.iloc[0]["missing"] == ["strategic fit", "pull"]
    assert folded.iloc[2]["oldest"] == dt.date(2025, 11, 1) and folded.iloc[1]["oldest"] is None
    assert qa.to_assess(owned.iloc[0:0], scores, [CRIT], today).empty


# -- lists and the audit search -----------------------------------------------------------
def test_a_list_is_yours_by_email_or_manager_id(sample: Workspace) -> None:
    assert owned_by("M0001", ["a@example.com", "m0001"]) and not owned_by("M0001", [None])
    run = runs.latest(sample)
    assert run is not None
    declared = sample.read_frame("declared")
    assert declared is not None and declared["list_name"].nunique() >= 2
    last = sorted(set(declared["list_name"].astype(str)) - {"targets"})[-1]
    view = lists_view(sample, run, ["someone@example.com", last])
    assert view.lists[0].list_name == last and view.lists[0].mine
    assert not any(d.mine for d in view.lists[1:]) and not view.declared_changed
    for d in view.lists:
        assert d.n_key == len({m.via_group or m.account_id for m in d.members if m.is_key})
        assert all(m.reasons for m in d.failed if m.known)


def test_audit_search_filters_and_pages(sample: Workspace) -> None:
    account, crit = _account(sample), _criterion(sample)
    for i, who in enumerate(["a@example.com", "b@example.com", "a@example.com"]):
        version = 0 if i < 2 else 1
        save_assessment(sample, account, crit.criterion, 3, f"v{i}", who, version)
    everything = search(sample, AuditFilter(entity="assessment"), 1, 2)
    assert everything.total == 3 and everything.pages == 2 and len(everything.entries) == 2
    assert everything.entries[0].after["comment"] == "v2"  # newest first
    second = search(sample, AuditFilter(entity="assessment"), 2, 2)
    assert [e.after["comment"] for e in second.entries] == ["v0"]
    by_a = search(sample, AuditFilter(who="A@Example.com", entity_id=account))
    assert by_a.total == 2
    today = dt.datetime.now(dt.UTC).date()
    assert search(sample, AuditFilter(entity="assessment", since=today, until=today)).total == 3
    assert search(sample, AuditFilter(since=today + dt.timedelta(days=1))).total == 0
    with pytest.raises(KeyfolioError, match="entity: expected one of"):
        AuditFilter(entity="nope")
    with pytest.raises(KeyfolioError, match="until: expected a day on or after"):
        AuditFilter(since=today, until=today - dt.timedelta(days=1))


# -- managers owning accounts -------------------------------------------------------------
def test_user_add_with_a_manager_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from keyfolio.cli import build_app

    monkeypatch.delenv(ENV_VAR, raising=False)
    app, runner = build_app(), CliRunner()
    root = str(tmp_path / "w")
    assert runner.invoke(app, ["init", root]).exit_code == 0
    add = ["user", "add", root, "m@example.com", "--role", "manager", "--manager-id", " M0007 "]
    result = runner.invoke(app, add, input="a long password\n")
    assert result.exit_code == 0 and "(manager, manager M0007)" in result.output, result.output
    listed = json.loads(runner.invoke(app, ["user", "list", root, "--json"]).output)
    assert [(u["email"], u["manager_id"]) for u in listed] == [("m@example.com", "M0007")]
    opened = Workspace.open(root)
    try:
        user = get_user(opened, "m@example.com")
        assert user is not None and user.manager_id == "M0007"
        assert history(opened, "user")[0].after["manager_id"] == "M0007"
        with pytest.raises(KeyfolioError, match="expected a manager id"):
            add_user(opened, "n@example.com", "manager", "a long password", "t", manager_id=" ")
    finally:
        close_db(opened)

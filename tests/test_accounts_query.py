"""keyfolio.analysis.accounts (the accounts page's query) and .history, on hand-made run
folders, with pandas as the oracle."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyfolio import runs
from keyfolio.analysis import accounts as A
from keyfolio.analysis.history import decision_history
from keyfolio.workspace import Workspace

EVIL = "<script>alert('x')</script>"


def make_run(folder: Path, df: pd.DataFrame, run_id: str = "20260101T000000Z") -> runs.Run:
    d = folder / run_id
    d.mkdir(parents=True, exist_ok=True)
    df.to_parquet(d / runs.PORTFOLIO, index=False)
    (d / runs.RUN_JSON).write_text(json.dumps({"run_id": run_id, "started": run_id}))
    return runs.Run(run_id, d)


def tiny() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
            "name": ["Acme 100%", "O'Brien Ltd", EVIL, "under_score", "Plain", None],
            "owner": ["ann", "bob", "ann", None, "bob", "ann"],
            "country": ["DE", "FR", "DE", "DE", "FR", None],
            "size_tier": ["large", "small", "small", "medium", "large", "small"],
            "quadrant": ["star", "status", "star", "strategic", "streamline", "star"],
            "attractiveness": [80.0, 20.0, 55.0, None, 55.0, 10.0],
            "revenue": [1000.0, 50.0, 300.0, 300.0, None, 5.0],
            "is_key": [True, False, True, False, True, False],
            "was_key": [True, True, False, False, False, False],
            "decision": ["kept", "deselected", "selected", "not selected", "overridden", "x"],
            "reasons": ["r1", "r2", "r3", "r4", "r5", "r6"],
        }
    )


@pytest.fixture
def run(tmp_path: Path) -> Iterator[runs.Run]:
    yield make_run(tmp_path, tiny())
    A.forget_snapshots()


def ids(page: A.AccountPage) -> list[str]:
    return [r["account_id"] for r in page.rows]


def test_rows_have_the_view_columns_and_missing_ones_are_null(run: runs.Run) -> None:
    page = A.query_accounts(run, A.AccountQuery(sort="account_id", direction="asc"))
    assert page.total == 6 and page.pages == 1
    assert list(page.rows[0]) == list(A.VIEW_COLUMNS)
    assert page.rows[0]["clv"] is None and page.rows[0]["strength"] is None  # not in this run
    assert ids(page) == ["A1", "A2", "A3", "A4", "A5", "A6"]


def test_filters(run: runs.Run) -> None:
    def q(**kw: Any) -> list[str]:
        return sorted(ids(A.query_accounts(run, A.AccountQuery(**kw))))

    assert q(tier="small") == ["A2", "A3", "A6"]
    assert q(quadrant="star", owner="ann") == ["A1", "A3", "A6"]
    assert q(country="DE", tier="small") == ["A3"]
    assert q(decision="key") == ["A1", "A3", "A5"]
    assert q(decision="not_key") == ["A2", "A4", "A6"]
    assert q(decision="entered") == ["A3", "A5"]
    assert q(decision="left") == ["A2"]
    assert q(decision="kept") == ["A1"]
    assert q(decision="overridden") == ["A5"]
    assert q(tier="nope") == []
    assert q(tier="", owner="") == ["A1", "A2", "A3", "A4", "A5", "A6"]  # empty: no filter


def test_text_search_is_a_literal_case_insensitive_substring(run: runs.Run) -> None:
    def s(text: str) -> list[str]:
        return sorted(ids(A.query_accounts(run, A.AccountQuery(search=text))))

    assert s("%") == ["A1"]  # not a LIKE wildcard
    assert s("_") == ["A4"]
    assert s("'") == ["A2", "A3"]
    assert s("<SCRIPT>") == ["A3"]
    assert s("o'b") == ["A2"]
    assert s("a6") == ["A6"]  # the id too (its name is missing)
    assert s("acme 100%") == ["A1"]
    assert s("zzz") == []


def test_sort_nulls_last_and_ties_by_id(run: runs.Run) -> None:
    def order(sort: str, direction: str) -> list[str]:
        q = A.AccountQuery(sort=sort, direction=direction)  # type: ignore[arg-type]
        return ids(A.query_accounts(run, q))

    assert order("revenue", "desc") == ["A1", "A3", "A4", "A2", "A6", "A5"]
    assert order("revenue", "asc") == ["A6", "A2", "A3", "A4", "A1", "A5"]
    assert order("attractiveness", "asc") == ["A6", "A2", "A3", "A5", "A1", "A4"]
    assert order("name", "asc")[-1] == "A6"


def test_unknown_sort_column_is_refused_with_the_allowed_ones(run: runs.Run) -> None:
    with pytest.raises(A.QueryError, match=r"sort: unknown column 'revenue; drop'") as err:
        A.query_accounts(run, A.AccountQuery(sort="revenue; drop"))
    assert err.value.field == "sort"
    assert "allowed: account_id, name, owner, country" in str(err.value)
    with pytest.raises(A.QueryError, match="sort: unknown column 'clv'"):  # not in this run
        A.query_accounts(run, A.AccountQuery(sort="clv"))
    with pytest.raises(A.QueryError, match="sort: unknown column 'reasons'"):
        A.query_accounts(run, A.AccountQuery(sort="reasons"))
    with pytest.raises(A.QueryError, match="direction: expected asc or desc"):
        A.query_accounts(run, A.AccountQuery(direction="up"))  # type: ignore[arg-type]
    with pytest.raises(A.QueryError, match="decision: unknown decision 'maybe'; allowed: key"):
        A.query_accounts(run, A.AccountQuery(decision="maybe"))


def test_page_bounds(run: runs.Run) -> None:
    q = A.AccountQuery(sort="account_id", direction="asc", page_size=4)
    assert ids(A.query_accounts(run, q)) == ["A1", "A2", "A3", "A4"]
    last = A.query_accounts(run, A.with_page(q, 2))
    assert ids(last) == ["A5", "A6"] and last.pages == 2 and last.total == 6
    with pytest.raises(A.QueryError, match=r"page: page 3 is past the last page \(2\)"):
        A.query_accounts(run, A.with_page(q, 3))
    with pytest.raises(A.QueryError, match="page: expected 1 or more, got 0"):
        A.query_accounts(run, A.with_page(q, 0))
    for size in (0, A.MAX_PAGE_SIZE + 1):
        with pytest.raises(A.QueryError, match=f"page_size: expected 1 to 500, got {size}"):
            A.query_accounts(run, A.AccountQuery(page_size=size))
    empty = A.query_accounts(run, A.AccountQuery(tier="nope"))
    assert empty.rows == [] and empty.total == 0 and empty.pages == 1


def test_pages_add_up_to_the_whole_view_from_either_end_and_by_ids(
    run: runs.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    for shallow in (10_000, 0):  # 0: every page found by its ids first
        monkeypatch.setattr(A, "_SHALLOW", shallow)
        for sort, direction in (("revenue", "desc"), ("name", "asc"), ("quadrant", "desc")):
            q = A.AccountQuery(sort=sort, direction=direction, page_size=1)  # type: ignore[arg-type]
            whole = [r[0] for r in A.iter_rows(run, q)]
            paged = [ids(A.query_accounts(run, A.with_page(q, p)))[0] for p in range(1, 7)]
            assert paged == whole, (shallow, sort, direction)


def test_missing_owner_and_country_are_not_offered(tmp_path: Path) -> None:
    df = tiny().drop(columns=["owner", "country", "was_key"])
    run = make_run(tmp_path, df)
    f = A.facets(run)
    assert f.owners is None and f.countries is None
    assert f.tiers == ["large", "medium", "small"]
    assert f.quadrants == ["star", "status", "strategic", "streamline"]
    assert "entered" not in f.decisions and "left" not in f.decisions and "key" in f.decisions
    page = A.query_accounts(run, A.AccountQuery())
    assert page.total == 6 and all(r["owner"] is None for r in page.rows)
    assert "owner" not in A.sortable(set(run.columns()))
    with pytest.raises(A.QueryError, match="owner: this run has no owner column"):
        A.query_accounts(run, A.AccountQuery(owner="ann"))
    with pytest.raises(A.QueryError, match="decision: unknown decision 'entered'"):
        A.query_accounts(run, A.AccountQuery(decision="entered"))
    A.forget_snapshots()


def test_facets_are_made_once_per_run(run: runs.Run) -> None:
    first = A.facets(run)
    assert A.facets(run) is first
    assert first.owners == ["ann", "bob"] and first.countries == ["DE", "FR"]


def test_account_row_and_facts(run: runs.Run) -> None:
    row = A.account_row(run, "A3", ["name", "revenue", "no_such_column"])
    assert row == {"account_id": "A3", "name": EVIL, "revenue": 300.0}
    assert A.account_row(run, "A9", ["name"]) is None
    assert A.account_row(run, "' OR 1=1 --", ["name"]) is None
    facts = A.account_facts(run, "A1")
    assert facts is not None and facts.trend.empty and facts.cost_to_serve.empty
    pd.DataFrame(
        {"account_id": ["A1", "A1", "A2"], "year": [2025, 2024, 2025],
         "revenue": [10.0, 5.0, 1.0], "margin": [2.0, 1.0, 0.5]}
    ).to_parquet(run.path(runs.YEARLY))  # fmt: skip
    pd.DataFrame(
        {"account_id": ["A1", "A1", "A1"], "activity": ["freight", "visits", "freight"],
         "amount": [3.0, 7.0, 2.0], "first_date": [None, None, None]}
    ).to_parquet(run.path(runs.COST_TO_SERVE))  # fmt: skip
    facts = A.account_facts(run, "A1")
    assert facts is not None
    assert facts.trend.to_dict(orient="list") == {
        "year": [2024, 2025], "revenue": [5.0, 10.0], "margin": [1.0, 2.0]
    }  # fmt: skip
    assert facts.cost_to_serve.to_dict(orient="list") == {
        "activity": ["visits", "freight"], "amount": [7.0, 5.0]
    }  # fmt: skip


def test_decision_history_across_runs(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    old = tiny().drop(columns=["quadrant"]).iloc[1:]  # an older run without A1 or quadrant
    make_run(ws.runs_dir, old, "20250101T000000Z")
    newer = tiny()
    newer.loc[0, "reasons"] = EVIL
    make_run(ws.runs_dir, newer, "20260101T000000Z")
    history = decision_history(ws, "A1")
    assert [(h.run_id, h.in_run) for h in history] == [
        ("20250101T000000Z", False), ("20260101T000000Z", True)
    ]  # fmt: skip
    last = history[-1]
    assert last.is_key is True and last.decision == "kept" and last.quadrant == "star"
    assert last.reasons == EVIL and last.attractiveness == 80.0
    a3 = decision_history(ws, "A3")
    assert a3[0].in_run and a3[0].quadrant is None and a3[0].size_tier == "small"
    assert decision_history(ws, "nobody") == [
        d for d in decision_history(ws, "nobody") if not d.in_run
    ]
    assert decision_history(Workspace(tmp_path / "none"), "A1") == []


# -- against pandas, on random portfolios ---------------------------------------------------
ALPHABET = "aAbB%_' <>é1"


@st.composite
def portfolios(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 30))
    text = st.one_of(st.none(), st.text(ALPHABET, max_size=6))
    number = st.one_of(st.none(), st.sampled_from([0.0, 1.5, -2.0, 10.0, 1e6]))

    def column(values: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(values, min_size=n, max_size=n))

    return pd.DataFrame(
        {
            "account_id": [f"K{i:03d}" for i in draw(st.permutations(range(n)))],
            "name": column(text),
            "owner": column(st.sampled_from(["ann", "bob", None])),
            "size_tier": column(st.sampled_from(["large", "small"])),
            "quadrant": column(st.sampled_from(["star", "status"])),
            "revenue": pd.Series(column(number), dtype=float),
            "attractiveness": pd.Series(column(number), dtype=float),
            "is_key": column(st.booleans()),
            "was_key": column(st.booleans()),
            "decision": column(st.sampled_from(["kept", "selected", "overridden"])),
        }
    )  # fmt: skip


queries = st.builds(
    A.AccountQuery,
    tier=st.sampled_from([None, "large", "small"]),
    quadrant=st.sampled_from([None, "star", "status"]),
    decision=st.sampled_from([None, "key", "not_key", "entered", "left", "kept"]),
    owner=st.sampled_from([None, "ann", "bob"]),
    search=st.one_of(st.none(), st.text(ALPHABET, max_size=3)),
    sort=st.sampled_from(
        [None, "account_id", "name", "owner", "revenue", "attractiveness", "is_key", "quadrant"]
    ),  # fmt: skip
    direction=st.sampled_from(["asc", "desc"]),
    page=st.integers(1, 4),
    page_size=st.integers(1, 12),
)


def oracle(df: pd.DataFrame, q: A.AccountQuery) -> list[str]:
    keep = pd.Series(True, index=df.index)
    for field, column in (("tier", "size_tier"), ("quadrant", "quadrant"), ("owner", "owner")):
        if getattr(q, field):
            keep &= df[column] == getattr(q, field)
    key, was = df["is_key"], df["was_key"]
    decisions = {"key": key, "not_key": ~key, "entered": key & ~was, "left": was & ~key,
                 "kept": df["decision"] == "kept"}  # fmt: skip
    if q.decision:
        keep &= decisions[q.decision]
    if q.search:
        needle = q.search.lower()
        ids = df["account_id"].astype("string").str.lower()
        names = df["name"].astype("string").fillna("").str.lower()
        keep &= ids.str.contains(needle, regex=False) | names.str.contains(needle, regex=False)
    view = df[keep.fillna(False).astype(bool)]
    sort = q.sort or "revenue"
    keys = [sort] if sort == "account_id" else [sort, "account_id"]
    asc = [q.direction == "asc"] + [True] * (len(keys) - 1)
    view = view.sort_values(keys, ascending=asc, na_position="last", kind="stable")
    return list(view["account_id"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=portfolios(), q=queries, shallow=st.sampled_from([10_000, 0]))
def test_query_equals_pandas(df: pd.DataFrame, q: A.AccountQuery, shallow: int) -> None:
    expected = oracle(df, q)
    original = A._SHALLOW
    A._SHALLOW = shallow
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), df)
        try:
            start = (q.page - 1) * q.page_size
            if q.page > max(1, -(-len(expected) // q.page_size)):
                with pytest.raises(A.QueryError, match="past the last page"):
                    A.query_accounts(run, q)
            else:
                page = A.query_accounts(run, q)
                assert page.total == len(expected)
                assert ids(page) == expected[start : start + q.page_size]
            assert [r[0] for r in A.iter_rows(run, q)] == expected
            assert A.count_rows(run, q) == len(expected)
        finally:
            A._SHALLOW = original
            A.forget_snapshots()

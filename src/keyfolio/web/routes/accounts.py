"""The accounts page (the latest run's portfolio: filtered, searched, sorted and paged on the
server, exported as CSV/XLSX) and the account page (economics, value, the explanation, the
decision history)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from keyfolio import export, runs
from keyfolio.analysis import accounts as A
from keyfolio.analysis.explain import explain_account
from keyfolio.analysis.history import decision_history
from keyfolio.errors import KeyfolioError
from keyfolio.report.charts import overview
from keyfolio.report.charts.style import DARK, INK, MID, Figure, axis, layout, money_axis, values
from keyfolio.web.deps import CurrentSession, FormatDep, WorkspaceDep
from keyfolio.web.render import HTML_PAGE, is_partial, page
from keyfolio.web.schemas import accounts as S

router = APIRouter(tags=["accounts"])
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def view_query(
    tier: Annotated[str | None, Query(description="size tier")] = None,
    quadrant: Annotated[str | None, Query(description="KAM matrix quadrant")] = None,
    decision: Annotated[
        str | None, Query(description="key, not_key, entered, left, kept, overridden, contested")
    ] = None,
    owner: Annotated[str | None, Query(description="owner (key account manager)")] = None,
    country: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the id or name")] = None,
    sort: Annotated[str | None, Query(description="a column of the rows (see sortable)")] = None,
    direction: Literal["asc", "desc"] = "desc",
    page: Annotated[int, Query(ge=1, le=1_000_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=A.MAX_PAGE_SIZE)] = A.DEFAULT_PAGE_SIZE,
) -> A.AccountQuery:
    return A.AccountQuery(
        tier=tier, quadrant=quadrant, decision=decision, owner=owner, country=country,
        search=q, sort=sort, direction=direction, page=page, page_size=page_size,
    )  # fmt: skip


ViewQuery = Annotated[A.AccountQuery, Depends(view_query)]


@router.get("/accounts", response_model=S.AccountsPage, responses=HTML_PAGE)
def accounts(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, query: ViewQuery
) -> Response:
    """The latest run's portfolio, filtered, searched, sorted and paged on the server
    (a request from the page's script gets the table alone)."""
    run = runs.latest(ws)
    if run is None or not run.has(runs.PORTFOLIO):
        model = _no_run(query)
    else:
        try:
            found = A.query_accounts(run, query)
        except A.QueryError as exc:
            raise HTTPException(422, str(exc)) from None
        facets = A.facets(run)
        sortable = A.sortable(set(run.columns(runs.PORTFOLIO)))
        model = S.AccountsPage.of(run.id, _currency(run), found, query, sortable, facets)
    template = "_accounts_table.html" if is_partial(request) else "accounts.html"
    return page(request, fmt, template, model, session=session)


@router.get(
    "/accounts/export.csv",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(ws: WorkspaceDep, session: CurrentSession, query: ViewQuery) -> Response:
    """The current view (same filters and sort, every page) as CSV for a CRM."""
    return _export(ws, query, "csv")


@router.get(
    "/accounts/export.xlsx",
    response_class=FileResponse,
    responses={200: {"content": {XLSX_TYPE: {}}}},
)
def export_xlsx(ws: WorkspaceDep, session: CurrentSession, query: ViewQuery) -> Response:
    """The current view (same filters and sort, every page) as XLSX."""
    return _export(ws, query, "xlsx")


def _export(ws: WorkspaceDep, query: A.AccountQuery, fmt: Literal["csv", "xlsx"]) -> Response:
    run = runs.latest(ws)
    if run is None or not run.has(runs.PORTFOLIO):
        raise HTTPException(404, "no run yet: nothing to export")
    folder = Path(tempfile.mkdtemp(prefix="keyfolio-export-"))
    out = folder / f"accounts-{run.id}.{fmt}"
    try:
        export.write_rows(out, fmt, list(A.VIEW_COLUMNS), A.iter_rows(run, query))
    except A.QueryError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(422, str(exc)) from None
    except KeyfolioError as exc:  # more rows than a sheet holds
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(400, str(exc)) from None
    media = "text/csv" if fmt == "csv" else XLSX_TYPE
    return FileResponse(
        out,
        media_type=media,
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.get("/accounts/{account_id}", response_model=S.AccountDetail, responses=HTML_PAGE)
def account(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, account_id: str
) -> Response:
    """One account in the latest run: economics, trend, cost to serve, value, why it is or
    is not key (and what would flip it), its decision across runs."""
    run = runs.latest(ws)
    if run is None or not run.has(runs.PORTFOLIO):
        raise HTTPException(404, "no run yet: run the pipeline first")
    facts = A.account_facts(run, account_id)
    if facts is None:
        raise HTTPException(404, f"account {account_id!r} is not in run {run.id}")
    model = _detail(ws, run, facts)
    charts = {"trend": trend_chart(model), "cts": _cts_chart(model)}
    return page(request, fmt, "account.html", model, session=session, charts=charts)


def _detail(ws: WorkspaceDep, run: runs.Run, facts: A.AccountFacts) -> S.AccountDetail:
    row = S.cleaned(facts.row)
    e = explain_account(run, facts.account_id)
    explanation = S.Explanation(
        **{k: S.clean(e.account.get(k)) for k in S.EXPLAINED},
        contributions=[S.Contribution.of(r) for r in e.to_dict()["contributions"]],
        selection=e.to_dict()["selection"],
    )
    return S.AccountDetail(
        run_id=run.id,
        currency=_currency(run),
        account_id=facts.account_id,
        name=row.get("name"),
        profile=S.Profile.of(row),
        economics=S.Economics.of(row),
        value=S.Value.of(row),
        trend=[S.YearOut.of(r) for r in facts.trend.to_dict(orient="records")],
        cost_to_serve=[S.ActivityOut.of(r) for r in facts.cost_to_serve.to_dict(orient="records")],
        explanation=explanation,
        history=[S.DecisionOut.of(d) for d in decision_history(ws, facts.account_id)],
    )


def trend_chart(model: S.AccountDetail) -> Figure | None:
    """Revenue (bars) and contribution margin (line) per year."""
    if not model.trend:
        return None
    years = [str(t.year) for t in model.trend]
    bars = {"type": "bar", "name": "Revenue", "x": years, "marker": {"color": MID},
            "y": values([t.revenue for t in model.trend], 2),
            "hovertemplate": "%{x}: %{y:,.0f}<extra>revenue</extra>"}  # fmt: skip
    line = {"type": "scatter", "mode": "lines+markers", "name": "Contribution margin",
            "x": years, "y": values([t.margin for t in model.trend], 2),
            "line": {"color": DARK, "width": 2.5}, "marker": {"color": INK},
            "hovertemplate": "%{x}: %{y:,.0f}<extra>margin</extra>"}  # fmt: skip
    return {
        "data": [bars, line],
        "layout": layout(
            height=300,
            xaxis=axis("", type="category", ticks=""),
            yaxis=money_axis("Per year", model.currency, rangemode="tozero"),
        ),  # fmt: skip
    }


def _cts_chart(model: S.AccountDetail) -> Figure | None:
    if not model.cost_to_serve:
        return None
    activities = [a.activity for a in model.cost_to_serve]
    amounts = [a.amount or 0.0 for a in model.cost_to_serve]
    return overview.cts_chart(activities, amounts, model.currency)


def _no_run(query: A.AccountQuery) -> S.AccountsPage:
    return S.AccountsPage(
        run_id=None, currency="", rows=[], total=0, page=1, pages=1,
        query=S.QueryOut.of(query, query.sort or ""), sortable=[], facets=None,
    )  # fmt: skip


def _currency(run: runs.Run) -> str:
    return str(run.meta().get("currency") or "")

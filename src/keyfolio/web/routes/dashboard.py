"""The dashboard: the latest run at a glance (cards), the KAM matrix (a bubble opens the
account), the whale curve and the changes since the previous run."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from keyfolio import runs
from keyfolio.analysis import changes as changes_mod
from keyfolio.analysis import glance as glance_mod
from keyfolio.analysis.summary import summarise
from keyfolio.report import charts
from keyfolio.report.sections.matrix import matrix_points
from keyfolio.report.sections.profit import whale_label
from keyfolio.scoring import STRATEGY
from keyfolio.web.cache import RunCache
from keyfolio.web.deps import CurrentSession, FormatDep, WorkspaceDep
from keyfolio.web.render import HTML_PAGE, page
from keyfolio.web.schemas.dashboard import (
    ChangesOut,
    Dashboard,
    GlanceOut,
    MatrixOut,
    MatrixPointOut,
    MoveOut,
    RunSummary,
    WhaleOut,
)
from keyfolio.web.schemas.runs import DiffOut
from keyfolio.web.schemas.users import UserOut

router = APIRouter(tags=["dashboard"])
MAX_SHOWN = 200  # rows of each change table (the counts are of all)
MATRIX_MAX_POINTS = 3000  # every key account and a fixed sample of the others (as the report)
SUMMARY_COLUMNS = ["account_id", "name", "selectable", "has_orders", "size_tier", "revenue",
                   "contribution_margin", "cost_to_serve", "net_contribution", "cm_pct",
                   "net_pct", "revenue_growth", "revenue_cagr"]  # fmt: skip


@router.get("/", response_model=Dashboard, responses=HTML_PAGE)
def dashboard(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession
) -> Response:
    """The latest run: cards, tiers, the matrix, the whale curve, what changed."""
    latest = runs.latest(ws)
    model = Dashboard(user=UserOut.of(session.user), run=None)
    figures: dict[str, Any] = {}
    if latest is not None and latest.has(runs.PORTFOLIO):
        previous = runs.previous(ws, latest.id)
        cache: RunCache = request.app.state.run_cache
        key = ("dashboard", latest.dir, previous.id if previous else None)
        parts, figures = cache.get(key, lambda: _of_run(latest, previous))
        model = Dashboard(user=model.user, **parts)
    return page(request, fmt, "dashboard.html", model, session=session, figures=figures)


def _of_run(latest: runs.Run, previous: runs.Run | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything on the dashboard but the signed-in user (the same for every caller): the
    model's fields and the charts' figures."""
    meta = latest.meta()
    s = summarise(latest.portfolio(SUMMARY_COLUMNS), str(meta.get("currency") or ""))
    parts: dict[str, Any] = {"run": RunSummary.of(latest.id, meta.get("started"), s)}
    parts["glance"] = GlanceOut.of(glance_mod.glance(latest))
    figures: dict[str, Any] = {}
    parts["matrix"], figures["matrix"] = _matrix(latest, s.currency)
    parts["whale"], figures["whale"] = _whale(latest, s.currency)
    parts["changes"] = _changes(previous, latest)
    return parts, figures


def _matrix(run: runs.Run, currency: str) -> tuple[MatrixOut | None, Any]:
    m = glance_mod.matrix_accounts(run)
    if m is None:
        return None, None
    pts, left_out = matrix_points(m.accounts, MATRIX_MAX_POINTS)
    figure = charts.matrix_chart(
        pts, a_cut=m.attractiveness_cut, s_cut=m.strength_cut, quadrants=STRATEGY,
        size_label=m.size_label, currency=currency,
        anchors={a: a for a in pts["account_id"]},  # customdata[0]: the account to open
    )  # fmt: skip
    points = [
        MatrixPointOut(
            account_id=str(r.account_id),
            name=None if r.name is None else str(r.name),
            strength=float(r.strength),
            attractiveness=float(r.attractiveness),
            size=None if not np.isfinite(r.size) else float(r.size),
            decision=str(r.decision),
            quadrant=None if r.quadrant is None else str(r.quadrant),
        )  # fmt: skip
        for r in pts.itertuples(index=False)
    ]
    out = MatrixOut(
        accounts=len(m.accounts), left_out=left_out, attractiveness_cut=m.attractiveness_cut,
        strength_cut=m.strength_cut, size_label=m.size_label, points=points,
    )  # fmt: skip
    return out, figure


def _whale(run: runs.Run, currency: str) -> tuple[WhaleOut | None, Any]:
    w = glance_mod.whale(run)
    if w is None:
        return None, None
    label = whale_label(w.peak_share, w.peak_net, w.total, currency)
    figure = charts.whale_chart(w.share_of_accounts, w.cum_net, w.peak, w.total, currency, label)
    idx = charts.downsample(len(w.cum_net), keep=[w.peak])
    out = WhaleOut(
        share_of_accounts=charts.values(w.share_of_accounts[idx]),
        cum_net_contribution=charts.values(w.cum_net[idx], 2),
        peak_share=w.peak_share, peak_net=w.peak_net, total=w.total,
    )  # fmt: skip
    return out, figure


def _changes(previous: runs.Run | None, run: runs.Run) -> ChangesOut | None:
    if previous is None:
        return None
    c = changes_mod.changes(previous, run)
    shown = c.moves.head(MAX_SHOWN).astype(object)
    rows = shown.where(shown.notna(), None).to_dict(orient="records")
    return ChangesOut(
        previous_run=previous.id,
        counts=c.counts(),
        key_list=DiffOut.of(c.key_list, limit=MAX_SHOWN),
        moves=[MoveOut.of(r) for r in rows],
    )

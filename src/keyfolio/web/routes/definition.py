"""The definition editor: the policy as a form and as TOML, the live what-if on the latest
run (nothing saved), saving a new policy version, and the versions with their diffs.

Leads and admins edit; everyone signed in reads the versions. The logic is in
:mod:`keyfolio.analysis.whatif` (the what-if), :mod:`keyfolio.analysis.policy_form` (the
form's fields set in the text), :mod:`keyfolio.db.policies` (versions) and
:mod:`keyfolio.analysis.versions` (the save check and the diff).
"""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from keyfolio import runs
from keyfolio.analysis import versions as versions_mod
from keyfolio.analysis import whatif
from keyfolio.analysis.policy_form import SCALES, apply_form
from keyfolio.db import policies
from keyfolio.db.overrides import ConcurrentChangeError
from keyfolio.db.users import WebSession
from keyfolio.errors import KeyfolioError, PolicyError, WorkspaceBusyError
from keyfolio.policy import Policy, parse_policy
from keyfolio.report.charts import matrix_chart
from keyfolio.scoring import STRATEGY
from keyfolio.web.deps import CsrfSession, CurrentSession, FormatDep, WorkspaceDep, roles
from keyfolio.web.render import HTML_PAGE, is_partial, page
from keyfolio.web.schemas.definition import (
    DefinitionPage,
    DiffPage,
    Problem,
    VersionDetail,
    VersionOut,
    VersionsPage,
    WhatIfOut,
)
from keyfolio.workspace import Workspace

router = APIRouter(tags=["definition"])
Editor = Annotated[WebSession | None, Depends(roles("lead", "admin"))]
MAX_BODY = policies.MAX_POLICY_BYTES
PROBLEMS: dict[int | str, dict[str, Any]] = {409: {"model": Problem}, 422: {"model": Problem}}
TextField = Annotated[str | None, Form(description="the policy as TOML (the raw editor)")]
BaseField = Annotated[
    str | None,
    Form(description="the TOML the form was shown from; with the form's fields "
         "(weight:<group>:<i>, scale:<group>:<i>, matrix:<key>, selection:<key>)"),
]  # fmt: skip


class BadInput(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


async def _policy_text(request: Request, toml: str | None, base: str | None) -> str:
    """The edited policy text: the raw TOML, or the form's fields set in ``base``."""
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY:
        raise BadInput(422, f"request body: expected at most {MAX_BODY // 1024} KiB, "
                            f"found {size / 1024:,.0f} KiB")  # fmt: skip
    if toml is not None:
        return toml
    if base is not None:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return apply_form(base, fields)
    raise BadInput(422, "expected the policy as `toml`, or the form's fields with `base`")


def _problem(
    request: Request, fmt: str, status: int, detail: str, session: WebSession, ws: Workspace,
    text: str | None = None,
) -> Response:  # fmt: skip
    if fmt == "json":
        return JSONResponse({"detail": detail}, status_code=status)
    if is_partial(request):
        model = Problem(detail=detail)
        return page(request, "html", "_whatif_error.html", model, session=session,
                    status_code=status)  # fmt: skip
    editor = _editor(ws, error=detail, text=text)
    return page(request, "html", "definition.html", editor, session=session, status_code=status,
                scales=SCALES)  # fmt: skip


def _editor(ws: Workspace, *, error: str | None = None, text: str | None = None) -> DefinitionPage:
    state = policies.current(ws)
    policy: Policy | None = None
    try:
        policy = parse_policy(state.text if text is None else text, source="keyfolio.toml")
    except PolicyError as exc:
        error = error or str(exc)
    latest = runs.latest(ws)
    model = DefinitionPage.of(state, policy, error, None if latest is None else latest.id)
    if text is not None:
        model.text = text
    return model


@router.get("/definition", response_model=DefinitionPage, responses=HTML_PAGE)
def definition(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, _: Editor,
    saved: Annotated[
        int | None, Query(ge=1, le=policies.MAX_VERSION, description="a version just saved")
    ] = None,
) -> Response:  # fmt: skip
    """The editor: the policy's criteria, weights, scales, cuts, rules and capacity, and
    keyfolio.toml itself; every change shows the what-if on the latest run."""
    model = _editor(ws)
    if saved is not None and model.newest is not None and saved == model.newest.number:
        model.saved = model.newest
    if model.run_id is not None and model.fields is not None:
        whatif.warm(ws, parse_policy(model.text))
    return page(request, fmt, "definition.html", model, session=session, scales=SCALES)


@router.post("/definition/what-if", response_model=WhatIfOut, responses={**HTML_PAGE, **PROBLEMS})
async def what_if(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CsrfSession, _: Editor,
    toml: TextField = None, base: BaseField = None,
) -> Response:  # fmt: skip
    """The edited policy re-scored and re-selected on the latest run: the new matrix and
    the accounts that would enter or leave the key list. Nothing is saved; no text means
    keyfolio.toml as it is."""
    text = ""
    try:
        if toml is None and base is None:
            toml = policies.current(ws).text
        text = await _policy_text(request, toml, base)
        policy = policies.check_text(text)
        result = whatif.what_if(ws, policy)
    except BadInput as exc:
        return _problem(request, fmt, exc.status, exc.detail, session, ws)
    except KeyfolioError as exc:  # a bad policy, or no run yet
        return _problem(request, fmt, 422 if isinstance(exc, PolicyError) else 409, str(exc),
                        session, ws)  # fmt: skip
    model = WhatIfOut.of(result, text)
    chart = _chart(result, policy, ws)
    return page(request, fmt, "_whatif.html", model, session=session, chart=chart)


@router.post("/definition", response_model=VersionOut, responses={**HTML_PAGE, **PROBLEMS})
async def save(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CsrfSession, _: Editor,
    toml: TextField = None, base: BaseField = None,
    expected_version: Annotated[str | None, Form(description="the version edited")] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    """Save the edited policy as a new version (and as keyfolio.toml): 422 with the reason
    and nothing saved on bad input, 409 when someone saved another version meanwhile."""
    text = toml if toml is not None else base
    try:
        expected = _expected(expected_version)
        text = await _policy_text(request, toml, base)
        saved = policies.save_policy(
            ws, text, session.user.email, note, expected, check=versions_mod.policy_check(ws)
        )
    except BadInput as exc:
        return _problem(request, fmt, exc.status, exc.detail, session, ws, text)
    except (ConcurrentChangeError, WorkspaceBusyError) as exc:
        return _problem(request, fmt, 409, str(exc), session, ws, text)
    except KeyfolioError as exc:
        return _problem(request, fmt, 422, str(exc), session, ws, text)
    model = VersionOut.of(saved)
    if fmt == "json" or is_partial(request):
        return page(request, fmt, "_definition_saved.html", model, session=session)
    return RedirectResponse(f"/definition?saved={saved.number}", status_code=303)


def _expected(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        raise BadInput(422, "expected_version: expected the version number you edited (0 for "
                            "a policy never saved in the app), found nothing")  # fmt: skip
    if not raw.strip().isdigit():
        raise BadInput(422, f"expected_version: expected a whole number, found {raw!r}")
    return int(raw)


@router.get("/definition/versions", response_model=VersionsPage, responses=HTML_PAGE)
def versions(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession
) -> Response:
    """Every saved version of the policy, newest first."""
    state = policies.current(ws)
    model = VersionsPage(
        versions=[VersionOut.of(v) for v in reversed(policies.versions(ws))],
        current=state.version, edited_outside=state.edited_outside,
    )  # fmt: skip
    return page(request, fmt, "definition_versions.html", model, session=session)


@router.get(
    "/definition/versions/{number}", response_model=VersionDetail,
    responses={**HTML_PAGE, 404: {"model": Problem}},
)  # fmt: skip
def version(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession, number: int
) -> Response:
    """One saved version: who saved it, when, why, and its text."""
    try:
        v = policies.version(ws, number)
    except policies.NoSuchVersion as exc:
        return _missing(request, fmt, session, str(exc))
    return page(request, fmt, "definition_version.html", VersionDetail.full(v), session=session)


@router.get(
    "/definition/diff", response_model=DiffPage, responses={**HTML_PAGE, 404: {"model": Problem}}
)
def diff(
    request: Request, fmt: FormatDep, ws: WorkspaceDep, session: CurrentSession,
    a: Annotated[int, Query(ge=1, le=policies.MAX_VERSION, description="the older version")],
    b: Annotated[int, Query(ge=1, le=policies.MAX_VERSION, description="the newer version")],
) -> Response:  # fmt: skip
    """What changed from version ``a`` to ``b`` (criteria, weights, scales, cuts, rules,
    capacity) and which accounts the change moves on the latest run."""
    try:
        d = versions_mod.diff_versions(ws, a, b)
    except policies.NoSuchVersion as exc:
        return _missing(request, fmt, session, str(exc))
    return page(request, fmt, "definition_diff.html", DiffPage.of(d), session=session)


def _missing(request: Request, fmt: str, session: WebSession, detail: str) -> Response:
    if fmt == "json":
        return JSONResponse({"detail": detail}, status_code=404)
    engine = request.app.state.templates
    context = {"status": 404, "detail": detail, "user": session.user,
               "csrf_token": session.csrf_token}  # fmt: skip
    return engine.TemplateResponse(request, "error.html", context, status_code=404)


def _chart(w: whatif.WhatIf, policy: Policy, ws: Workspace) -> dict[str, Any]:
    """The KAM matrix after the edit (Plotly figure of the report's matrix chart)."""
    pts = w.points
    points = pd.DataFrame({
        "account_id": pts["account_id"].astype(str), "name": pts["name"].astype(str),
        "strength": pts["strength"], "attractiveness": pts["attractiveness"],
        "size": pts["revenue"], "decision": pts["decision"].astype(str),
        "size_tier": pts["size_tier"].astype(str), "quadrant": pts["quadrant"].astype(str),
    })  # fmt: skip
    run = runs.get(ws, w.run_id)
    return matrix_chart(
        points, a_cut=policy.matrix.attractiveness_cut, s_cut=policy.matrix.strength_cut,
        quadrants=STRATEGY, size_label="revenue",
        currency=str(run.meta().get("currency") or policy.currency), anchors={},
    )  # fmt: skip

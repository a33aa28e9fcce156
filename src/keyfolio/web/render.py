"""One handler answers HTML and JSON: :func:`page` renders a template with the model, or
returns the model itself as JSON. Templates are autoescaped (names are always text)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from keyfolio import fmt
from keyfolio.db.users import WebSession
from keyfolio.web.deps import Format

# OpenAPI: the pages answer HTML too (the JSON shape is each route's response_model).
HTML_PAGE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}}}


def templates() -> Jinja2Templates:
    folder = Path(str(resources.files("keyfolio.web") / "templates"))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["fmt"] = fmt
    return Jinja2Templates(env=env)


def page(
    request: Request,
    format: Format,
    template: str,
    model: BaseModel,
    *,
    session: WebSession | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """``model`` as JSON, or ``template`` rendered with it. With ``session`` the page gets
    ``user`` (the signed-in user: the navigation shows what their role may open) and
    ``csrf_token`` (for its forms)."""
    if format == "json":
        return JSONResponse(model.model_dump(mode="json"), status_code=status_code)
    engine: Jinja2Templates = request.app.state.templates
    return engine.TemplateResponse(
        request,
        template,
        {
            "model": model,
            "user": None if session is None else session.user,
            "csrf_token": None if session is None else session.csrf_token,
            **context,
        },
        status_code=status_code,
    )


def is_partial(request: Request) -> bool:
    """The page's own script asks for a fragment (``X-Partial: 1``, see static/app.js)."""
    return request.headers.get("x-partial") == "1"

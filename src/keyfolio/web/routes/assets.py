"""Third-party JavaScript served by the app itself (no CDN: the app works offline).

Plotly.js comes from the installed ``plotly`` package (the bundle the report embeds), read
once per app and cached by browsers for a day.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from keyfolio.db.users import WebSession
from keyfolio.web.deps import PUBLIC

router = APIRouter(tags=["assets"])
Anyone = Annotated[WebSession | None, Depends(PUBLIC)]


@functools.cache
def _plotly() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode()
    return body, hashlib.sha256(body).hexdigest()[:16]


@router.get(
    "/vendor/plotly.min.js",
    responses={200: {"content": {"text/javascript": {}}}},
    response_class=Response,
)
def plotly_js(request: Request, _: Anyone) -> Response:
    """Plotly.js from the installed plotly package."""
    body, etag = _plotly()
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(
        body,
        media_type="text/javascript",
        headers={"ETag": etag, "Cache-Control": "public, max-age=86400"},
    )

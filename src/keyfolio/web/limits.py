"""Request bodies are bounded: a body over :data:`MAX_BODY` bytes is refused with 413 and a
clear message before any route sees it (by its Content-Length, or while it streams in when
it has none), so nothing is parsed or saved. The largest thing the app takes is a policy
file (256 KiB, checked again by the editor)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024


class LimitBody:
    """ASGI middleware: 413 for a request body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        too_big = False
        started = False

        async def counted() -> Message:
            nonlocal seen, too_big
            if too_big:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_big = True  # the app's answer (a parse error) is replaced below
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if too_big and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not too_big:
                raise
        if too_big and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        text = (
            f"request body too large: expected at most {self.limit // 1024} KiB; nothing was saved"
        )
        accept = dict(scope.get("headers") or ()).get(b"accept", b"").decode("latin-1")
        if "text/html" in accept:
            body = (
                "<!doctype html><title>413 · Keyfolio</title>"
                f"<h1>413</h1><p role=alert>{text}</p><p><a href=/>Back</a></p>"
            ).encode()
            kind = b"text/html; charset=utf-8"
        else:
            body = json.dumps({"detail": text}).encode()
            kind = b"application/json"
        headers: list[Any] = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

"""Request bodies bounded before anything else reads them.

`BodyLimit` is the outermost ASGI middleware of a service: a body larger than its route
allows is refused with a JSON 413 naming `body` — at once when its `Content-Length` says so,
otherwise as soon as the bytes received pass the limit — before authentication, routing or
parsing read it, so a client without a token cannot make a service hold 100 MB. Routes take
`INOVASI_MAX_REQUEST_BODY_BYTES` unless the service names a larger limit for one (evidence
uploads).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Route = tuple[str, str]  # (method, path relative to the service, e.g. ("POST", "/v1/evidence"))


def too_large_detail(limit: int) -> dict[str, Any]:
    reason = f"the request body is larger than the limit of {limit} bytes for this request"
    return {"error": "too_large", "problems": [{"field": "body", "reason": reason}]}


class BodyTooLarge(HTTPException):
    """Raised from `receive()` when the bytes received pass the limit; FastAPI and the
    service's error handlers pass an HTTPException through as it is (a 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_detail(limit))


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length, when it is a plain number; None when absent or malformed (the
    limit then holds on the bytes received)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            if text.isascii() and text.isdigit():
                digits = text.lstrip("0") or "0"
                # int() refuses strings of thousands of digits: such a length is huge anyway.
                return int(digits) if len(digits) <= 18 else 10**18
            return None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, *, default: int, routes: Mapping[Route, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes or {})

    def limit_for(self, scope: Scope) -> int:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted under /<service>
            path = path[len(root):]
        return self.routes.get((scope.get("method", ""), path), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = declared_length(scope.get("headers") or [])
        if declared is not None and declared > limit:
            await _send_too_large(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            # Whoever read the body let the refusal through: answer it here, if nothing was sent.
            if not started:
                await _send_too_large(send, limit)


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(too_large_detail(limit)).encode()
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})

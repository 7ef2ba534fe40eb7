"""The answer route without FastAPI's per-request machinery, for well-formed requests.

`PUT /v1/cycles/{year}/innovations/{id}/answers/{indicator}` is what a deadline rush is made
of, and intake spends most of its CPU on it in the framework rather than in the change:
routing through every route, solving the dependency tree (token, role, service
dependencies, three path parameters, a header, the body), the exception and exit-stack
layers. `AnswerFastPath` serves the requests that are well formed — a valid operator token,
a JSON body that is a valid `LevelBody`, a version in `If-Match`, plausible path parameters
— by the same translation and the same use case as the route in `http.py`, and answers
with the same view and the same error handlers. Anything else (no token or a refused one,
a body or a parameter FastAPI would refuse, no `If-Match`) goes on to the FastAPI route
with its body replayed, so every refusal keeps FastAPI's exact answer; the OpenAPI
document is the route's. tests/integration/intake/test_fast_answers.py holds the two to the
same answers.

It sits innermost among the service's middleware, so correlation ids, body limits and
request metrics (under the route's template) apply to it as to any route.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import InvalidInput
from services.common.principal import Principal
from services.common.tokens import TokenError
from services.intake import handlers
from services.intake.domain.commands import InnovationRef, SetSidAnswer
from services.intake.entrypoints.http import INNOVATION_ID_PATTERN, expected_version, router, versioned
from services.intake.entrypoints.schemas import LevelBody

TEMPLATE = "/v1/cycles/{year}/innovations/{innovation_id}/answers/{indicator}"
ROUTE = next(r for r in router.routes if isinstance(r, APIRoute) and r.path == TEMPLATE and "PUT" in (r.methods or ()))
_PATH = re.compile(r"/v1/cycles/(?P<year>[0-9]{4})/innovations/(?P<innovation_id>[^/]+)/answers/(?P<indicator>[^/]+)")
_INNOVATION_ID = re.compile(INNOVATION_ID_PATTERN)
# A bearer token as `authenticate` reads it, in the only shape both readings agree on (JWT
# characters, one space); anything else is left to it.
_BEARER = re.compile(rb"[Bb][Ee][Aa][Rr][Ee][Rr] ([A-Za-z0-9_.-]+)")


class AnswerFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.served = 0  # requests answered here rather than by the route (tests read it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        match = _PATH.fullmatch(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            complete = await _read_body(receive, chunks)
        except Exception as exc:  # a body over the limit (BodyLimit): the route meets it too
            await self.app(scope, _replaying(chunks, complete=False, then=exc, receive=receive), send)
            return
        response = await self._answer(scope, receive, match, b"".join(chunks)) if complete else None
        if response is None:  # not well formed: FastAPI's route answers, as always
            await self.app(scope, _replaying(chunks, complete=complete, then=None, receive=receive), send)
            return
        self.served += 1
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, match: re.Match[str], body: bytes) -> Response | None:
        year = int(match["year"])
        innovation_id, indicator = match["innovation_id"], match["indicator"]
        if not 2000 <= year <= 2100 or not _INNOVATION_ID.match(innovation_id):
            return None
        headers = _headers(scope)
        principal = _operator(scope, headers.get(b"authorization"))
        version = _version(headers.get(b"if-match"))
        media_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if principal is None or version is None or media_type != b"application/json":
            return None
        try:
            level = LevelBody.model_validate(json.loads(body)).level  # as FastAPI reads a body
        except Exception:  # not JSON, too deeply nested, not a LevelBody: the route answers it
            return None
        scope["route"] = ROUTE  # as the router records it: metrics name the route, whatever comes
        deps = scope["app"].state.runtime.deps
        command = SetSidAnswer(InnovationRef(year, innovation_id), version, indicator, level)
        try:
            return versioned(await handlers.set_sid_answer(deps, principal, command))
        except Exception as exc:
            handler = _handler_for(scope["app"], exc)
            if handler is None:
                raise
            return await handler(Request(scope, receive), exc)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The first value of each header, as Starlette's `headers.get` reads them."""
    found: dict[bytes, bytes] = {}
    for name, value in scope.get("headers") or ():
        found.setdefault(name.lower(), value)
    return found


def _operator(scope: Scope, authorization: bytes | None) -> Principal | None:
    """The operator the token names, or None for anything `authenticate` and the role check
    would refuse (they then answer it)."""
    bearer = _BEARER.fullmatch(authorization or b"")
    if bearer is None:
        return None
    state = scope["app"].state
    try:
        principal: Principal = state.tokens.verify(bearer.group(1).decode())
    except TokenError:
        return None
    revocations = getattr(state, "revocations", None)
    if revocations is not None and revocations.refusal(principal) is not None:
        return None
    return principal if principal.role == "operator" else None


def _version(if_match: bytes | None) -> int | None:
    """The version `If-Match` names; None without one or for one the route refuses."""
    if if_match is None:
        return None
    try:
        return expected_version(if_match.decode("latin-1"))
    except InvalidInput:
        return None


def _handler_for(app: Any, exc: Exception) -> Any:
    """The app's exception handler for `exc` (a domain error, PostgreSQL out of reach), as
    Starlette's exception middleware picks it: the nearest class in its MRO."""
    for cls in type(exc).__mro__:
        if cls is Exception:  # a handler of Exception is the server-error layer's, not this one's
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None


async def _read_body(receive: Receive, chunks: list[bytes]) -> bool:
    """Read the body into `chunks`; whether it came whole (False: the client went away)."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return True


def _replaying(chunks: list[bytes], *, complete: bool, then: Exception | None, receive: Receive) -> Receive:
    """`receive` as if nothing had been read: the body read so far, then what came next —
    the rest of the body, the client's disconnect, or the refusal `then` raised again."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": not complete}
        if then is not None:
            raise then
        if not complete:
            return {"type": "http.disconnect"}
        return await receive()

    return replay

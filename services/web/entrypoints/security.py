"""What every answer of the web app carries for the browser's protection, and what a
request says about its client when it came through the gateway.

Content-Security-Policy: scripts, styles, images, connections and frames from this site
only; no inline script or style, no plug-in, no framing of the pages (also X-Frame-Options),
forms post here only. (An evidence file, framed by the verification page, sets its own
stricter policy: work_pages.file_headers.) X-Content-Type-Options: nosniff.
Referrer-Policy: same-origin. Pages are personal: Cache-Control: no-store."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web.settings import WebSettings

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",  # an evidence file shown in the verification page (/bukti/{id}/berkas)
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeaders:
    """ASGI middleware: the headers above on every answer; `no-store` on HTML ones."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _peer(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def client_address(request: Request, settings: WebSettings) -> str:
    """The client's address: the peer's, or — when the peer is a trusted proxy — the last
    address it appended to X-Forwarded-For."""
    peer = _peer(request)
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and settings.trusts(peer):
        last = forwarded.split(",")[-1].strip()
        if last and len(last) <= 64:
            return last
    return peer or "unknown"


def is_https(request: Request, settings: WebSettings) -> bool:
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "")
    return settings.trusts(_peer(request)) and proto.split(",")[0].strip().lower() == "https"

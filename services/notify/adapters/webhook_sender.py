"""POSTs one signed webhook and reports what happened, never raising for the receiver's
failures (they are the delivery log's business, not an exception)."""

from __future__ import annotations

import asyncio
import time

import httpx

from services.notify.domain import signing
from services.notify.domain.retry import AttemptResult

USER_AGENT = "inovasi-notify/1"
EXCERPT_BYTES = 500  # of the receiver's answer, kept in the log for the region's admin


class WebhookSender:
    def __init__(self, *, timeout_s: float, client: httpx.AsyncClient | None = None) -> None:
        self.timeout_s = timeout_s
        # Redirects are not followed: a signed body must not be forwarded elsewhere.
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def headers(self, *, delivery_id: int, event_id: str, kind: str, secret: str, body: bytes, now: float) -> dict[str, str]:
        timestamp = int(now)
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.EVENT_ID_HEADER: event_id,
            signing.KIND_HEADER: kind,
            signing.DELIVERY_HEADER: str(delivery_id),
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
        }

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()
        try:
            # One deadline for the whole exchange: httpx's timeout is per read, which a
            # receiver trickling bytes could stretch indefinitely.
            async with asyncio.timeout(self.timeout_s):
                async with self._client.stream("POST", url, content=body, headers=headers) as response:
                    excerpt = await _read_excerpt(response)
                    status = response.status_code
        except TimeoutError:
            return AttemptResult(None, f"timed out after {self.timeout_s:g}s", _ms(started))
        except httpx.TimeoutException as exc:
            return AttemptResult(None, f"timed out ({type(exc).__name__})", _ms(started))
        except httpx.HTTPError as exc:
            return AttemptResult(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        except Exception as exc:  # e.g. httpx.InvalidURL: still an attempt, recorded as failed
            return AttemptResult(None, f"{type(exc).__name__}: {exc}"[:500], _ms(started))
        return AttemptResult(status, None, _ms(started), excerpt)


async def _read_excerpt(response: httpx.Response) -> str | None:
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    if not data:
        return None
    return data[:EXCERPT_BYTES].decode("utf-8", "replace")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

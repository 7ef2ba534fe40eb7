"""The demo's HTTP client: every call as a person (`Actor`) with a signed token, one
correlation id per step, and transient failures retried (`RetryPolicy`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

from devtools.demo.data import CYCLE, DEMO_SUBJECT_PREFIX, AgencyKind
from devtools.demo.files import EvidenceUpload
from devtools.demo.planner import Verdict
from services.common.logging import get_logger
from services.common.tokens import issue_token

log = get_logger("devtools.demo")

# The X-Correlation-ID of the requests of the current step. The services put it on every
# event the step causes, score.updated included, so a step can be followed through the logs
# ("demo-step-12") and a test can tell which score change a step caused.
_step_id: ContextVar[str] = ContextVar("inovasi_demo_step", default="demo")


@contextmanager
def step(correlation_id: str) -> Iterator[None]:
    token = _step_id.set(correlation_id)
    try:
        yield
    finally:
        _step_id.reset(token)


@dataclass(frozen=True, slots=True)
class Actor:
    role: str
    region: str
    agency: str | None = None

    def __str__(self) -> str:
        return f"operator {self.agency}" if self.agency else self.role.replace("_", " ")

    @property
    def subject(self) -> str:
        """The subject of its tokens, which says the demo acted (evidence's `uploaded_by`)."""
        return f"{DEMO_SUBJECT_PREFIX}{self.role}:{self.region}" + (f":{self.agency}" if self.agency else "")


class DemoStopped(Exception):
    """The server is shutting down: the demo stops between two requests."""


class DemoRequestError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:300]}")
        self.status_code = response.status_code


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a request that failed for a passing reason is tried again: up
    to `attempts` tries; in between, the server's Retry-After where it sent one, else
    `first_delay_s` doubling with each try; never longer than `max_delay_s`, so that a
    server asking for minutes cannot stall a region's seeding."""

    attempts: int = 8
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def delay_s(self, failed_attempt: int, retry_after_s: float | None) -> float:
        """Seconds to wait after try number `failed_attempt` (from 1) failed."""
        wanted = self.first_delay_s * 2 ** (failed_attempt - 1) if retry_after_s is None else retry_after_s
        return min(wanted, self.max_delay_s)


DEFAULT_RETRY = RetryPolicy()


def is_transient(response: httpx.Response) -> bool:
    """A failure that passes by itself: overloaded or unavailable (429, 503), or a conflict
    the server says to retry (409 with Retry-After: the evidence service has not yet heard of
    a just-created innovation). Any other 409 is a real conflict; other 4xx never pass."""
    if response.status_code in (429, 503):
        return True
    return response.status_code == 409 and "Retry-After" in response.headers


def retry_after_s(response: httpx.Response) -> float | None:
    """The response's Retry-After in seconds (the platform sends seconds; a date, which it
    never sends, counts as absent and the backoff applies)."""
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class TransientFailure:
    """One try that failed for a passing reason; `error` is raised when the tries run out."""

    error: Exception
    retry_after_s: float | None = None

    def __str__(self) -> str:
        if isinstance(self.error, DemoRequestError):
            return str(self.error)
        detail = str(self.error)  # empty for some of httpx's timeouts
        return f"{type(self.error).__name__}: {detail}" if detail else type(self.error).__name__


class DemoApi:
    """The demo's calls to the public API. A fresh token per request (they are cheap and
    expire after 12 h, and the demo may run for days)."""

    def __init__(self, client: httpx.AsyncClient, secret: str, stopping: asyncio.Event,
                 retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.client = client
        self.secret = secret
        self.stopping = stopping
        self.retry = retry

    async def call(self, actor: Actor, method: str, path: str, *, expect: Sequence[int] = (200,),
                   headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """The response, if its status is in `expect`. A transient failure (`is_transient`, a
        connection error, a timeout) is tried again as `self.retry` says, each retry logged;
        any other status raises DemoRequestError at once."""
        request = f"{method} {path}"
        attempt = 1
        while True:
            outcome = await self._try_once(actor, method, path, expect, headers or {}, kwargs)
            if isinstance(outcome, httpx.Response):
                return outcome
            if attempt >= self.retry.attempts:
                log.error("demo request failed; giving up", request=request, failure=str(outcome), attempts=attempt)
                raise outcome.error
            delay_s = self.retry.delay_s(attempt, outcome.retry_after_s)
            log.warning("demo request failed; retrying", request=request, failure=str(outcome), attempt=attempt,
                        max_attempts=self.retry.attempts, retry_in_s=round(delay_s, 3))
            await self.pause(delay_s)
            attempt += 1

    async def _try_once(self, actor: Actor, method: str, path: str, expect: Sequence[int], headers: dict[str, str],
                        kwargs: dict[str, Any]) -> httpx.Response | TransientFailure:
        if self.stopping.is_set():
            raise DemoStopped
        token = issue_token(self.secret, actor.role, actor.region, actor.agency,  # type: ignore[arg-type]
                            subject=actor.subject)
        all_headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": _step_id.get(), **headers}
        try:
            response = await self.client.request(method, path, headers=all_headers, **kwargs)
        except httpx.TransportError as error:  # refused or reset connections, timeouts
            return TransientFailure(error)
        if response.status_code in expect:
            return response
        if not is_transient(response):
            raise DemoRequestError(response)
        return TransientFailure(DemoRequestError(response), retry_after_s(response))

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake (and stop) at once on shutdown."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        if self.stopping.is_set():
            raise DemoStopped

    # --- intake ------------------------------------------------------------------------

    async def agencies(self, region: str) -> list[dict[str, Any]]:
        response = await self.call(Actor("region_admin", region), "GET", f"/intake/v1/regions/{region}/agencies")
        return response.json()["agencies"]

    async def register_agency(self, region: str, agency: AgencyKind) -> None:
        # 409: registered by an earlier, interrupted seeding; that is what we wanted.
        await self.call(Actor("region_admin", region), "POST", f"/intake/v1/regions/{region}/agencies",
                        json={"id": agency.id, "name": agency.name}, expect=(201, 409))

    async def create_innovation(self, operator: Actor, profile: dict[str, Any], key: str) -> dict[str, Any]:
        response = await self.call(operator, "POST", f"/intake/v1/cycles/{CYCLE}/innovations", json=profile,
                                   headers={"Idempotency-Key": key}, expect=(201,))
        created = response.json()
        if response.headers.get("Idempotent-Replayed") == "true":
            # The replay is the first answer, with its old version: read the current one.
            return await self.innovation(operator, created["id"])
        return created

    async def innovation(self, actor: Actor, innovation_id: str) -> dict[str, Any]:
        return (await self.call(actor, "GET", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation_id}")).json()

    async def innovations(self, region: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"after": after} if after else {})}
            page = (await self.call(Actor("region_admin", region), "GET", f"/intake/v1/cycles/{CYCLE}/innovations",
                                    params=params)).json()
            items += page["items"]
            after = page["next_after"]
            if after is None:
                return items

    async def set_answer(
        self, operator: Actor, innovation: dict[str, Any], indicator: str, level: int
    ) -> dict[str, Any]:
        response = await self.call(
            operator, "PUT", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/answers/{indicator}",
            json={"level": level}, headers={"If-Match": str(innovation["version"])},
        )
        return response.json()

    async def submit(self, operator: Actor, innovation: dict[str, Any]) -> dict[str, Any]:
        response = await self.call(operator, "POST", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/submit",
                                   headers={"If-Match": str(innovation["version"])})
        return response.json()

    async def spd_answers(self, region: str) -> list[dict[str, Any]]:
        path = f"/intake/v1/cycles/{CYCLE}/regions/{region}/spd"
        return (await self.call(Actor("region_admin", region), "GET", path)).json()["answers"]

    async def set_spd(self, region: str, indicator: str, level: int, version: int) -> dict[str, Any]:
        # An SPD answer never set has version 0: the first write sends If-Match: 0.
        response = await self.call(Actor("region_admin", region), "PUT",
                                   f"/intake/v1/cycles/{CYCLE}/regions/{region}/spd/{indicator}",
                                   json={"level": level}, headers={"If-Match": str(version)})
        return response.json()

    # --- evidence ----------------------------------------------------------------------

    async def upload(self, actor: Actor, indicator: str, upload: EvidenceUpload, *,
                     innovation: dict[str, Any] | None = None, region: str | None = None) -> dict[str, Any]:
        """Upload one file or link for a SID answer (innovation) or an SPD answer (region).
        The innovation's upload grant, where intake hands one out, lets the evidence of a
        just-created innovation in before the evidence service has heard of it."""
        params = {"cycle": CYCLE, "indicator": indicator,
                  **({"innovation": innovation["id"]} if innovation else {"region": region})}
        grant = innovation.get("upload_grant") if innovation else None
        headers = {"X-Upload-Grant": grant} if grant else {}
        if upload.link is not None:
            body: dict[str, Any] = {"json": {"link": upload.link}}
        else:
            body = {"content": upload.content}
            headers["Content-Type"] = "application/octet-stream"
        response = await self.call(actor, "POST", "/evidence/v1/evidence", params=params, expect=(201,),
                                   headers=headers, **body)
        return response.json()

    async def evidence(self, region: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"cycle": CYCLE, "region": region, "limit": 500}
            if after:
                params["after"] = after
            page = (await self.call(Actor("verifier", region), "GET", "/evidence/v1/evidence", params=params)).json()
            items += page["items"]
            after = page["next_after"]
            if after is None:
                return items

    async def decide(self, region: str, evidence_id: str, verdict: Verdict) -> None:
        body = {"decision": verdict.decision, **({"reason": verdict.reason} if verdict.reason else {})}
        await self.call(Actor("verifier", region), "POST", f"/evidence/v1/evidence/{evidence_id}/decision", json=body)

    # --- scoring -----------------------------------------------------------------------

    async def score(self, region: str) -> dict[str, Any]:
        path = f"/scoring/v1/cycles/{CYCLE}/regions/{region}/score"
        return (await self.call(Actor("viewer", region), "GET", path)).json()

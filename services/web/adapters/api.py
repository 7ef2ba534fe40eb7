"""The four services' HTTP APIs, called as the signed-in person.

Every call carries a token minted for the person and this request only: the account's own
role, region and agency, `sub` = the account id, `jti` = the browser session's id, valid
five minutes. The web service never calls the APIs with a token of its own, so each API's
tenancy rules hold for pages exactly as for scripts.

Where the APIs run in the same process (`inovasi up`), requests go over
`httpx.ASGITransport` to the platform app (no socket); otherwise to INOVASI_WEB_API_URL: the
gateway (`http://gateway:8000`), or a URL naming each service (`http://{service}:8000`,
where `{service}` becomes intake, scoring, …, as Kubernetes names their Services).

An API's error answer becomes the domain error it stands for: a 422 keeps
its problems per field (`body.name` → `name`), so a form shows each next to its field; a
503, a timeout or an unreachable API is `Unavailable`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from services.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionRequired,
    Problem,
    StaleVersion,
    TooLarge,
    Unavailable,
)
from services.common.logging import get_logger
from services.common.principal import Role
from services.common.tokens import issue_token

log = get_logger(__name__)

PERSON_TOKEN_TTL_S = 300


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Agency(_Record):
    id: str
    name: str


class Rank(_Record):
    position: int
    of: int


class FigureRanks(_Record):
    type: Rank | None = None
    province: Rank | None = None  # None for a provinsi


class Figure(_Record):
    iid: Decimal
    category: str
    innovations_counted: int = 0
    ranks: FigureRanks = FigureRanks()


class Score(_Record):
    """The part of scoring's RegionScore the pages show."""

    region: str
    name: str
    version: int
    claimed: Figure
    provisional: Figure
    validated: Figure
    type: str = "kabupaten"
    province: str | None = None
    computed_at: datetime | None = None
    cause_type: str | None = None

    def figure(self, name: str) -> Figure:
        figure: Figure = getattr(self, name)
        return figure


# --- region pages: history, rankings, explanation, gap plan, agencies' status -------------


class ScoreHistory(_Record):
    scores: list[Score]  # newest first


class RankedRegion(_Record):
    rank: int
    region: str
    name: str
    iid: Decimal
    category: str


class Rankings(_Record):
    type: str
    province: str | None
    figure: str
    regions: list[RankedRegion]


class AnswerRef(_Record):
    """An answer scoring's explanation says needs acting on (innovation None: an SPD answer)."""

    innovation: str | None
    indicator: str
    name: str
    reason: str | None = None


class ExplainedInnovation(_Record):
    id: str
    name: str | None
    agency: str | None
    status: str
    counted: bool


class Explanation(_Record):
    figure: str
    innovations: list[ExplainedInnovation]
    missing: list[AnswerRef]
    pending: list[AnswerRef]
    rejected: list[AnswerRef]


class GapAction(_Record):
    kind: str  # raise_level, accept_evidence, add_evidence, answer
    innovation: str | None
    indicator: str
    level_before: int | None
    level_after: int
    evidence_before: str
    evidence_after: str
    iid_after: Decimal


class GapTarget(_Record):
    label: str
    iid: Decimal


class MoreInnovations(_Record):
    maturity: Decimal
    count: int | None
    iid_after: Decimal


class GapPlan(_Record):
    figure: str
    target: GapTarget
    iid_now: Decimal
    category_now: str
    reached: bool
    existing_answers_reach_target: bool
    actions: list[GapAction]
    iid_after_actions: Decimal
    more_innovations: MoreInnovations | None


class InnovationCounts(_Record):
    draft: int
    submitted: int
    withdrawn: int
    total: int


class AgencyReport(_Record):
    id: str
    name: str
    innovations: InnovationCounts
    reported: bool


class AgencyStatus(_Record):
    agencies: list[AgencyReport]
    not_reported: list[str]


class RegionInnovation(_Record):
    """An innovation as the region's listing shows it."""

    id: str
    agency_id: str
    name: str
    status: str


class DecidedEvidence(_Record):
    """An evidence item and the verifier's decision on it."""

    id: str
    innovation: str | None
    agency: str | None
    indicator: str
    state: str
    reason: str | None
    decided_at: datetime | None


# --- work pages: innovations (intake), evidence, the score's basis ------------------------


class EligibilityProblem(_Record):
    rule: str
    field: str
    reason: str


class Eligibility(_Record):
    eligible: bool
    problems: list[EligibilityProblem]


class Innovation(_Record):
    """An innovation as intake answers it (the upload grant is used by the server only)."""

    id: str
    cycle: int
    region: str
    agency_id: str
    status: str
    version: int
    name: str
    tahapan: str | None = None
    jenis: str | None = None
    bentuk: str | None = None
    inisiator: str | None = None
    urusan_utama: str
    urusan_lain: list[str] = []
    tanggal_uji_coba: date | None = None
    tanggal_penerapan: date | None = None
    rancang_bangun: str | None = None
    rancang_bangun_words: int = 0
    tujuan: str | None = None
    manfaat: str | None = None
    hasil: str | None = None
    answers: dict[str, int] = {}
    eligibility: Eligibility
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    upload_grant: str = Field("", repr=False)


class InnovationList(_Record):
    items: list[Innovation]
    next_after: str | None = None


class EvidenceItem(_Record):
    id: str
    cycle: int
    region: str
    innovation: str | None
    agency: str | None
    indicator: str
    kind: str  # pdf, image, video, link
    content_type: str | None = None
    size: int | None = None
    link: str | None = None
    state: str  # pending, accepted, rejected
    reason: str | None = None
    decided_at: datetime | None = None
    uploaded_at: datetime
    version: int = 1


class EvidenceDownload(_Record):
    url: str = Field(repr=False)


class EvidenceDecision(_Record):
    decision: str
    reason: str | None = None
    decided_at: datetime


class EvidenceDetail(EvidenceItem):
    download: EvidenceDownload | None = None
    decisions: list[EvidenceDecision] = []


class EvidenceList(_Record):
    items: list[EvidenceItem]
    next_after: str | None = None


class SpdAnswer(_Record):
    indicator: str
    level: int | None = None


class BasisFigure(_Record):
    """What a figure of the region's score is computed from (for an innovation's share)."""

    iid: Decimal
    category: str
    innovations_counted: int = 0
    basic_services_covered: int | None = None


class ScoreBasis(_Record):
    region: str
    version: int
    claimed: BasisFigure
    provisional: BasisFigure
    validated: BasisFigure


# Reading the answer to an upload may take a while (the evidence service checks a PDF whole).
UPLOAD_READ_TIMEOUT_S = 120.0


class Webhook(_Record):
    id: str
    url: str
    scope: dict[str, str]
    kinds: list[str]
    created_at: str


class CreatedWebhook(Webhook):
    secret: str


class PersonApi:
    """The APIs as one person: built per request by `Apis.for_person`."""

    def __init__(self, client: httpx.AsyncClient, token: str, base_url: str = "") -> None:
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}
        self._base_url = base_url

    def _url(self, path: str) -> str:
        """`/scoring/v1/…` at the base URL, `{service}` in it naming the path's service."""
        service = path.split("/", 2)[1]
        return self._base_url.replace("{service}", service).rstrip("/") + path

    # --- scoring ---------------------------------------------------------------------------

    async def region_score(self, cycle: int, region: str) -> Score:
        return Score.model_validate(await self._call("GET", f"/scoring/v1/cycles/{cycle}/regions/{region}/score"))

    # region pages (dashboard, rankings, profile) ---------------------------------------

    async def region_history(self, cycle: int, region: str, limit: int = 100) -> ScoreHistory:
        path = f"/scoring/v1/cycles/{cycle}/regions/{region}/history"
        return ScoreHistory.model_validate(await self._call("GET", path, params={"limit": str(limit)}))

    async def explanation(self, cycle: int, region: str, figure: str = "validated") -> Explanation:
        path = f"/scoring/v1/cycles/{cycle}/regions/{region}/explain"
        return Explanation.model_validate(await self._call("GET", path, params={"figure": figure}))

    async def gap_plan(self, cycle: int, region: str, target: str, figure: str = "validated") -> GapPlan:
        path = f"/scoring/v1/cycles/{cycle}/regions/{region}/gap"
        return GapPlan.model_validate(await self._call("GET", path, params={"target": target, "figure": figure}))

    async def rankings(self, cycle: int, region_type: str, figure: str, province: str | None = None) -> Rankings:
        params = {"type": region_type, "figure": figure, **({"province": province} if province else {})}
        return Rankings.model_validate(await self._call("GET", f"/scoring/v1/cycles/{cycle}/rankings", params=params))

    # --- intake ----------------------------------------------------------------------------

    async def agencies(self, region: str) -> list[Agency]:
        body = await self._call("GET", f"/intake/v1/regions/{region}/agencies")
        return [Agency.model_validate(item) for item in body["agencies"]]

    async def register_agency(self, region: str, agency_id: str, name: str) -> Agency:
        body = await self._call("POST", f"/intake/v1/regions/{region}/agencies", json={"id": agency_id, "name": name})
        return Agency.model_validate(body)

    # region pages (dashboard) ----------------------------------------------------------

    async def agency_status(self, cycle: int, region: str) -> AgencyStatus:
        path = f"/intake/v1/cycles/{cycle}/regions/{region}/agencies/status"
        return AgencyStatus.model_validate(await self._call("GET", path))

    async def region_innovations(self, cycle: int, region: str, *, pages: int = 10) -> list[RegionInnovation]:
        """Every innovation of the region the person reads, all statuses (at most `pages` × 500)."""
        found: list[RegionInnovation] = []
        after: str | None = None
        for _ in range(pages):
            params = {"region": region, "limit": "500", **({"after": after} if after else {})}
            body = await self._call("GET", f"/intake/v1/cycles/{cycle}/innovations", params=params)
            found += [RegionInnovation.model_validate(item) for item in body["items"]]
            after = body.get("next_after")
            if not after:
                break
        return found

    async def decided_evidence(self, cycle: int, region: str, state: str, *, pages: int = 10) -> list[DecidedEvidence]:
        """The region's evidence items in `state` (e.g. rejected, with the verifier's reason)."""
        found: list[DecidedEvidence] = []
        after: str | None = None
        for _ in range(pages):
            params = {"cycle": str(cycle), "region": region, "state": state, "limit": "500",
                      **({"after": after} if after else {})}
            body = await self._call("GET", "/evidence/v1/evidence", params=params)
            found += [DecidedEvidence.model_validate(item) for item in body["items"]]
            after = body.get("next_after")
            if not after:
                break
        return found

    # --- notify ----------------------------------------------------------------------------

    async def webhooks(self) -> list[Webhook]:
        body = await self._call("GET", "/notify/v1/subscriptions")
        return [Webhook.model_validate(item) for item in body["subscriptions"]]

    async def create_webhook(self, url: str, scope: Mapping[str, str], kinds: Sequence[str]) -> CreatedWebhook:
        body = await self._call(
            "POST", "/notify/v1/subscriptions", json={"url": url, "scope": dict(scope), "kinds": list(kinds)}
        )
        return CreatedWebhook.model_validate(body)

    async def delete_webhook(self, subscription_id: str) -> None:
        await self._call("DELETE", f"/notify/v1/subscriptions/{subscription_id}")

    # --- work pages: innovations, evidence, decisions (handlers/innovations.py, verification.py)

    def _innovations(self, cycle: int) -> str:
        return f"/intake/v1/cycles/{cycle}/innovations"

    async def agency_innovations(self, cycle: int, agency: str, *, after: str | None = None,
                                 limit: int = 50) -> InnovationList:
        params = {"agency": agency, "limit": str(limit), **({"after": after} if after else {})}
        return InnovationList.model_validate(await self._call("GET", self._innovations(cycle), params=params))

    async def innovation(self, cycle: int, innovation_id: str) -> Innovation:
        return Innovation.model_validate(await self._call("GET", f"{self._innovations(cycle)}/{innovation_id}"))

    async def create_innovation(self, cycle: int, profile: Mapping[str, Any],
                                idempotency_key: str | None) -> Innovation:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = await self._call("POST", self._innovations(cycle), json=dict(profile), headers=headers)
        return Innovation.model_validate(body)

    async def update_innovation(self, cycle: int, innovation_id: str, version: int | None,
                                profile: Mapping[str, Any]) -> Innovation:
        body = await self._call("PUT", f"{self._innovations(cycle)}/{innovation_id}", json=dict(profile),
                                headers=_if_match(version))
        return Innovation.model_validate(body)

    async def set_answer(self, cycle: int, innovation_id: str, version: int | None, indicator: str,
                         level: int | None) -> Innovation:
        body = await self._call("PUT", f"{self._innovations(cycle)}/{innovation_id}/answers/{indicator}",
                                json={"level": level}, headers=_if_match(version))
        return Innovation.model_validate(body)

    async def change_status(self, cycle: int, innovation_id: str, version: int | None, action: str) -> Innovation:
        """`action`: submit or withdraw."""
        body = await self._call("POST", f"{self._innovations(cycle)}/{innovation_id}/{action}",
                                headers=_if_match(version))
        return Innovation.model_validate(body)

    async def spd_answers(self, cycle: int, region: str) -> list[SpdAnswer]:
        body = await self._call("GET", f"/intake/v1/cycles/{cycle}/regions/{region}/spd")
        return [SpdAnswer.model_validate(item) for item in body["answers"]]

    async def evidence_list(self, cycle: int, *, innovation: str | None = None, region: str | None = None,
                            state: str | None = None, after: str | None = None, limit: int = 100) -> EvidenceList:
        """One innovation's or one region's evidence items the person may see, oldest first."""
        params = {"cycle": str(cycle), "limit": str(limit)}
        params.update({name: value for name, value in (("innovation", innovation), ("region", region),
                                                        ("state", state), ("after", after)) if value})
        return EvidenceList.model_validate(await self._call("GET", "/evidence/v1/evidence", params=params))

    async def evidence(self, evidence_id: str) -> EvidenceDetail:
        return EvidenceDetail.model_validate(await self._call("GET", f"/evidence/v1/evidence/{evidence_id}"))

    async def upload_evidence(self, cycle: int, innovation: str, indicator: str, upload_grant: str,
                              content: AsyncIterable[bytes], content_type: str, length: int | None) -> EvidenceItem:
        """A file's bytes streamed through to the evidence service as they arrive (nothing
        here holds the whole file), with the innovation's upload grant."""
        headers = {"X-Upload-Grant": upload_grant, "Content-Type": content_type}
        if length is not None:
            headers["Content-Length"] = str(length)
        params = {"cycle": str(cycle), "innovation": innovation, "indicator": indicator}
        body = await self._call("POST", "/evidence/v1/evidence", params=params, headers=headers, content=content,
                                timeout=UPLOAD_READ_TIMEOUT_S)
        return EvidenceItem.model_validate(body)

    async def upload_link(self, cycle: int, innovation: str, indicator: str, upload_grant: str,
                          link: str) -> EvidenceItem:
        params = {"cycle": str(cycle), "innovation": innovation, "indicator": indicator}
        body = await self._call("POST", "/evidence/v1/evidence", params=params, json={"link": link},
                                headers={"X-Upload-Grant": upload_grant})
        return EvidenceItem.model_validate(body)

    async def decide_evidence(self, evidence_id: str, decision: str, reason: str | None) -> EvidenceItem:
        body = await self._call("POST", f"/evidence/v1/evidence/{evidence_id}/decision",
                                json={"decision": decision, "reason": reason})
        return EvidenceItem.model_validate(body)

    async def score_basis(self, cycle: int, region: str) -> ScoreBasis:
        path = f"/scoring/v1/cycles/{cycle}/regions/{region}/score"
        return ScoreBasis.model_validate(await self._call("GET", path))

    # --- the one way a request is made -----------------------------------------------------

    async def _call(self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None,
                    headers: Mapping[str, str] | None = None, content: AsyncIterable[bytes] | None = None,
                    timeout: float | None = None) -> Any:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": httpx.Timeout(timeout)}
        try:
            response = await self._client.request(
                method, self._url(path), json=json, params=params, headers={**self._headers, **(headers or {})},
                content=content, **extra,
            )
        except httpx.TimeoutException:
            log.warning("API call timed out", method=method, path=path)
            raise Unavailable(reason=f"{path} did not answer in time") from None
        except httpx.TransportError as exc:
            log.warning("API unreachable", method=method, path=path, error=repr(exc))
            raise Unavailable(reason=f"{path} is unreachable") from None
        if response.is_success:
            if response.status_code == 204 or not response.content:
                return None
            return response.json()
        raise api_error(response)


def _if_match(version: int | None) -> dict[str, str]:
    return {"If-Match": f'"{version}"'} if version is not None else {}


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _field(location: str) -> str:
    """An API's field path as the form names it: `body.name` → `name`, `body.scope.region` →
    `scope.region`; other places (`path.code`, `header.If-Match`) stay as they are."""
    return location.removeprefix("body.") if location.startswith("body.") else location


def api_error(response: httpx.Response) -> DomainError:
    """The domain error an API's error answer stands for."""
    status, body = response.status_code, _body(response)
    reason = body.get("reason") if isinstance(body.get("reason"), str) else None
    code = body.get("error") if isinstance(body.get("error"), str) else None
    problems = [
        Problem(_field(str(item.get("field", ""))), str(item.get("reason", "")))
        for item in body.get("problems", []) if isinstance(item, dict)
    ]
    retry = response.headers.get("Retry-After", "")
    retry_after_s = int(retry) if retry.isdigit() else None
    if status in (400, 422):
        return InvalidInput(problems=problems, reason=reason, code=code)
    if status == 401:
        return Forbidden(reason or "the API refused the person's token", code="unauthorized")
    if status == 403:
        return Forbidden(reason, problems=problems)
    if status == 404:
        return NotFound(reason=reason or "not found")
    if status == 409:
        return Conflict(problems=problems, reason=reason, code=code, retry_after_s=retry_after_s)
    if status == 412:
        return StaleVersion(problems=problems, reason=reason)
    if status == 428:
        return PreconditionRequired(problems=problems, reason=reason)
    if status == 413:
        return TooLarge(problems=problems, reason=reason)
    log.warning("API answered an error", status=status, path=response.request.url.path, error=code)
    return Unavailable(reason=reason or f"the API answered {status}", retry_after_s=retry_after_s)


class Apis:
    """One HTTP client for the process; `for_person` gives the person's view of it."""

    def __init__(self, secret: str, client: httpx.AsyncClient, base_url: str) -> None:
        self._secret = secret
        self._client = client
        self._base_url = base_url

    @classmethod
    def in_process(cls, secret: str, app: Any, timeout_s: float) -> Apis:
        transport = httpx.ASGITransport(app=app)
        return cls(secret, httpx.AsyncClient(transport=transport, timeout=timeout_s), "http://inovasi")

    @classmethod
    def over_http(cls, secret: str, base_url: str, timeout_s: float) -> Apis:
        return cls(secret, httpx.AsyncClient(timeout=timeout_s), base_url)

    def for_person(
        self, *, role: Role, region: str | None, agency: str | None, account_id: str, session_id: str
    ) -> PersonApi:
        token = issue_token(
            self._secret, role, region, agency, subject=account_id, ttl_s=PERSON_TOKEN_TTL_S, token_id=session_id
        )
        return PersonApi(self._client, token, self._base_url)

    async def aclose(self) -> None:
        await self._client.aclose()


__all__ = [
    "Agency", "AgencyStatus", "Apis", "CreatedWebhook", "DecidedEvidence", "Explanation", "GapPlan", "PersonApi",
    "Rankings", "RegionInnovation", "Score", "ScoreHistory", "Webhook", "api_error",
]
__all__ += [  # work pages
    "EvidenceDetail", "EvidenceItem", "EvidenceList", "Innovation", "InnovationList", "ScoreBasis", "SpdAnswer",
]

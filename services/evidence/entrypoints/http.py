"""The evidence service's HTTP API (mounted under /evidence):

    POST /v1/evidence?cycle=&innovation=&indicator=   operator of the innovation's agency
    POST /v1/evidence?cycle=&region=&indicator=       region admin (SPD answers)
         body: the file's bytes (any Content-Type but JSON), or with
         Content-Type: application/json, {"link": "https://..."} where the indicator accepts links
    GET  /v1/evidence/{id}                            owner, the region's admins and verifiers
    GET  /v1/evidence?cycle=&innovation= | &region=   what the caller may see
    POST /v1/evidence/{id}/decision                   verifier of the region (outside it: 404)
         body: {"decision": "accepted" | "rejected", "reason": "..."}

Each route only translates: request → command, one handler, result → response. Bodies are
handed to the handler unread (a stream, or a reader to call), so it reads them only once the
caller is authorised.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, TypeVar, get_args

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema
from starlette.requests import ClientDisconnect

from services.common.errors import InputInterrupted, InvalidInput, Problem, TooLarge, UnsupportedContent
from services.common.http import CurrentPrincipal, json_response, service_dependencies
from services.common.openapi import (
    NAME_PATTERN,
    TEXT_PATTERN,
    errors,
    header,
    indicator_codes,
    known_cycles,
    one_of,
    region_codes,
)
from services.evidence import handlers
from services.evidence.dependencies import EvidenceDeps
from services.evidence.domain.commands import (
    DecideEvidence,
    DecisionInput,
    EvidenceRef,
    ListEvidence,
    UploadEvidence,
)
from services.evidence.domain.rules import MAX_LINK_LENGTH, MAX_REASON_LENGTH, media_type_of
from services.evidence.views import EvidenceDetail, EvidencePage, EvidenceView

router = APIRouter(prefix="/v1", tags=["evidence"])
Deps = Annotated[EvidenceDeps, Depends(service_dependencies)]
# Ids are UUIDs; the pattern also keeps bytes PostgreSQL refuses (NUL) away from queries.
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"
EvidenceId = Annotated[str, Path(pattern=ID_PATTERN)]
# An optional parameter is published without null (`SkipJsonSchema`: a query has no null),
# and pydantic then leaves its pattern out: it is restated for the document.
PUBLISHED_ID = {"pattern": ID_PATTERN}
INDICATOR_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
EvidenceState = Literal["pending", "accepted", "rejected"]
MAX_JSON_BODY = 16 * 1024  # a link or a decision is far smaller
# What the rules check (domain.rules), published: an assessment cycle of a methodology, an
# indicator of one, a Kemendagri code that names a region, an id intake could have issued.
Cycle = Annotated[int, Query(description="assessment year, e.g. 2026", json_schema_extra={"enum": known_cycles()})]
RegionQuery = Annotated[
    str | SkipJsonSchema[None],
    Query(max_length=8, description="a region's Kemendagri code, e.g. 62.10: for an SPD indicator, or a region's "
          "items (then without innovation)", json_schema_extra={"enum": region_codes()}),
]
INNOVATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
# An absolute http(s) URL with a host, an optional port, no user name or password, nothing
# but printable ASCII (domain.rules.check_link); surrounding spaces are ignored.
LINK_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]*[A-Za-z0-9](:[1-9][0-9]{0,3})?([/?#][!-~]*)?$"


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    link: str = Field(
        min_length=1, description="an absolute http(s) URL, e.g. of a video",
        json_schema_extra={"pattern": LINK_PATTERN, "maxLength": MAX_LINK_LENGTH},
    )


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "rejected"]
    reason: str | None = Field(
        None, max_length=MAX_REASON_LENGTH, description="required when rejecting: what the agency must fix"
    )


# The decision as published: a reason (free text) may come with either decision and must
# come, not blank, with a rejection (domain.rules.decide).
_REASON = {"type": "string", "maxLength": MAX_REASON_LENGTH, "pattern": TEXT_PATTERN}
DECISION_SCHEMA = {
    "title": "DecisionBody",
    "oneOf": [
        {
            "type": "object", "additionalProperties": False, "required": ["decision"],
            "properties": {"decision": {"const": "accepted"}, "reason": {"anyOf": [_REASON, {"type": "null"}]}},
        },
        {
            "type": "object", "additionalProperties": False, "required": ["decision", "reason"],
            "properties": {
                "decision": {"const": "rejected"},
                "reason": {**_REASON, "pattern": NAME_PATTERN, "description": "what the agency must fix"},
            },
        },
    ],
}


async def body_stream(request: Request) -> AsyncIterator[bytes]:
    """The request body, chunk by chunk; a client that hangs up midway is an interrupted input."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise InputInterrupted(reason="the upload was interrupted") from None


async def read_small_json(request: Request) -> Any:
    """A JSON body of at most MAX_JSON_BODY bytes (too large beyond), parsed (invalid, naming
    `body`, if it is not JSON, or JSON that cannot be read: nested too deeply, a number of
    thousands of digits)."""
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > MAX_JSON_BODY:
                raise TooLarge.at("body", f"a JSON body may be at most {MAX_JSON_BODY} bytes")
    except ClientDisconnect:
        raise InputInterrupted(reason="the request was interrupted") from None
    try:
        return json.loads(received)
    except RecursionError:
        # `[[[[...` a few thousand levels deep: the parser recurses once per level.
        raise InvalidInput.at("body", "not valid JSON: nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput.at("body", f"not valid JSON: {exc}") from None
    except ValueError as exc:
        # What else the parser raises: an integer of more digits than Python converts.
        reason = "a number has too many digits" if "integer string conversion" in str(exc) else str(exc)
        raise InvalidInput.at("body", f"not valid JSON: {reason}") from None


M = TypeVar("M", bound=BaseModel)


def body_model(model: type[M], raw: Any) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(".".join(["body", *(str(part) for part in err["loc"])]), err["msg"]) for err in exc.errors()
        ]
        raise InvalidInput(problems=problems) from None


_FILE = {"schema": {"type": "string", "format": "binary"}}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "The file's bytes: a PDF, a PNG or JPEG image, or an MP4 or MOV video, as the indicator accepts "
            "(its content decides, not the Content-Type; a specific Content-Type must match it), at most "
            "INOVASI_EVIDENCE_MAX_UPLOAD_BYTES (50 MiB by default). Or, for an indicator that accepts links, "
            "`{\"link\": \"https://...\"}` as application/json."
        ),
        "content": {
            "application/pdf": _FILE,
            "image/png": _FILE,
            "image/jpeg": _FILE,
            "video/mp4": _FILE,
            "video/quicktime": _FILE,
            "application/octet-stream": _FILE,
            "application/json": {"schema": LinkBody.model_json_schema()},
        },
    }
}
DECISION_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": DECISION_SCHEMA}}}}
LOCATION = {"Location": header("the item's URL")}


@router.post(
    "/evidence", status_code=201, openapi_extra=UPLOAD_BODY, response_model=EvidenceView,
    responses={201: {"headers": LOCATION}, **errors(403, 404, 408, 413, 415, 422)},
)
async def upload_evidence(
    request: Request,
    principal: CurrentPrincipal,
    deps: Deps,
    cycle: Cycle,
    indicator: Annotated[
        str, Query(max_length=32, description="e.g. sid-16 or spd-01",
                   json_schema_extra={"enum": indicator_codes("sid", "spd")}),
    ],
    innovation: Annotated[
        str | SkipJsonSchema[None],
        Query(max_length=100, description="for a SID indicator (then without region)",
              json_schema_extra={"pattern": INNOVATION_ID_PATTERN}),
    ] = None,
    region: RegionQuery = None,
    upload_grant: Annotated[
        str | SkipJsonSchema[None],
        Header(
            alias="X-Upload-Grant",
            max_length=2000,
            description="the innovation's `upload_grant` from intake: lets the upload in at once after creating it",
        ),
    ] = None,
) -> JSONResponse:
    """Upload one file (the request body is the file's bytes, streamed to object storage) or,
    with `Content-Type: application/json`, one link `{"link": "https://..."}`, for one answer.
    201 with the item: id, sha256, size, kind, state (pending)."""

    async def read_link() -> str:
        return body_model(LinkBody, await read_small_json(request)).link

    content_type = request.headers.get("content-type")
    command = UploadEvidence(
        cycle=cycle,
        indicator=indicator,
        innovation=innovation,
        region=region,
        media_type=media_type_of(content_type),
        declared_type=content_type,
        declared_length=request.headers.get("content-length"),
        body=body_stream(request),
        read_link=read_link,
        upload_grant=upload_grant,
    )
    item = await handlers.upload_evidence(deps, principal, command)
    return json_response(item, 201, headers={"Location": str(request.url_for("read_evidence", evidence_id=item.id))})


@router.get("/evidence/{evidence_id}", name="read_evidence", response_model=EvidenceDetail,
            responses=errors(403, 404, 422))
async def read_evidence(evidence_id: EvidenceId, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    """The item, its decisions, and (for a file) a download URL valid for a few minutes."""
    return json_response(await handlers.read_evidence(deps, principal, EvidenceRef(evidence_id)))


@router.get("/evidence", response_model=EvidencePage, responses=errors(403, 404, 422))
async def list_evidence(
    principal: CurrentPrincipal,
    deps: Deps,
    cycle: Cycle,
    innovation: Annotated[
        str | SkipJsonSchema[None],
        Query(pattern=ID_PATTERN, json_schema_extra=PUBLISHED_ID, description="one innovation's (then without region)"),
    ] = None,
    region: RegionQuery = None,
    indicator: Annotated[
        str | SkipJsonSchema[None],
        Query(pattern=INDICATOR_PATTERN, json_schema_extra={"pattern": INDICATOR_PATTERN}),
    ] = None,
    state: Annotated[EvidenceState | None, Query(), one_of(get_args(EvidenceState))] = None,
    after: Annotated[
        str | SkipJsonSchema[None],
        Query(pattern=ID_PATTERN, json_schema_extra=PUBLISHED_ID, description="the last id of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """Evidence of one innovation or one region that the caller may see, oldest first."""
    query = ListEvidence(cycle, innovation, region, indicator, state, after, limit)
    return json_response(await handlers.list_evidence(deps, principal, query))


@router.post(
    "/evidence/{evidence_id}/decision", openapi_extra=DECISION_BODY, response_model=EvidenceView,
    responses={
        200: {"headers": {"X-Decision-Changed": header("`false` when the decision repeats the current one")}},
        **errors(403, 404, 413, 415, 422),
    },
)
async def decide_evidence(
    evidence_id: EvidenceId, request: Request, principal: CurrentPrincipal, deps: Deps
) -> JSONResponse:
    """Accept or reject the item (a reason is required to reject). A changed decision is a
    new version, published as evidence.accepted / evidence.rejected. An item outside the
    caller's region (or, as for reading, agency) is "not found"; the region's non-verifiers
    are refused (403)."""

    async def read_decision() -> DecisionInput:
        if media_type_of(request.headers.get("content-type")) not in ("application/json", ""):
            raise UnsupportedContent.at("header.content-type", "send the decision as application/json")
        body = body_model(DecisionBody, await read_small_json(request))
        return DecisionInput(decision=body.decision, reason=body.reason)

    decided = await handlers.decide_evidence(deps, principal, DecideEvidence(evidence_id, read_decision))
    return json_response(decided.item, headers={"X-Decision-Changed": "true" if decided.changed else "false"})

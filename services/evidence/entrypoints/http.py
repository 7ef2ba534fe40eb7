"""The evidence service's HTTP API (mounted under /evidence):

    POST /v1/evidence?cycle=&innovation=&indicator=   operator of the innovation's agency
    POST /v1/evidence?cycle=&region=&indicator=       region admin (SPD answers)
         body: the file's bytes (any Content-Type but JSON), or with
         Content-Type: application/json, {"link": "https://..."} where the indicator accepts links
    GET  /v1/evidence/{id}                            owner, the region's admins and verifiers
    GET  /v1/evidence?cycle=&innovation= | &region=   what the caller may see
    POST /v1/evidence/{id}/decision                   verifier of the region (outside it: 404)
         body: {"decision": "accepted" | "rejected", "reason": "..."}
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect

from services.common.auth import CurrentPrincipal
from services.common.service import ApiError, Problem, ServiceRuntime, invalid, runtime_of
from services.evidence import handlers
from services.evidence.adapters.evidence_store import EvidenceRecord
from services.evidence.domain.rules import MAX_REASON_LENGTH, media_type_of

router = APIRouter(prefix="/v1", tags=["evidence"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
# Ids are UUIDs; the pattern also keeps bytes PostgreSQL refuses (NUL) away from queries.
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"
EvidenceId = Annotated[str, Path(pattern=ID_PATTERN)]
MAX_JSON_BODY = 16 * 1024  # a link or a decision is far smaller


class LinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    link: str = Field(min_length=1, description="an absolute http(s) URL, e.g. of a video")


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "rejected"]
    reason: str | None = Field(
        None, max_length=MAX_REASON_LENGTH, description="required when rejecting: what the agency must fix"
    )


def item_json(record: EvidenceRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "cycle": record.cycle,
        "region": record.region,
        "innovation": record.innovation_id,
        "agency": record.agency_id,
        "indicator": record.indicator,
        "kind": record.kind,
        "content_type": record.content_type,
        "size": record.size,
        "sha256": record.sha256,
        "link": record.link,
        "state": record.state,
        "reason": record.reason,
        "decided_by": record.decided_by,
        "decided_at": record.decided_at.isoformat() if record.decided_at else None,
        "uploaded_by": record.uploaded_by,
        "uploaded_at": record.uploaded_at.isoformat(),
        "version": record.version,
    }


async def read_small_json(request: Request) -> Any:
    """A JSON body of at most MAX_JSON_BODY bytes (413 beyond), parsed (422 naming `body` if
    it is not JSON, or JSON that cannot be read: nested too deeply, a number of thousands of
    digits)."""
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > MAX_JSON_BODY:
                raise ApiError(413, "too_large", [Problem("body", f"a JSON body may be at most {MAX_JSON_BODY} bytes")])
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", reason="the request was interrupted") from None
    try:
        return json.loads(received)
    except RecursionError:
        # `[[[[...` a few thousand levels deep: the parser recurses once per level.
        raise invalid("body", "not valid JSON: nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid("body", f"not valid JSON: {exc}") from None
    except ValueError as exc:
        # What else the parser raises: an integer of more digits than Python converts.
        reason = "a number has too many digits" if "integer string conversion" in str(exc) else str(exc)
        raise invalid("body", f"not valid JSON: {reason}") from None


M = TypeVar("M", bound=BaseModel)


def body_model(model: type[M], raw: Any) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(".".join(["body", *(str(part) for part in err["loc"])]), err["msg"]) for err in exc.errors()
        ]
        raise ApiError(422, "invalid_request", problems) from None


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": LinkBody.model_json_schema()},
        },
    }
}
DECISION_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": DecisionBody.model_json_schema()}}}
}


@router.post("/evidence", status_code=201, openapi_extra=UPLOAD_BODY)
async def upload_evidence(
    request: Request,
    principal: CurrentPrincipal,
    runtime: Runtime,
    cycle: Annotated[int, Query(description="assessment year, e.g. 2026")],
    indicator: Annotated[str, Query(max_length=32, description="e.g. sid-16 or spd-01")],
    innovation: Annotated[str | None, Query(max_length=100, description="for a SID indicator")] = None,
    region: Annotated[str | None, Query(max_length=8, description="for an SPD indicator, e.g. 62.10")] = None,
) -> JSONResponse:
    """Upload one file (the request body is the file's bytes, streamed to object storage) or,
    with `Content-Type: application/json`, one link `{"link": "https://..."}`, for one answer.
    201 with the item: id, sha256, size, kind, state (pending)."""
    target = handlers.resolve_target(cycle, indicator, innovation, region)
    answer_region, agency = await handlers.authorize_upload(runtime, principal, target)
    content_type = request.headers.get("content-type")
    media_type = media_type_of(content_type)
    if media_type == "application/json":
        link = body_model(LinkBody, await read_small_json(request)).link
        record = await handlers.upload_link(runtime, principal, target, answer_region, agency, link)
    elif media_type.startswith("multipart/"):
        raise invalid(
            "header.content-type",
            "send the file's bytes as the request body (e.g. curl --data-binary @file.pdf), not a multipart form",
            status=415,
        )
    else:
        handlers.check_declared_length(runtime, request.headers.get("content-length"))
        record = await handlers.upload_file(
            runtime, principal, target, answer_region, agency, request.stream(), content_type
        )
    return JSONResponse(
        item_json(record),
        status_code=201,
        headers={"Location": str(request.url_for("read_evidence", evidence_id=record.id))},
    )


@router.get("/evidence/{evidence_id}", name="read_evidence")
async def read_evidence(evidence_id: EvidenceId, principal: CurrentPrincipal, runtime: Runtime) -> dict[str, Any]:
    """The item, its decisions, and (for a file) a download URL valid for a few minutes."""
    record, history = await handlers.visible_evidence(runtime, principal, evidence_id)
    return {
        **item_json(record),
        "download": handlers.download_link(runtime, record),
        "decisions": [
            {
                "version": row["version"],
                "decision": row["state"],
                "reason": row["reason"],
                "decided_by": row["decided_by"],
                "decided_at": row["decided_at"].isoformat(),
            }
            for row in history
        ],
    }


@router.get("/evidence")
async def list_evidence(
    principal: CurrentPrincipal,
    runtime: Runtime,
    cycle: Annotated[int, Query()],
    innovation: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    region: Annotated[str | None, Query(max_length=8)] = None,
    indicator: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$")] = None,
    state: Annotated[Literal["pending", "accepted", "rejected"] | None, Query()] = None,
    after: Annotated[str | None, Query(pattern=ID_PATTERN, description="the last id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Evidence of one innovation or one region that the caller may see, oldest first."""
    records = await handlers.list_visible(
        runtime, principal, cycle=cycle, innovation=innovation, region=region,
        indicator=indicator, state=state, after=after, limit=limit,
    )
    return {
        "items": [item_json(r) for r in records],
        "next_after": records[-1].id if len(records) == limit else None,
    }


@router.post("/evidence/{evidence_id}/decision", openapi_extra=DECISION_BODY)
async def decide_evidence(
    evidence_id: EvidenceId, request: Request, principal: CurrentPrincipal, runtime: Runtime, response: Response
) -> dict[str, Any]:
    """Accept or reject the item (a reason is required to reject). A changed decision is a
    new version, published as evidence.accepted / evidence.rejected. An item outside the
    caller's region (or, as for reading, agency) is "not found"; the region's non-verifiers
    are refused (403)."""
    await handlers.authorize_decision(runtime, principal, evidence_id)
    if media_type_of(request.headers.get("content-type")) not in ("application/json", ""):
        raise invalid("header.content-type", "send the decision as application/json", status=415)
    body = body_model(DecisionBody, await read_small_json(request))
    record, changed = await handlers.decide(runtime, principal, evidence_id, body.decision, body.reason)
    response.headers["X-Decision-Changed"] = "true" if changed else "false"
    return item_json(record)

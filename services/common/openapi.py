"""What the OpenAPI documents publish beyond the types: the error answers (one model for
every error body, and the `responses=` a route declares for the statuses it really answers
with) and the limits the services enforce in their rules rather than in a field's type
(catalogue codes, region codes, what free text may hold), so a client, or a generator of
requests, learns from the document what the server accepts.

    @router.put("/...", response_model=InnovationView, responses=errors(404, 409, 412, 422, 428))
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema

from services.common.data.regions import load_regions
from services.common.methodology.catalogue import METHODOLOGY_IDS, Aspect, load_methodology

# --- error answers -----------------------------------------------------------------------


class ProblemBody(BaseModel):
    field: str = Field(description="where: `body.level`, `query.cycle`, `header.If-Match`, `path.indicator`…")
    reason: str = Field(description="why, for people")


class ErrorBody(BaseModel):
    """Every error answer: a machine-readable code, the fields at fault, an overall reason,
    and details of the error (e.g. `current_version` of a 412 or 428)."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="e.g. invalid_request, unauthorized, forbidden, not_found, conflict, "
                       "precondition_failed, precondition_required, too_large, not_eligible, unavailable")
    problems: list[ProblemBody] = Field(default_factory=list, description="every field at fault")
    reason: str | None = None


DESCRIPTIONS: dict[int, str] = {
    400: "The body cannot be read (not UTF-8 JSON)",
    401: "No bearer token, or one that is invalid or expired",
    403: "The caller's role or region may not do this",
    404: "No such thing, or one the caller may not know exists",
    408: "The client stopped sending the body",
    409: "The subject's state does not allow it (status, duplicate, closed window, limit)",
    412: "If-Match names a version that is no longer the current one",
    413: "The body is larger than allowed",
    415: "The Content-Type is not one this operation takes",
    422: "The request breaks a rule of its fields; every problem is named",
    428: "If-Match is required: send the version (ETag) the change is based on",
    503: "A server the request needs is unreachable; nothing was changed, retry after Retry-After seconds",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "the bearer scheme", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds after which trying again may help", "schema": {"type": "string"}}},
}
# What any authenticated route that reads PostgreSQL or Redis may answer.
COMMON = (401, 503)


def errors(*statuses: int, by_reference: bool = False) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each of `statuses`, and `COMMON`, with the error body
    (and, for 401 and 503, the header that comes with it). `by_reference` for a route whose
    own answer is not JSON (FastAPI gives a `model` the route's media type): the body is then
    named, as the service's other routes declare it."""
    declared: dict[int | str, dict[str, Any]] = {}
    body = (
        {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}}}
        if by_reference else {"model": ErrorBody}
    )
    for status in sorted({*COMMON, *statuses}):
        response: dict[str, Any] = {**body, "description": DESCRIPTIONS[status]}
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        declared[status] = response
    return declared


def header(description: str) -> dict[str, Any]:
    """A response header a route always sends."""
    return {"description": description, "required": True, "schema": {"type": "string"}}


# --- limits the rules enforce --------------------------------------------------------------

# A Kemendagri code: a provinsi (`62`) or a kabupaten or kota (`62.10`). A well-formed code
# that names no region is "not found"; see REGION_CODES where a query refuses it instead.
REGION_CODE_PATTERN = r"^\d{2}(\.\d{2})?$"
# Free text the platform keeps: no control characters but newline and tab (common.text).
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$"
# The same, and not blank: at least one character that is not white space.
NAME_PATTERN = (
    r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*"
    r"[^\s\u0000-\u001f\u007f-\u009f]"
    r"[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$"
)


def enum(values: list[str] | list[int]) -> dict[str, JsonValue]:
    """`json_schema_extra` publishing the values a rule allows."""
    return {"enum": list(values)}


# An optional query parameter (`X | None = None`) is published without its null: a query
# string has no null. (`SkipJsonSchema[None]` would do for a string or a number, but it makes
# a Literal's or a UUID's 422 name the union member, `query.status.literal[...]`.)
UUID_PARAMETER = WithJsonSchema({"type": "string", "format": "uuid"})


def one_of(values: tuple[str, ...]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": list(values)})


@cache
def region_codes() -> list[str]:
    return sorted(load_regions())


@cache
def province_codes() -> list[str]:
    return sorted(code for code, info in load_regions().items() if info.type == "provinsi")


@cache
def indicator_codes(*aspects: Aspect) -> list[str]:
    """The indicators of these aspects in any methodology (the cycle's methodology decides)."""
    return sorted({
        indicator.code
        for methodology_id in METHODOLOGY_IDS
        for indicator in load_methodology(methodology_id).indicators
        if indicator.aspect in aspects
    })


@cache
def known_cycles() -> list[int]:
    return sorted({cycle for m in METHODOLOGY_IDS for cycle in load_methodology(m).valid_for_cycles})


@cache
def category_ids() -> list[str]:
    return sorted({category.id for m in METHODOLOGY_IDS for category in load_methodology(m).categories})

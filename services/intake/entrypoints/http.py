"""Intake's HTTP API (mounted under /intake): agencies, innovations with their SID answers,
submit and withdraw, SPD answers. Writes that change a versioned subject need
`If-Match: <version>`; responses carry `ETag: "<version>"`. Each route only translates:
request → command, one handler, result → response."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic.json_schema import SkipJsonSchema

from services.common.errors import InvalidInput
from services.common.http import CurrentPrincipal, json_response, service_dependencies, with_role
from services.common.openapi import REGION_CODE_PATTERN, errors, header, indicator_codes, region_codes
from services.common.principal import AGENCY_ID_PATTERN, Principal
from services.intake import handlers
from services.intake.dependencies import IntakeDeps
from services.intake.domain.commands import (
    AgenciesQuery,
    AgencyStatusQuery,
    ChangeStatus,
    CreateInnovation,
    InnovationRef,
    ListInnovations,
    RegisterAgency,
    SetSidAnswer,
    SetSpdAnswer,
    SpdAnswersQuery,
    UpdateProfile,
)
from services.intake.entrypoints.schemas import AgencyBody, LevelBody, ProfileBody
from services.intake.views import (
    AgencyList,
    AgencyStatusView,
    AgencyView,
    InnovationPage,
    InnovationView,
    SpdAnswers,
    SpdAnswerView,
)

router = APIRouter(prefix="/v1", tags=["intake"])
Deps = Annotated[IntakeDeps, Depends(service_dependencies)]
Operator = Annotated[Principal, Depends(with_role("operator"))]
RegionAdmin = Annotated[Principal, Depends(with_role("region_admin"))]
# Bounded so a year never overflows the int column: a cycle outside is refused as input (422),
# a plausible one without a cycle row is not found (404).
Year = Annotated[int, Path(ge=2000, le=2100)]
# A code that names no region is "not found"; so is an id that is not one intake issues.
RegionCode = Annotated[str, Path(json_schema_extra={"pattern": REGION_CODE_PATTERN}, examples=["62.10"])]
INNOVATION_ID_PATTERN = r"^[0-9a-f-]{1,64}$"
InnovationId = Annotated[str, Path(json_schema_extra={"pattern": INNOVATION_ID_PATTERN})]
# An optional parameter is published without null (`SkipJsonSchema`: a query or header has
# no null), and pydantic then leaves its pattern out: it is restated for the document.
AGENCY_ID = {"pattern": AGENCY_ID_PATTERN}
# An indicator of another aspect, or of no methodology, is refused (422) naming it.
SidIndicator = Annotated[str, Path(json_schema_extra={"enum": indicator_codes("sid")})]
SpdIndicator = Annotated[str, Path(json_schema_extra={"enum": indicator_codes("spd")})]

# `3`, `"3"` or `W/"3"`: clients echo the ETag they got, some send the bare number.
VERSION_TAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

# If-Match is required, but its absence is answered by the use case (428, with the current
# version), not by FastAPI's parameter validation: the parameter is optional in the code and
# published as required.
IfMatch = Annotated[str | None, Header(alias="If-Match", include_in_schema=False)]
IF_MATCH = {
    "parameters": [{
        "name": "If-Match", "in": "header", "required": True,
        "description": 'the version the change is based on: the ETag read (`"3"`); without it 428',
        "schema": {"type": "string", "pattern": VERSION_TAG.pattern},
    }]
}
ETAG = {"ETag": header('the version, quoted: send it back as If-Match')}
EVENT_ID = {"X-Event-Id": {"description": "the event the write caused", "schema": {"type": "string"}}}


def expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    match = VERSION_TAG.match(if_match.strip())
    if match is None:
        raise InvalidInput.at(
            "header.If-Match", f"{if_match!r} is not a version; send the ETag you read, e.g. If-Match: \"3\""
        )
    return int(match.group(1))


def versioned(view: InnovationView | SpdAnswerView, status_code: int = 200, **headers: str) -> JSONResponse:
    return json_response(view, status_code, headers={"ETag": f'"{view.version}"', **headers})


# --- agencies ----------------------------------------------------------------------------


@router.post("/regions/{code}/agencies", status_code=201, response_model=AgencyView,
             responses=errors(400, 403, 404, 409, 413, 422))
async def register_agency(code: RegionCode, body: AgencyBody, principal: RegionAdmin, deps: Deps) -> JSONResponse:
    command = RegisterAgency(region=code, agency_id=body.id, name=body.name)
    return json_response(await handlers.register_agency(deps, principal, command), 201)


@router.get("/regions/{code}/agencies", response_model=AgencyList, responses=errors(403, 404, 422))
async def list_agencies(code: RegionCode, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return json_response(await handlers.list_agencies(deps, principal, AgenciesQuery(region=code)))


@router.get("/cycles/{year}/regions/{code}/agencies/status", response_model=AgencyStatusView,
            responses=errors(403, 404, 422))
async def agency_status(year: Year, code: RegionCode, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return json_response(await handlers.agency_status(deps, principal, AgencyStatusQuery(cycle=year, region=code)))


# --- innovations -------------------------------------------------------------------------


@router.post(
    "/cycles/{year}/innovations", status_code=201, response_model=InnovationView,
    responses={
        201: {"headers": {
            **ETAG, **EVENT_ID,
            "Location": header("the innovation's URL"),
            "Idempotent-Replayed": {"description": "`true` when this answers an Idempotency-Key already used",
                                    "schema": {"type": "string", "enum": ["true"]}},
        }},
        **errors(400, 403, 404, 409, 413, 422),
    },
)
async def create_innovation(
    year: Year,
    body: ProfileBody,
    request: Request,
    principal: Operator,
    deps: Deps,
    idempotency_key: Annotated[
        str | SkipJsonSchema[None],
        Header(
            alias="Idempotency-Key", json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN},
            description="a retry with the same key and body answers the innovation created first",
        ),
    ] = None,
) -> JSONResponse:
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise InvalidInput.at("header.Idempotency-Key", "must be 1 to 200 printable ASCII characters without spaces")
    command = CreateInnovation(
        cycle=year, profile=body.to_profile(), idempotency_key=idempotency_key, request_hash=body.fingerprint()
    )
    created = await handlers.create_innovation(deps, principal, command)
    location = str(request.url_for("get_innovation", year=year, innovation_id=created.innovation.id))
    headers = {"Location": location}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return versioned(created.innovation, 201, **headers)


@router.get("/cycles/{year}/innovations", response_model=InnovationPage, responses=errors(403, 404, 422))
async def list_innovations(
    year: Year,
    principal: CurrentPrincipal,
    deps: Deps,
    agency: Annotated[str | SkipJsonSchema[None], Query(pattern=AGENCY_ID_PATTERN, json_schema_extra=AGENCY_ID)] = None,
    status: Annotated[list[Literal["draft", "submitted", "withdrawn"]], Query()] = [],  # noqa: B006
    after: Annotated[
        str | SkipJsonSchema[None],
        Query(pattern=INNOVATION_ID_PATTERN, json_schema_extra={"pattern": INNOVATION_ID_PATTERN},
              description="id of the last item of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    region: Annotated[
        str | SkipJsonSchema[None],
        Query(max_length=8, json_schema_extra={"enum": region_codes()}, examples=["62.10"],
              description="the region listed (one the caller reads): by default the caller's own; "
              "a national token must name one"),
    ] = None,
) -> JSONResponse:
    query = ListInnovations(cycle=year, agency=agency, region=region, statuses=tuple(status), after=after, limit=limit)
    return json_response(await handlers.list_innovations(deps, principal, query))


@router.get(
    "/cycles/{year}/innovations/{innovation_id}", name="get_innovation", response_model=InnovationView,
    responses={200: {"headers": ETAG}, **errors(403, 404, 422)},
)
async def get_innovation(
    year: Year, innovation_id: InnovationId, principal: CurrentPrincipal, deps: Deps
) -> JSONResponse:
    return versioned(await handlers.get_innovation(deps, principal, InnovationRef(year, innovation_id)))


# A change to an innovation: 404 for one the caller may not see, 403 for one of another
# agency, 409 when its status or the submission window does not allow it, 412 / 428 for the
# version, 422 naming every field at fault (for submit: every eligibility rule it breaks).
CHANGE_ERRORS = errors(403, 404, 409, 412, 422, 428)
VERSIONED: dict[int | str, dict[str, Any]] = {200: {"headers": {**ETAG, **EVENT_ID}}}


@router.put(
    "/cycles/{year}/innovations/{innovation_id}", response_model=InnovationView, openapi_extra=IF_MATCH,
    responses={**VERSIONED, **CHANGE_ERRORS, **errors(400, 413)},
)
async def update_innovation(
    year: Year, innovation_id: InnovationId, body: ProfileBody, principal: Operator, deps: Deps,
    if_match: IfMatch = None,
) -> JSONResponse:
    command = UpdateProfile(InnovationRef(year, innovation_id), expected_version(if_match), body.to_profile())
    return versioned(await handlers.update_profile(deps, principal, command))


@router.put(
    "/cycles/{year}/innovations/{innovation_id}/answers/{indicator}", response_model=InnovationView,
    openapi_extra=IF_MATCH, responses={**VERSIONED, **CHANGE_ERRORS, **errors(400, 413)},
)
async def set_sid_answer(
    year: Year, innovation_id: InnovationId, indicator: SidIndicator, body: LevelBody, principal: Operator,
    deps: Deps, if_match: IfMatch = None,
) -> JSONResponse:
    command = SetSidAnswer(InnovationRef(year, innovation_id), expected_version(if_match), indicator, body.level)
    return versioned(await handlers.set_sid_answer(deps, principal, command))


@router.post(
    "/cycles/{year}/innovations/{innovation_id}/submit", response_model=InnovationView, openapi_extra=IF_MATCH,
    responses={**VERSIONED, **CHANGE_ERRORS},
)
async def submit_innovation(
    year: Year, innovation_id: InnovationId, principal: Operator, deps: Deps, if_match: IfMatch = None
) -> JSONResponse:
    command = ChangeStatus(InnovationRef(year, innovation_id), expected_version(if_match))
    return versioned(await handlers.submit_innovation(deps, principal, command))


@router.post(
    "/cycles/{year}/innovations/{innovation_id}/withdraw", response_model=InnovationView, openapi_extra=IF_MATCH,
    responses={**VERSIONED, **CHANGE_ERRORS},
)
async def withdraw_innovation(
    year: Year, innovation_id: InnovationId, principal: Operator, deps: Deps, if_match: IfMatch = None
) -> JSONResponse:
    command = ChangeStatus(InnovationRef(year, innovation_id), expected_version(if_match))
    return versioned(await handlers.withdraw_innovation(deps, principal, command))


# --- SPD answers -------------------------------------------------------------------------


@router.get("/cycles/{year}/regions/{code}/spd", response_model=SpdAnswers, responses=errors(403, 404, 422))
async def list_spd_answers(year: Year, code: RegionCode, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return json_response(await handlers.list_spd_answers(deps, principal, SpdAnswersQuery(cycle=year, region=code)))


@router.put(
    "/cycles/{year}/regions/{code}/spd/{indicator}", response_model=SpdAnswerView, openapi_extra=IF_MATCH,
    responses={**VERSIONED, **errors(400, 403, 404, 409, 412, 413, 422, 428)},
)
async def set_spd_answer(
    year: Year, code: RegionCode, indicator: SpdIndicator, body: LevelBody, principal: RegionAdmin, deps: Deps,
    if_match: IfMatch = None,
) -> JSONResponse:
    command = SetSpdAnswer(year, code, indicator, expected_version(if_match), body.level)
    return versioned(await handlers.set_spd_answer(deps, principal, command))

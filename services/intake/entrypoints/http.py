"""Intake's HTTP API (mounted under /intake): agencies, innovations with their SID answers,
submit and withdraw, SPD answers. Writes that change a versioned subject need
`If-Match: <version>`; responses carry `ETag: "<version>"`. Each route only translates:
request → command, one handler, result → response."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from services.common.errors import InvalidInput
from services.common.http import CurrentPrincipal, json_response, service_dependencies, with_role
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
IfMatch = Annotated[str | None, Header(alias="If-Match")]
# Bounded so a year never overflows the int column: a cycle outside is refused as input (422),
# a plausible one without a cycle row is not found (404).
Year = Annotated[int, Path(ge=2000, le=2100)]

# `3`, `"3"` or `W/"3"`: clients echo the ETag they got, some send the bare number.
_VERSION_TAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    match = _VERSION_TAG.match(if_match.strip())
    if match is None:
        raise InvalidInput.at(
            "header.If-Match", f"{if_match!r} is not a version; send the ETag you read, e.g. If-Match: \"3\""
        )
    return int(match.group(1))


def _versioned(view: InnovationView | SpdAnswerView, status_code: int = 200, **headers: str) -> JSONResponse:
    return json_response(view, status_code, headers={"ETag": f'"{view.version}"', **headers})


# --- agencies ----------------------------------------------------------------------------


@router.post("/regions/{code}/agencies", status_code=201, response_model=AgencyView)
async def register_agency(code: str, body: AgencyBody, principal: RegionAdmin, deps: Deps) -> JSONResponse:
    command = RegisterAgency(region=code, agency_id=body.id, name=body.name)
    return json_response(await handlers.register_agency(deps, principal, command), 201)


@router.get("/regions/{code}/agencies", response_model=AgencyList)
async def list_agencies(code: str, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return json_response(await handlers.list_agencies(deps, principal, AgenciesQuery(region=code)))


@router.get("/cycles/{year}/regions/{code}/agencies/status", response_model=AgencyStatusView)
async def agency_status(year: Year, code: str, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return json_response(await handlers.agency_status(deps, principal, AgencyStatusQuery(cycle=year, region=code)))


# --- innovations -------------------------------------------------------------------------


@router.post("/cycles/{year}/innovations", status_code=201, response_model=InnovationView)
async def create_innovation(
    year: Year,
    body: ProfileBody,
    request: Request,
    principal: Operator,
    deps: Deps,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
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
    return _versioned(created.innovation, 201, **headers)


@router.get("/cycles/{year}/innovations", response_model=InnovationPage)
async def list_innovations(
    year: Year,
    principal: CurrentPrincipal,
    deps: Deps,
    agency: Annotated[str | None, Query(pattern=AGENCY_ID_PATTERN)] = None,
    status: Annotated[list[Literal["draft", "submitted", "withdrawn"]], Query()] = [],  # noqa: B006
    after: Annotated[
        str | None, Query(pattern=r"^[0-9a-f-]{1,64}$", description="id of the last item of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    query = ListInnovations(cycle=year, agency=agency, statuses=tuple(status), after=after, limit=limit)
    return json_response(await handlers.list_innovations(deps, principal, query))


@router.get("/cycles/{year}/innovations/{innovation_id}", name="get_innovation", response_model=InnovationView)
async def get_innovation(year: Year, innovation_id: str, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return _versioned(await handlers.get_innovation(deps, principal, InnovationRef(year, innovation_id)))


@router.put("/cycles/{year}/innovations/{innovation_id}", response_model=InnovationView)
async def update_innovation(
    year: Year, innovation_id: str, body: ProfileBody, principal: Operator, deps: Deps, if_match: IfMatch = None
) -> JSONResponse:
    command = UpdateProfile(InnovationRef(year, innovation_id), expected_version(if_match), body.to_profile())
    return _versioned(await handlers.update_profile(deps, principal, command))


@router.put("/cycles/{year}/innovations/{innovation_id}/answers/{indicator}", response_model=InnovationView)
async def set_sid_answer(
    year: Year, innovation_id: str, indicator: str, body: LevelBody, principal: Operator, deps: Deps,
    if_match: IfMatch = None,
) -> JSONResponse:
    command = SetSidAnswer(InnovationRef(year, innovation_id), expected_version(if_match), indicator, body.level)
    return _versioned(await handlers.set_sid_answer(deps, principal, command))


@router.post("/cycles/{year}/innovations/{innovation_id}/submit", response_model=InnovationView)
async def submit_innovation(
    year: Year, innovation_id: str, principal: Operator, deps: Deps, if_match: IfMatch = None
) -> JSONResponse:
    command = ChangeStatus(InnovationRef(year, innovation_id), expected_version(if_match))
    return _versioned(await handlers.submit_innovation(deps, principal, command))


@router.post("/cycles/{year}/innovations/{innovation_id}/withdraw", response_model=InnovationView)
async def withdraw_innovation(
    year: Year, innovation_id: str, principal: Operator, deps: Deps, if_match: IfMatch = None
) -> JSONResponse:
    command = ChangeStatus(InnovationRef(year, innovation_id), expected_version(if_match))
    return _versioned(await handlers.withdraw_innovation(deps, principal, command))


# --- SPD answers -------------------------------------------------------------------------


@router.get("/cycles/{year}/regions/{code}/spd", response_model=SpdAnswers)
async def list_spd_answers(year: Year, code: str, principal: CurrentPrincipal, deps: Deps) -> JSONResponse:
    return json_response(await handlers.list_spd_answers(deps, principal, SpdAnswersQuery(cycle=year, region=code)))


@router.put("/cycles/{year}/regions/{code}/spd/{indicator}", response_model=SpdAnswerView)
async def set_spd_answer(
    year: Year, code: str, indicator: str, body: LevelBody, principal: RegionAdmin, deps: Deps,
    if_match: IfMatch = None,
) -> JSONResponse:
    command = SetSpdAnswer(year, code, indicator, expected_version(if_match), body.level)
    return _versioned(await handlers.set_spd_answer(deps, principal, command))

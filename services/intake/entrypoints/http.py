"""Intake's HTTP API (mounted under /intake): agencies, innovations with their SID answers,
submit and withdraw, SPD answers. Writes that change a versioned subject need
`If-Match: <version>`; responses carry `ETag: "<version>"`."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from services.common.auth import CurrentPrincipal, Principal, Role, require_role
from services.common.service import ApiError, Problem, ServiceRuntime, runtime_of
from services.intake import handlers
from services.common.auth import AGENCY_ID_PATTERN
from services.intake.entrypoints.schemas import AgencyBody, LevelBody, ProfileBody

router = APIRouter(prefix="/v1", tags=["intake"])
Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]

# `3`, `"3"` or `W/"3"`: clients echo the ETag they got, some send the bare number.
_VERSION_TAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def _role(*roles: Role):  # type: ignore[no-untyped-def]
    """Dependency: 403 for other roles, before the body is even read."""

    def check(principal: CurrentPrincipal) -> Principal:
        require_role(principal, *roles)
        return principal

    return check


Operator = Annotated[Principal, Depends(_role("operator"))]
RegionAdmin = Annotated[Principal, Depends(_role("region_admin"))]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
# Bounded so a year never overflows the int column: a cycle outside is refused as input (422),
# a plausible one without a cycle row is not found (404).
Year = Annotated[int, Path(ge=2000, le=2100)]


def expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    match = _VERSION_TAG.match(if_match.strip())
    if match is None:
        raise ApiError(422, "invalid_request", [Problem(
            "header.If-Match", f"{if_match!r} is not a version; send the ETag you read, e.g. If-Match: \"3\"")])
    return int(match.group(1))


def _versioned(body: dict[str, Any], status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={"ETag": f'"{body["version"]}"', **headers})


# --- agencies ----------------------------------------------------------------------------


@router.post("/regions/{code}/agencies", status_code=201)
async def create_agency(code: str, body: AgencyBody, principal: RegionAdmin, runtime: Runtime) -> JSONResponse:
    return JSONResponse(await handlers.create_agency(runtime, principal, code, body.id, body.name), status_code=201)


@router.get("/regions/{code}/agencies")
async def list_agencies(code: str, principal: CurrentPrincipal, runtime: Runtime) -> dict:
    return await handlers.list_agencies(runtime, principal, code)


@router.get("/cycles/{year}/regions/{code}/agencies/status")
async def agency_status(year: Year, code: str, principal: CurrentPrincipal, runtime: Runtime) -> dict:
    return await handlers.agency_status(runtime, principal, year, code)


# --- innovations -------------------------------------------------------------------------


@router.post("/cycles/{year}/innovations", status_code=201)
async def create_innovation(
    year: Year,
    body: ProfileBody,
    request: Request,
    principal: Operator,
    runtime: Runtime,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise ApiError(422, "invalid_request", [Problem(
            "header.Idempotency-Key", "must be 1 to 200 printable ASCII characters without spaces")])
    created = await handlers.create_innovation(
        runtime, principal, year, body.to_profile(),
        idempotency_key=idempotency_key, request_hash=body.fingerprint(),
    )
    headers = {"Location": str(request.url_for("get_innovation", year=year, innovation_id=created.body["id"]))}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _versioned(created.body, 201, **headers)


@router.get("/cycles/{year}/innovations")
async def list_innovations(
    year: Year,
    principal: CurrentPrincipal,
    runtime: Runtime,
    agency: Annotated[str | None, Query(pattern=AGENCY_ID_PATTERN)] = None,
    status: Annotated[list[Literal["draft", "submitted", "withdrawn"]], Query()] = [],  # noqa: B006
    after: Annotated[str | None, Query(pattern=r"^[0-9a-f-]{1,64}$", description="id of the last item of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict:
    return await handlers.list_innovations(
        runtime, principal, year, agency=agency, statuses=status, after=after, limit=limit
    )


@router.get("/cycles/{year}/innovations/{innovation_id}", name="get_innovation")
async def get_innovation(year: Year, innovation_id: str, principal: CurrentPrincipal, runtime: Runtime) -> JSONResponse:
    return _versioned(await handlers.get_innovation(runtime, principal, year, innovation_id))


@router.put("/cycles/{year}/innovations/{innovation_id}")
async def update_innovation(
    year: Year, innovation_id: str, body: ProfileBody, principal: Operator, runtime: Runtime, if_match: IfMatch = None
) -> JSONResponse:
    return _versioned(await handlers.update_innovation(
        runtime, principal, year, innovation_id, expected_version(if_match), body.to_profile()
    ))


@router.put("/cycles/{year}/innovations/{innovation_id}/answers/{indicator}")
async def set_sid_answer(
    year: Year, innovation_id: str, indicator: str, body: LevelBody, principal: Operator, runtime: Runtime,
    if_match: IfMatch = None,
) -> JSONResponse:
    return _versioned(await handlers.set_sid_answer(
        runtime, principal, year, innovation_id, indicator, expected_version(if_match), body.level
    ))


@router.post("/cycles/{year}/innovations/{innovation_id}/submit")
async def submit_innovation(
    year: Year, innovation_id: str, principal: Operator, runtime: Runtime, if_match: IfMatch = None
) -> JSONResponse:
    return _versioned(await handlers.submit_innovation(
        runtime, principal, year, innovation_id, expected_version(if_match)
    ))


@router.post("/cycles/{year}/innovations/{innovation_id}/withdraw")
async def withdraw_innovation(
    year: Year, innovation_id: str, principal: Operator, runtime: Runtime, if_match: IfMatch = None
) -> JSONResponse:
    return _versioned(await handlers.withdraw_innovation(
        runtime, principal, year, innovation_id, expected_version(if_match)
    ))


# --- SPD answers -------------------------------------------------------------------------


@router.get("/cycles/{year}/regions/{code}/spd")
async def list_spd_answers(year: Year, code: str, principal: CurrentPrincipal, runtime: Runtime) -> dict:
    return await handlers.list_spd_answers(runtime, principal, year, code)


@router.put("/cycles/{year}/regions/{code}/spd/{indicator}")
async def set_spd_answer(
    year: Year, code: str, indicator: str, body: LevelBody, principal: RegionAdmin, runtime: Runtime,
    if_match: IfMatch = None,
) -> JSONResponse:
    return _versioned(await handlers.set_spd_answer(
        runtime, principal, year, code, indicator, expected_version(if_match), body.level
    ))

"""Agencies (OPD): a region admin registers them; the region reads them and sees which one
has not reported this cycle."""

from __future__ import annotations

from services.common.errors import Conflict, Forbidden
from services.common.logging import get_logger
from services.common.principal import Principal
from services.intake.adapters import store
from services.intake.adapters.store import AgencyRecord
from services.intake.dependencies import IntakeDeps
from services.intake.domain.commands import AgenciesQuery, AgencyStatusQuery, RegisterAgency
from services.intake.handlers.shared import check_region, load_cycle, require_region_admin, require_region_reader
from services.intake.views import AgencyList, AgencyReport, AgencyStatusView, AgencyView, InnovationCounts

log = get_logger(__name__)


def _agency_view(record: AgencyRecord) -> AgencyView:
    return AgencyView(region=record.region, id=record.id, name=record.name, created_at=record.created_at)


async def register_agency(deps: IntakeDeps, principal: Principal, command: RegisterAgency) -> AgencyView:
    check_region(command.region)
    require_region_admin(principal, command.region)
    async with deps.pool.acquire() as conn:
        record = await store.insert_agency(conn, command.region, command.agency_id, command.name, principal.subject)
    if record is None:
        raise Conflict.at("body.id", f"region {command.region} already has an agency {command.agency_id!r}")
    log.info("agency registered", region=command.region, agency=command.agency_id)
    return _agency_view(record)


async def list_agencies(deps: IntakeDeps, principal: Principal, query: AgenciesQuery) -> AgencyList:
    check_region(query.region)
    require_region_reader(principal, query.region)
    async with deps.pool.acquire() as conn:
        records = await store.list_agencies(conn, query.region)
    return AgencyList(region=query.region, agencies=[_agency_view(r) for r in records])


async def agency_status(deps: IntakeDeps, principal: Principal, query: AgencyStatusQuery) -> AgencyStatusView:
    """Per agency: its innovations of the cycle by status; `not_reported` lists the agencies
    with no submitted innovation."""
    check_region(query.region)
    if not principal.can_read_region_details(query.region):
        raise Forbidden(
            f"the agencies' status is for the region admin, verifiers and viewers of {query.region}, "
            "and for those who oversee it"
        )
    async with deps.pool.acquire() as conn:
        await load_cycle(conn, query.cycle)
        tallies = await store.agency_status(conn, query.cycle, query.region)
    reports = [
        AgencyReport(
            id=t.id,
            name=t.name,
            innovations=InnovationCounts(
                draft=t.draft, submitted=t.submitted, withdrawn=t.withdrawn,
                total=t.draft + t.submitted + t.withdrawn,
            ),
            reported=t.submitted > 0,
        )
        for t in tallies
    ]
    return AgencyStatusView(
        cycle=query.cycle,
        region=query.region,
        agencies=reports,
        not_reported=[r.id for r in reports if not r.reported],
    )

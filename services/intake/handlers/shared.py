"""What intake's handlers share: the cycle a request names, the region check, the tenancy
checks on an innovation, the If-Match precondition, and the errors they raise.

Checks run in the same order everywhere: the cycle and region exist (not found), the caller
may see the subject (not found, so other tenants' ids stay unknown) and may change it
(forbidden), the If-Match precondition (required, then stale), the submission window
(conflict), then the change itself (conflict for a status it does not allow, not eligible).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from services.common.data.regions import load_regions
from services.common.db import Connection
from services.common.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotEligible,
    NotFound,
    PreconditionRequired,
    Problem,
    StaleVersion,
)
from services.common.methodology.catalogue import Indicator, Methodology, load_methodology
from services.common.principal import Principal
from services.intake.adapters import store
from services.intake.domain.cycle import Cycle
from services.intake.domain.eligibility import Failure, MandatoryIndicator
from services.intake.domain.innovation import Innovation

_INNOVATION_ID = re.compile(r"^[0-9a-f-]{1,64}$")  # UUIDs as we issue them


@dataclass(frozen=True)
class CycleContext:
    cycle: Cycle
    methodology: Methodology

    @property
    def mandatory_sid(self) -> tuple[MandatoryIndicator, ...]:
        return _mandatory_sid(self.methodology.id)

    def indicator(self, code: str, aspect: str) -> Indicator:
        """The indicator of `aspect` named in the path; InvalidInput naming it otherwise."""
        indicator = self.methodology.indicator_by_code.get(code)
        if indicator is None:
            reason = f"{code!r} is not an indicator of methodology {self.methodology.id}"
            raise InvalidInput.at("path.indicator", reason)
        if indicator.aspect != aspect:
            where = (
                "once per region, at /v1/cycles/{year}/regions/{code}/spd/{indicator}"
                if indicator.aspect == "spd"
                else "per innovation, at /v1/cycles/{year}/innovations/{id}/answers/{indicator}"
            )
            reason = f"{code} is an {indicator.aspect.upper()} indicator, answered {where}"
            raise InvalidInput.at("path.indicator", reason)
        return indicator


@cache
def _mandatory_sid(methodology_id: str) -> tuple[MandatoryIndicator, ...]:
    indicators = load_methodology(methodology_id).indicators_of("sid")
    return tuple(MandatoryIndicator(i.code, i.name) for i in indicators if i.mandatory)


def _no_cycle(year: int) -> NotFound:
    return NotFound.at("path.year", f"there is no cycle {year}")


async def load_cycle(conn: Connection, year: int) -> CycleContext:
    cycle = await store.get_cycle(conn, year)
    if cycle is None:
        raise _no_cycle(year)
    return CycleContext(cycle, load_methodology(cycle.methodology))


@dataclass(frozen=True, slots=True)
class Loaded:
    """An innovation as read (None when there is none) and the cycle it is decided under,
    with the revision of the cycle's row (store.save_innovation can require it unchanged)."""

    context: CycleContext
    cycle_revision: str
    innovation: Innovation | None


async def load_cycle_and_innovation(conn: Connection, year: int, innovation_id: str) -> Loaded:
    """The cycle (NotFound without it) and its innovation with this id (None when there is
    none), in one round trip."""
    if not looks_like_innovation_id(innovation_id):
        return Loaded(await load_cycle(conn, year), "", None)
    found = await store.get_cycle_and_innovation(conn, year, innovation_id)
    if found is None:
        raise _no_cycle(year)
    context = CycleContext(found.cycle, load_methodology(found.cycle.methodology))
    return Loaded(context, found.cycle_revision, found.innovation)


def check_region(code: str) -> None:
    if code not in load_regions():
        raise NotFound.at("path.code", f"{code!r} is not the Kemendagri code of one of the 546 regions")


def looks_like_innovation_id(value: str) -> bool:
    """Anything else cannot exist; answering "not found" without a query also keeps bytes
    PostgreSQL refuses (NUL) away from it."""
    return bool(_INNOVATION_ID.match(value))


def readable(principal: Principal, innovation: Innovation | None, innovation_id: str) -> Innovation:
    if innovation is None or not principal.can_read_innovation(innovation.region, innovation.agency_id):
        raise NotFound.at("path.innovation_id", f"innovation {innovation_id} not found")
    return innovation


def writable(principal: Principal, innovation: Innovation | None, innovation_id: str) -> Innovation:
    innovation = readable(principal, innovation, innovation_id)
    if not principal.can_write_innovation(innovation.region, innovation.agency_id):
        raise Forbidden("only an operator of the innovation's agency may change it")
    return innovation


def require_region_admin(principal: Principal, region: str) -> None:
    if not principal.can_manage_region(region):
        raise Forbidden(f"only a region admin of {region} may do this")


def require_region_reader(principal: Principal, region: str) -> None:
    """Forbidden unless the caller reads `region` (its own; a province admin's province; any
    for a national principal)."""
    if not principal.can_read_region(region):
        raise Forbidden(f"a {principal.role} of {principal.region} may not read region {region}")


def readable_region(principal: Principal, asked: str | None) -> str:
    """The region a listing is of: the one asked (`region=`), else the caller's own — which a
    national principal does not have, so it must ask. Unknown: invalid; not readable: forbidden."""
    region = asked if asked is not None else principal.region
    if region is None:
        raise InvalidInput.at("query.region", f"a {principal.role} principal names the region: region=<code>")
    if region not in load_regions():
        raise InvalidInput.at("query.region", f"{region!r} is not the Kemendagri code of one of the 546 regions")
    require_region_reader(principal, region)
    return region


def check_version(expected: int | None, current: int) -> None:
    """The If-Match precondition of a change to a versioned subject."""
    if expected is None:
        raise PreconditionRequired.at(
            "header.If-Match", f"If-Match: <version> is required; the current version is {current}",
            current_version=current,
        )
    if expected != current:
        raise StaleVersion.at(
            "header.If-Match", f"version {expected} is stale; the current version is {current}",
            current_version=current,
        )


def window_closed(cycle: Cycle, now: datetime) -> Conflict:
    return Conflict.at("cycle", cycle.window_reason(now), code="submission_window_closed")


def not_eligible(failures: Sequence[Failure], reason: str) -> NotEligible:
    return NotEligible(
        problems=[Problem(f.field, f.reason) for f in failures],
        reason=reason,
        failed_rules=sorted({f.rule for f in failures}),
    )

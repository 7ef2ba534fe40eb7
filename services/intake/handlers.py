"""Intake's commands and queries, one function each. Each write runs in one transaction that
stores the new state and enqueues its event (outbox), then wakes the relay after commit: a
2xx means both are committed. Every refusal is an ApiError raised before anything is
written, so a refused request changes nothing.

Checks run in the same order everywhere: the cycle and region exist (404), the caller may see
the subject (404, so other tenants' ids stay unknown) and may change it (403), the If-Match
precondition (428 missing, 412 stale), the submission window (409), then the change itself
(409 for a status it does not allow, 422 for eligibility).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.common.auth import Principal, forbidden
from services.common.data.regions import load_regions
from services.common.events import (
    InnovationCreated,
    InnovationState,
    InnovationSubmitted,
    InnovationUpdated,
    InnovationWithdrawn,
    SpdAnswer,
    SpdAnswerSet,
    spd_subject,
    uuid7,
)
from services.common.logging import get_logger
from services.common.methodology.catalogue import Indicator, Methodology, load_methodology
from services.common.outbox import enqueue
from services.common.service import ApiError, Problem, ServiceRuntime
from services.intake.adapters import store
from services.intake.domain.cycle import Cycle
from services.intake.domain.eligibility import (
    SUBMISSION_WINDOW,
    Failure,
    MandatoryIndicator,
    check_eligibility,
)
from services.intake.domain.innovation import Innovation, TransitionError, new_innovation
from services.intake.domain.profile import Profile, count_words

log = get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- errors ------------------------------------------------------------------------------


def _not_found(field: str, reason: str) -> ApiError:
    return ApiError(404, "not_found", [Problem(field, reason)])


def _precondition(expected: int | None, current: int) -> None:
    if expected is None:
        raise ApiError(
            428, "precondition_required",
            [Problem("header.If-Match", f"If-Match: <version> is required; the current version is {current}")],
            current_version=current,
        )
    if expected != current:
        raise ApiError(
            412, "precondition_failed",
            [Problem("header.If-Match", f"version {expected} is stale; the current version is {current}")],
            current_version=current,
        )


def _window_closed(cycle: Cycle, now: datetime) -> ApiError:
    return ApiError(409, "submission_window_closed", [Problem("cycle", cycle.window_reason(now))])


def _not_eligible(failures: Sequence[Failure], reason: str) -> ApiError:
    return ApiError(
        422, "not_eligible",
        [Problem(f.field, f.reason) for f in failures],
        failed_rules=sorted({f.rule for f in failures}),
        reason=reason,
    )


# --- lookups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleContext:
    cycle: Cycle
    methodology: Methodology

    @property
    def mandatory_sid(self) -> list[MandatoryIndicator]:
        return [MandatoryIndicator(i.code, i.name) for i in self.methodology.indicators_of("sid") if i.mandatory]

    def indicator(self, code: str, aspect: str) -> Indicator:
        """The indicator of `aspect` named in the path, or 422 naming it."""
        indicator = self.methodology.indicator_by_code.get(code)
        if indicator is None:
            raise ApiError(422, "invalid_request", [Problem(
                "path.indicator", f"{code!r} is not an indicator of methodology {self.methodology.id}")])
        if indicator.aspect != aspect:
            where = "once per region, at /v1/cycles/{year}/regions/{code}/spd/{indicator}" if indicator.aspect == "spd" \
                else "per innovation, at /v1/cycles/{year}/innovations/{id}/answers/{indicator}"
            raise ApiError(422, "invalid_request", [Problem(
                "path.indicator", f"{code} is an {indicator.aspect.upper()} indicator, answered {where}")])
        return indicator


async def _cycle(conn: asyncpg.Connection, year: int) -> CycleContext:
    cycle = await store.get_cycle(conn, year)
    if cycle is None:
        raise _not_found("path.year", f"there is no cycle {year}")
    return CycleContext(cycle, load_methodology(cycle.methodology))


def _region(code: str) -> None:
    if code not in load_regions():
        raise _not_found("path.code", f"{code!r} is not the Kemendagri code of one of the 546 regions")


_INNOVATION_ID = re.compile(r"^[0-9a-f-]{1,64}$")  # UUIDs as we issue them


def looks_like_innovation_id(value: str) -> bool:
    """Anything else cannot exist; answering 404 without a query also keeps bytes PostgreSQL
    refuses (NUL) away from it."""
    return bool(_INNOVATION_ID.match(value))


def _readable(principal: Principal, innovation: Innovation | None, innovation_id: str) -> Innovation:
    if innovation is None or not principal.can_read_innovation(innovation.region, innovation.agency_id):
        raise _not_found("path.innovation_id", f"innovation {innovation_id} not found")
    return innovation


def _writable(principal: Principal, innovation: Innovation | None, innovation_id: str) -> Innovation:
    innovation = _readable(principal, innovation, innovation_id)
    if not principal.can_write_innovation(innovation.region, innovation.agency_id):
        raise forbidden("only an operator of the innovation's agency may change it")
    return innovation


# --- views -------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def innovation_view(innovation: Innovation, context: CycleContext, now: datetime) -> dict[str, Any]:
    profile = innovation.profile
    failures = check_eligibility(profile, innovation.answers, context.cycle, context.mandatory_sid, now)
    return {
        "id": innovation.id,
        "cycle": innovation.cycle,
        "region": innovation.region,
        "agency_id": innovation.agency_id,
        "status": innovation.status,
        "version": innovation.version,
        "name": profile.name,
        "tahapan": profile.tahapan,
        "jenis": profile.jenis,
        "bentuk": profile.bentuk,
        "inisiator": profile.inisiator,
        "urusan_utama": profile.urusan_utama,
        "urusan_lain": list(profile.urusan_lain),
        "tanggal_uji_coba": _iso(profile.tanggal_uji_coba),
        "tanggal_penerapan": _iso(profile.tanggal_penerapan),
        "rancang_bangun": profile.rancang_bangun,
        "rancang_bangun_words": count_words(profile.rancang_bangun),
        "tujuan": profile.tujuan,
        "manfaat": profile.manfaat,
        "hasil": profile.hasil,
        "answers": dict(innovation.answers),
        # What submit would say now: lets a form show what is missing before submitting.
        "eligibility": {
            "eligible": not failures,
            "problems": [{"rule": f.rule, "field": f.field, "reason": f.reason} for f in failures],
        },
        "created_at": _iso(innovation.created_at),
        "updated_at": _iso(innovation.updated_at),
        "submitted_at": _iso(innovation.submitted_at),
    }


def innovation_state(innovation: Innovation) -> InnovationState:
    return InnovationState(
        id=innovation.id,
        agency_id=innovation.agency_id,
        name=innovation.profile.name,
        status=innovation.status,
        urusan_utama=innovation.profile.urusan_utama,
        urusan_lain=list(innovation.profile.urusan_lain),
        answers=dict(innovation.answers),
    )


def _innovation_event(event_class: type, innovation: Innovation):  # type: ignore[no-untyped-def]
    return event_class(
        cycle=innovation.cycle,
        region=innovation.region,
        subject=innovation.id,
        version=innovation.version,
        data=innovation_state(innovation),
    )


# --- agencies ----------------------------------------------------------------------------


def _require_region_admin(principal: Principal, region: str) -> None:
    if principal.role != "region_admin" or not principal.in_region(region):
        raise forbidden(f"only a region admin of {region} may do this")


def _require_region_member(principal: Principal, region: str) -> None:
    if not principal.in_region(region):
        raise forbidden(f"a {principal.role} of {principal.region} may not read region {region}")


def _agency_view(row: asyncpg.Record) -> dict[str, Any]:
    return {"region": row["region"], "id": row["id"], "name": row["name"], "created_at": _iso(row["created_at"])}


async def create_agency(runtime: ServiceRuntime, principal: Principal, region: str, agency_id: str, name: str) -> dict[str, Any]:
    _region(region)
    _require_region_admin(principal, region)
    async with runtime.pool.acquire() as conn:
        row = await store.insert_agency(conn, region, agency_id, name, principal.subject)
    if row is None:
        raise ApiError(409, "conflict", [Problem("body.id", f"region {region} already has an agency {agency_id!r}")])
    log.info("agency registered", region=region, agency=agency_id)
    return _agency_view(row)


async def list_agencies(runtime: ServiceRuntime, principal: Principal, region: str) -> dict[str, Any]:
    _region(region)
    _require_region_member(principal, region)
    async with runtime.pool.acquire() as conn:
        rows = await store.list_agencies(conn, region)
    return {"region": region, "agencies": [_agency_view(row) for row in rows]}


async def agency_status(runtime: ServiceRuntime, principal: Principal, year: int, region: str) -> dict[str, Any]:
    """Per agency: its innovations of the cycle by status; `not_reported` lists the agencies
    with no submitted innovation."""
    _region(region)
    if principal.role == "operator" or not principal.in_region(region):
        raise forbidden(f"the agencies' status is for the region admin, verifiers and viewers of {region}")
    async with runtime.pool.acquire() as conn:
        await _cycle(conn, year)
        rows = await store.agency_status(conn, year, region)
    agencies = [
        {
            "id": row["id"],
            "name": row["name"],
            "innovations": {
                "draft": row["draft"], "submitted": row["submitted"], "withdrawn": row["withdrawn"],
                "total": row["draft"] + row["submitted"] + row["withdrawn"],
            },
            "reported": row["submitted"] > 0,
        }
        for row in rows
    ]
    return {
        "cycle": year,
        "region": region,
        "agencies": agencies,
        "not_reported": [a["id"] for a in agencies if not a["reported"]],
    }


# --- innovations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    body: dict[str, Any]
    replayed: bool


class _LostIdempotencyRace(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


def _replay(stored: asyncpg.Record, request_hash: str) -> Created:
    if stored["request_hash"] != request_hash:
        raise ApiError(422, "invalid_request", [Problem(
            "header.Idempotency-Key",
            "this key was already used with a different request body; use a new key for a new innovation",
        )])
    return Created(stored["response"], replayed=True)


async def create_innovation(
    runtime: ServiceRuntime,
    principal: Principal,
    year: int,
    profile: Profile,
    *,
    idempotency_key: str | None,
    request_hash: str,
) -> Created:
    if principal.role != "operator" or principal.agency is None:
        raise forbidden("only an operator creates innovations")
    scope = f"create-innovation:{year}:{principal.region}:{principal.agency}:{principal.subject}"
    now = utcnow()
    try:
        async with runtime.pool.acquire() as conn, conn.transaction():
            context = await _cycle(conn, year)
            if idempotency_key is not None:
                stored = await store.find_idempotent(conn, scope, idempotency_key)
                if stored is not None:
                    return _replay(stored, request_hash)
            if not await store.agency_exists(conn, principal.region, principal.agency):
                raise forbidden(
                    f"agency {principal.agency!r} is not registered in region {principal.region}; "
                    f"its region admin registers it at POST /v1/regions/{principal.region}/agencies"
                )
            if not context.cycle.window_open(now):
                raise _window_closed(context.cycle, now)
            innovation = new_innovation(str(uuid7()), year, principal.region, principal.agency, profile)
            saved = await store.insert_innovation(conn, innovation, principal.subject)
            await enqueue(conn, _innovation_event(InnovationCreated, saved))
            body = innovation_view(saved, context, now)
            if idempotency_key is not None and not await store.remember_idempotent(
                conn, scope, idempotency_key, request_hash, 201, body
            ):
                raise _LostIdempotencyRace
    except _LostIdempotencyRace:  # rolled back: answer as the winner did
        async with runtime.pool.acquire() as conn:
            stored = await store.find_idempotent(conn, scope, idempotency_key)  # type: ignore[arg-type]
        return _replay(stored, request_hash)
    runtime.wake_relay()
    log.info("innovation created", innovation=saved.id, agency=saved.agency_id)
    return Created(body, replayed=False)


async def get_innovation(runtime: ServiceRuntime, principal: Principal, year: int, innovation_id: str) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        context = await _cycle(conn, year)
        found = await store.get_innovation(conn, year, innovation_id) if looks_like_innovation_id(innovation_id) else None
        innovation = _readable(principal, found, innovation_id)
    return innovation_view(innovation, context, utcnow())


async def list_innovations(
    runtime: ServiceRuntime,
    principal: Principal,
    year: int,
    *,
    agency: str | None,
    statuses: Sequence[str],
    after: str | None,
    limit: int,
) -> dict[str, Any]:
    """The caller's region; an operator sees only its agency's innovations."""
    if principal.role == "operator":
        if agency is not None and agency != principal.agency:
            raise forbidden("an operator sees only its own agency's innovations")
        agency = principal.agency
    now = utcnow()
    async with runtime.pool.acquire() as conn:
        context = await _cycle(conn, year)
        items = await store.list_innovations(
            conn, year, principal.region, agency=agency, statuses=statuses, after=after, limit=limit
        )
    return {
        "cycle": year,
        "region": principal.region,
        "items": [innovation_view(i, context, now) for i in items],
        "next_after": items[-1].id if len(items) == limit else None,
    }


Change = Callable[[Innovation, CycleContext, datetime], Innovation | None]


async def _change_innovation(
    runtime: ServiceRuntime,
    principal: Principal,
    year: int,
    innovation_id: str,
    expected_version: int | None,
    change: Change,
    event_class: type,
) -> dict[str, Any]:
    now = utcnow()
    async with runtime.pool.acquire() as conn, conn.transaction():
        context = await _cycle(conn, year)
        current = (
            await store.get_innovation(conn, year, innovation_id, lock=True)
            if looks_like_innovation_id(innovation_id) else None
        )
        current = _writable(principal, current, innovation_id)
        _precondition(expected_version, current.version)
        changed = change(current, context, now)
        if changed is None:  # same as stored: no new version, no event
            return innovation_view(current, context, now)
        saved = await store.save_innovation(conn, changed)
        await enqueue(conn, _innovation_event(event_class, saved))
    runtime.wake_relay()
    log.info("innovation changed", innovation=saved.id, change=event_class.__name__, version=saved.version)
    return innovation_view(saved, context, now)


def _edit(apply: Callable[[Innovation], Innovation | None]) -> Change:
    """An edit of profile or answers. Allowed in any status while the window is open; a
    submitted innovation stays submitted, so the edit must keep it eligible."""

    def change(current: Innovation, context: CycleContext, now: datetime) -> Innovation | None:
        if not context.cycle.window_open(now):
            raise _window_closed(context.cycle, now)
        changed = apply(current)
        if changed is not None and changed.status == "submitted":
            failures = [
                f for f in check_eligibility(changed.profile, changed.answers, context.cycle, context.mandatory_sid, now)
                if f.rule != SUBMISSION_WINDOW
            ]
            if failures:
                raise _not_eligible(failures, "a submitted innovation must stay eligible; withdraw it first to make this change")
        return changed

    return change


async def update_innovation(
    runtime: ServiceRuntime, principal: Principal, year: int, innovation_id: str, expected_version: int | None, profile: Profile
) -> dict[str, Any]:
    return await _change_innovation(
        runtime, principal, year, innovation_id, expected_version,
        _edit(lambda current: current.with_profile(profile)), InnovationUpdated,
    )


async def set_sid_answer(
    runtime: ServiceRuntime, principal: Principal, year: int, innovation_id: str, indicator: str,
    expected_version: int | None, level: int | None,
) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:  # 422 for the indicator before anything else
        (await _cycle(conn, year)).indicator(indicator, "sid")
    return await _change_innovation(
        runtime, principal, year, innovation_id, expected_version,
        _edit(lambda current: current.with_answer(indicator, level)), InnovationUpdated,
    )


def _submit(current: Innovation, context: CycleContext, now: datetime) -> Innovation:
    try:
        submitted = current.submit()
    except TransitionError as exc:
        raise ApiError(409, "conflict", [Problem("status", str(exc))]) from None
    failures = check_eligibility(current.profile, current.answers, context.cycle, context.mandatory_sid, now)
    if failures:
        rules = sorted({f.rule for f in failures})
        raise _not_eligible(failures, f"the innovation is not eligible; failed rules: {', '.join(rules)}")
    return submitted


def _withdraw(current: Innovation, context: CycleContext, now: datetime) -> Innovation:
    if not context.cycle.window_open(now):
        raise _window_closed(context.cycle, now)
    try:
        return current.withdraw()
    except TransitionError as exc:
        raise ApiError(409, "conflict", [Problem("status", str(exc))]) from None


async def submit_innovation(
    runtime: ServiceRuntime, principal: Principal, year: int, innovation_id: str, expected_version: int | None
) -> dict[str, Any]:
    return await _change_innovation(runtime, principal, year, innovation_id, expected_version, _submit, InnovationSubmitted)


async def withdraw_innovation(
    runtime: ServiceRuntime, principal: Principal, year: int, innovation_id: str, expected_version: int | None
) -> dict[str, Any]:
    return await _change_innovation(runtime, principal, year, innovation_id, expected_version, _withdraw, InnovationWithdrawn)


# --- SPD answers -------------------------------------------------------------------------


def _spd_view(year: int, region: str, indicator: Indicator, row: asyncpg.Record | None) -> dict[str, Any]:
    return {
        "cycle": year,
        "region": region,
        "indicator": indicator.code,
        "name": indicator.name,
        "mandatory": indicator.mandatory,
        "level": row["level"] if row else None,
        "version": row["version"] if row else 0,  # 0 = never answered; If-Match: 0 sets it first
        "updated_at": _iso(row["updated_at"]) if row else None,
    }


async def list_spd_answers(runtime: ServiceRuntime, principal: Principal, year: int, region: str) -> dict[str, Any]:
    _region(region)
    _require_region_member(principal, region)
    async with runtime.pool.acquire() as conn:
        context = await _cycle(conn, year)
        rows = await store.list_spd_answers(conn, year, region)
    return {
        "cycle": year,
        "region": region,
        "methodology": context.methodology.id,
        "answers": [_spd_view(year, region, i, rows.get(i.code)) for i in context.methodology.indicators_of("spd")],
    }


async def set_spd_answer(
    runtime: ServiceRuntime, principal: Principal, year: int, region: str, indicator_code: str,
    expected_version: int | None, level: int | None,
) -> dict[str, Any]:
    _region(region)
    if not principal.can_answer_spd(region):
        raise forbidden(f"only a region admin of {region} answers its SPD indicators")
    now = utcnow()
    async with runtime.pool.acquire() as conn, conn.transaction():
        context = await _cycle(conn, year)
        indicator = context.indicator(indicator_code, "spd")
        await store.lock_spd_slot(conn, year, region, indicator.code)
        row = await store.get_spd_answer(conn, year, region, indicator.code)
        current = row["version"] if row else 0
        _precondition(expected_version, current)
        if not context.cycle.window_open(now):
            raise _window_closed(context.cycle, now)
        if (row["level"] if row else None) == level:
            return _spd_view(year, region, indicator, row)
        row = await store.save_spd_answer(conn, year, region, indicator.code, level, current + 1, principal.subject)
        await enqueue(conn, SpdAnswerSet(
            cycle=year,
            region=region,
            subject=spd_subject(region, indicator.code),
            version=row["version"],
            data=SpdAnswer(indicator=indicator.code, level=level),
        ))
    runtime.wake_relay()
    log.info("spd answer set", region=region, indicator=indicator.code, version=row["version"])
    return _spd_view(year, region, indicator, row)

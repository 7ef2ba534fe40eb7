"""The evidence service's commands and its one event handler.

Commands (called by the HTTP routes): upload a file or a link for one answer, read one item
with a download URL, list items, decide on an item. Every state change commits together with
its event in the outbox. Event handler: keep the projection of innovations (from
`intake.events`) that authorises uploads, so this service never reads intake's tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import urllib3.exceptions
from fastapi import HTTPException
from minio.error import MinioException
from starlette.requests import ClientDisconnect

from services.common.auth import Principal, forbidden
from services.common.data.regions import load_regions
from services.common.events import (
    Envelope,
    EvidenceAccepted,
    EvidenceRejected,
    EvidenceStored,
    InnovationState,
    uuid7,
)
from services.common.logging import get_logger
from services.common.outbox import enqueue
from services.common.service import ApiError, Problem, ServiceRuntime, invalid, not_found
from services.evidence.adapters import evidence_store
from services.evidence.adapters.evidence_store import EvidenceRecord
from services.evidence.adapters.object_store import ObjectStore, TooLarge, UploadStalled, peek
from services.evidence.domain import rules
from services.evidence.domain.filetypes import (
    JPEG,
    MOV,
    MP4,
    PDF,
    PNG,
    SNIFF_BYTES,
    Refused,
    check_file_type,
    sniff,
)
from services.evidence.domain.object_keys import new_object_key
from services.evidence.domain.rules import Decision, RuleViolation, Target
from services.evidence.settings import EvidenceSettings

log = get_logger(__name__)

OBJECT_STORE = "object_store"  # key of the ObjectStore in runtime.state
RETRY_UNKNOWN_INNOVATION_S = 1
_EXTENSIONS = {t.content_type: t.extension for t in (PDF, PNG, JPEG, MP4, MOV)}
_STORAGE_ERRORS = (MinioException, urllib3.exceptions.HTTPError, OSError)


def rule_error(violation: RuleViolation) -> ApiError:
    return invalid(violation.field, violation.reason)


def settings_of(runtime: ServiceRuntime) -> EvidenceSettings:
    settings = runtime.settings
    assert isinstance(settings, EvidenceSettings), "the evidence runtime runs on EvidenceSettings"
    return settings


def object_store_of(runtime: ServiceRuntime) -> ObjectStore:
    return runtime.state[OBJECT_STORE]


def storage_unavailable() -> ApiError:
    return ApiError(503, "unavailable", reason="object storage is unavailable; nothing was stored, try again")


# --- the projection of innovations -----------------------------------------------------------


async def project_innovation(event: Envelope, conn: asyncpg.Connection) -> None:
    """innovation.* from intake: remember the innovation's cycle, region, agency and status
    (only when the event is newer than what is held, so redelivery and reordering are harmless)."""
    data = getattr(event, "data", None)
    if not isinstance(data, InnovationState):
        return
    applied = await evidence_store.apply_innovation(conn, event.cycle, event.region, event.version, data)
    if not applied:
        log.info("stale innovation event: projection already newer")


# --- uploads -----------------------------------------------------------------------------------


def resolve_target(cycle: int, indicator: str, innovation: str | None, region: str | None) -> Target:
    try:
        return rules.resolve_target(cycle, indicator, innovation, region, regions=load_regions())
    except RuleViolation as violation:
        raise rule_error(violation) from None


async def authorize_upload(runtime: ServiceRuntime, principal: Principal, target: Target) -> tuple[str, str | None]:
    """The (region, agency) the upload belongs to, if `principal` may upload for `target`.

    SID: only an operator, and only for an innovation of its own agency (another agency's
    innovation is "not found"). An innovation the projection does not know yet was most
    likely created a moment ago and its event is on its way: 409 with Retry-After.
    """
    if target.is_spd:
        assert target.region is not None
        if not principal.can_answer_spd(target.region):
            raise forbidden(f"only the region admin of {target.region} uploads evidence for its SPD answers")
        return target.region, None
    if principal.role != "operator":
        raise forbidden("only an operator of the innovation's agency uploads evidence for a SID answer")
    assert target.innovation_id is not None
    async with runtime.pool.acquire() as conn:
        known = await evidence_store.innovation(conn, target.innovation_id)
    if known is None:
        raise HTTPException(
            status_code=409,
            detail={
                "error": "innovation_not_known_yet",
                "problems": [{
                    "field": "query.innovation",
                    "reason": f"innovation {target.innovation_id!r} is not known to the evidence service yet; "
                    "if it was created a moment ago, retry in a second, otherwise check the id",
                }],
            },
            headers={"Retry-After": str(RETRY_UNKNOWN_INNOVATION_S)},
        )
    if not principal.can_read_innovation(known.region, known.agency_id):
        raise not_found(f"innovation {target.innovation_id}")
    if known.cycle != target.cycle:
        raise invalid("query.cycle", f"innovation {known.id} belongs to cycle {known.cycle}, not {target.cycle}")
    if not rules.may_upload(principal, known.region, known.agency_id):
        raise forbidden("only an operator of the innovation's agency uploads its evidence")
    return known.region, known.agency_id


def check_declared_length(runtime: ServiceRuntime, content_length: str | None) -> None:
    """Refuse at once an upload that announces more bytes than the cap (the cap is enforced
    on the bytes received in any case)."""
    limit = settings_of(runtime).evidence_max_upload_bytes
    declared = (content_length or "").strip()
    if not (declared.isascii() and declared.isdigit()):
        return  # absent or malformed ("²", "-1", "1e9"): the cap still applies to the bytes received
    digits = declared.lstrip("0") or "0"
    # Compare lengths first: int() refuses strings of thousands of digits (ValueError).
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise too_large(limit)


def too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", [Problem("body", f"file is larger than the limit of {limit} bytes")])


async def upload_file(
    runtime: ServiceRuntime,
    principal: Principal,
    target: Target,
    region: str,
    agency_id: str | None,
    body: AsyncIterable[bytes],
    declared_type: str | None,
) -> EvidenceRecord:
    """Stream `body` into object storage (never whole in memory), typed by its first bytes,
    hashed and size-capped on the way; then record it and publish `evidence.stored`. On any
    refusal or failure nothing is left: no object, no row, no event."""
    settings = settings_of(runtime)
    store = object_store_of(runtime)
    try:
        head, whole = await peek(body, SNIFF_BYTES)
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", reason="the upload was interrupted") from None
    verdict = check_file_type(sniff(head), target.indicator, target.kinds, empty=not head)
    if isinstance(verdict, Refused):
        raise invalid("body", verdict.reason)
    try:
        rules.check_declared_type(declared_type, verdict.file_type)
    except RuleViolation as violation:
        raise rule_error(violation) from None

    evidence_id = str(uuid7())
    key = new_object_key(target.cycle, region)
    try:
        stored = await store.put_stream(
            key, whole, max_bytes=settings.evidence_max_upload_bytes, content_type=verdict.content_type
        )
    except TooLarge:
        raise too_large(settings.evidence_max_upload_bytes) from None
    except UploadStalled as stalled:
        raise ApiError(408, "upload_stalled", [Problem("body", str(stalled))]) from None
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", reason="the upload was interrupted") from None
    except _STORAGE_ERRORS:
        log.exception("object storage failed during an upload")
        raise storage_unavailable() from None
    return await _record_upload(
        runtime,
        key=key,
        evidence_id=evidence_id,
        cycle=target.cycle,
        region=region,
        innovation_id=target.innovation_id,
        agency_id=agency_id,
        indicator=target.indicator,
        kind=verdict.file_type.kind,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        object_key=key,
        link=None,
        uploaded_by=principal.subject,
    )


async def upload_link(
    runtime: ServiceRuntime,
    principal: Principal,
    target: Target,
    region: str,
    agency_id: str | None,
    link: str,
) -> EvidenceRecord:
    try:
        link = rules.check_link(link, target)
    except RuleViolation as violation:
        raise rule_error(violation) from None
    return await _record_upload(
        runtime,
        key=None,
        evidence_id=str(uuid7()),
        cycle=target.cycle,
        region=region,
        innovation_id=target.innovation_id,
        agency_id=agency_id,
        indicator=target.indicator,
        kind="link",
        content_type=None,
        size=None,
        sha256=None,
        object_key=None,
        link=link,
        uploaded_by=principal.subject,
    )


async def _record_upload(runtime: ServiceRuntime, *, key: str | None, **fields: Any) -> EvidenceRecord:
    """Row and `evidence.stored` in one transaction; if that fails the object goes too.

    Shielded: a client that hangs up after its bytes were stored must not cut the
    transaction in half (the row and event then commit, and the item exists)."""

    async def write() -> EvidenceRecord:
        try:
            async with runtime.pool.acquire() as conn, conn.transaction():
                record = await evidence_store.insert_evidence(conn, **fields)
                await enqueue(conn, _event(EvidenceStored, record))
        except Exception:
            if key is not None:
                await _forget_object(runtime, key)
            raise
        return record

    try:
        record = await asyncio.shield(write())
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("recording an upload failed; its object was removed")
        raise ApiError(
            503, "unavailable", reason="the evidence could not be recorded; nothing was stored, try again"
        ) from None
    runtime.wake_relay()
    log.info("evidence stored", evidence_id=record.id, kind=record.kind, size=record.size)
    return record


async def _forget_object(runtime: ServiceRuntime, key: str) -> None:
    try:
        await object_store_of(runtime).delete(key)
    except Exception:
        log.exception("could not remove the object of a failed upload", object_key=key)


def _event(cls: type[Envelope], record: EvidenceRecord) -> Envelope:
    return cls(
        cycle=record.cycle,
        region=record.region,
        subject=record.id,
        version=record.version,
        data=record.item(),
    )


# --- reading -------------------------------------------------------------------------------------


async def visible_evidence(runtime: ServiceRuntime, principal: Principal, evidence_id: str) -> tuple[EvidenceRecord, list[asyncpg.Record]]:
    """The item and its decision history, if `principal` may see it. An item outside the
    caller's region or agency is "not found"; a viewer of the region is refused."""
    async with runtime.pool.acquire() as conn:
        record = await evidence_store.evidence(conn, evidence_id)
        if record is None or rules.hides_evidence(principal, record.region, record.agency_id):
            raise not_found(f"evidence {evidence_id}")
        if not rules.may_see(principal, record.region, record.agency_id):
            raise forbidden("viewers read scores, not evidence documents")
        history = await evidence_store.decisions(conn, evidence_id)
    return record, history


def download_link(runtime: ServiceRuntime, record: EvidenceRecord) -> dict[str, str] | None:
    """A presigned GET for the item's file, valid for a few minutes; None for a link."""
    if record.object_key is None:
        return None
    ttl = timedelta(seconds=settings_of(runtime).evidence_download_url_ttl_s)
    extension = _EXTENSIONS.get(record.content_type or "", "bin")
    url = object_store_of(runtime).presigned_get(
        record.object_key, ttl, filename=f"{record.indicator}-{record.id}.{extension}"
    )
    expires = datetime.now(UTC) + ttl
    return {"url": url, "expires_at": expires.isoformat()}


async def list_visible(
    runtime: ServiceRuntime,
    principal: Principal,
    *,
    cycle: int,
    innovation: str | None,
    region: str | None,
    indicator: str | None,
    state: str | None,
    after: str | None,
    limit: int,
) -> list[EvidenceRecord]:
    """Items of one innovation or of one region that `principal` may see: an operator only
    its agency's, the region's admins and verifiers all of the region's."""
    if principal.role == "viewer":
        raise forbidden("viewers read scores, not evidence documents")
    if cycle not in rules.known_cycles():
        cycles = ", ".join(str(c) for c in rules.known_cycles())
        raise invalid("query.cycle", f"no assessment cycle {cycle}; known cycles: {cycles}")
    if (innovation is None) == (region is None):
        raise invalid("query.innovation", "give exactly one of innovation=<id> or region=<code>")
    agency = principal.agency if principal.role == "operator" else None
    async with runtime.pool.acquire() as conn:
        if innovation is not None:
            known = await evidence_store.innovation(conn, innovation)
            if known is not None and not principal.can_read_innovation(known.region, known.agency_id):
                raise not_found(f"innovation {innovation}")
        else:
            assert region is not None
            if region not in load_regions():
                raise invalid("query.region", f"unknown region {region!r} (a Kemendagri code such as 62.10)")
            if not principal.in_region(region):
                raise forbidden(f"you may list evidence of region {principal.region} only")
        records = await evidence_store.list_evidence(
            conn,
            cycle=cycle,
            region=principal.region,  # never outside the caller's region, whatever was asked
            innovation_id=innovation,
            agency_id=agency,
            indicator=indicator,
            state=state,
            after=after,
            limit=limit,
        )
    return [r for r in records if rules.may_see(principal, r.region, r.agency_id)]


# --- verification ----------------------------------------------------------------------------------


def check_may_decide(principal: Principal, record: EvidenceRecord | None, evidence_id: str) -> EvidenceRecord:
    """The item, if `principal` may decide on it. Whoever may not know that it exists (outside
    its region, or its agency, as for reading) gets "not found", as for an id that does not
    exist, so a refusal never confirms an id; the region's others who are not verifiers, 403."""
    if record is None or rules.hides_evidence(principal, record.region, record.agency_id):
        raise not_found(f"evidence {evidence_id}")
    if not principal.can_verify(record.region):
        raise forbidden(f"role {principal.role} may not decide on evidence (only a verifier of {record.region})")
    return record


async def authorize_decision(runtime: ServiceRuntime, principal: Principal, evidence_id: str) -> None:
    """Refuse a caller who may not decide on the item before its request body is read
    (`decide` checks again, under the row lock)."""
    async with runtime.pool.acquire() as conn:
        check_may_decide(principal, await evidence_store.evidence(conn, evidence_id), evidence_id)


async def decide(
    runtime: ServiceRuntime, principal: Principal, evidence_id: str, decision: Decision, reason: str | None
) -> tuple[EvidenceRecord, bool]:
    """A verifier of the item's region accepts or rejects it (with a reason); a changed
    decision is a new version. Returns the item and whether it changed (repeating the
    current decision changes nothing and publishes nothing)."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        record = check_may_decide(
            principal, await evidence_store.evidence(conn, evidence_id, for_update=True), evidence_id
        )
        try:
            verdict = rules.decide(record.state, record.reason, decision, reason)
        except RuleViolation as violation:
            raise rule_error(violation) from None
        if verdict is None:
            return record, False
        record = await evidence_store.record_decision(
            conn, evidence_id, state=verdict.state, reason=verdict.reason, decided_by=principal.subject
        )
        await enqueue(conn, _event(EvidenceAccepted if verdict.state == "accepted" else EvidenceRejected, record))
    runtime.wake_relay()
    log.info("evidence decided", evidence_id=record.id, state=record.state, version=record.version)
    return record, True

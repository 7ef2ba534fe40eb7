"""The evidence service's use cases: one function per command, query and event.

Commands: upload a file or a link for one answer, decide on an item. Queries: read one item
with a download URL, list items. Every state change commits together with its event in the
outbox. Event: keep the projection of innovations (from `intake.events`) that authorises
uploads, so this service never reads intake's tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import IO

from services.common.data.regions import load_regions
from services.common.db import Connection
from services.common.errors import (
    Forbidden,
    InputStalled,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
    UnsupportedContent,
)
from services.common.events import (
    Envelope,
    EvidenceAccepted,
    EvidenceRejected,
    EvidenceStored,
    InnovationState,
)
from services.common.ids import uuid7
from services.common.logging import get_logger
from services.common.outbox import enqueue
from services.common.principal import Principal
from services.common.tokens import TokenError
from services.evidence.adapters import evidence_store, file_checks
from services.evidence.adapters.evidence_store import (
    EvidenceRecord,
    KnownInnovation,
    NewEvidence,
    StoredContent,
)
from services.evidence.adapters.object_store import (
    STORAGE_ERRORS,
    CopyFailed,
    LengthMismatch,
    UploadStalled,
    UploadTooLarge,
    is_missing_bucket,
    peek,
)
from services.evidence.dependencies import EvidenceDeps
from services.evidence.domain import rules
from services.evidence.domain.commands import DecideEvidence, EvidenceRef, ListEvidence, UploadEvidence
from services.evidence.domain.file_structure import structure_problem
from services.evidence.domain.filetypes import (
    JPEG,
    MOV,
    MP4,
    PDF,
    PNG,
    SNIFF_BYTES,
    FileType,
    Refused,
    check_file_type,
    sniff,
)
from services.evidence.domain.object_keys import new_object_key
from services.evidence.domain.rules import Target
from services.evidence.views import (
    Decided,
    DownloadLink,
    EvidenceDetail,
    EvidencePage,
    EvidenceView,
    evidence_detail,
    evidence_view,
)

log = get_logger(__name__)

_EXTENSIONS = {t.content_type: t.extension for t in (PDF, PNG, JPEG, MP4, MOV)}
StoredEvent = type[EvidenceStored] | type[EvidenceAccepted] | type[EvidenceRejected]


def _storage_unavailable() -> Unavailable:
    return Unavailable(reason="object storage is unavailable; nothing was stored, try again")


def _too_large(limit: int) -> TooLarge:
    return TooLarge.at("body", f"file is larger than the limit of {limit} bytes")


def _event(cls: StoredEvent, record: EvidenceRecord, actor: str) -> Envelope:
    """The item's event; `actor`: the subject of the caller who changed it."""
    return cls(
        cycle=record.cycle, region=record.region, subject=record.id, version=record.version, data=record.item(),
        actor=actor,
    )


# --- the projection of innovations -----------------------------------------------------------


async def project_innovations(events: Sequence[Envelope], conn: Connection) -> None:
    """innovation.* from intake, a read at a time: remember each innovation's cycle, region,
    agency and status, only when newer than what is held (so redelivery and reordering are
    harmless). In a rush every answer is an event here: a read's events are one statement,
    the newest of each innovation."""
    newest: dict[str, KnownInnovation] = {}
    for event in events:
        data = getattr(event, "data", None)
        if not isinstance(data, InnovationState):
            continue
        held = newest.get(data.id)
        if held is None or held.version < event.version:
            newest[data.id] = KnownInnovation(data.id, event.cycle, event.region, data.agency_id, data.status,
                                             event.version)
    stored = await evidence_store.apply_innovations(conn, list(newest.values()))
    if stored < len(events):
        log.info("innovation events already reflected", events=len(events), innovations=len(newest), stored=stored)


# --- uploads -----------------------------------------------------------------------------------


async def upload_evidence(deps: EvidenceDeps, principal: Principal, command: UploadEvidence) -> EvidenceView:
    """Check the answer named, that the caller may upload for it, then store the file (or
    the link) and publish `evidence.stored`. On any refusal or failure nothing is left."""
    target = rules.resolve_target(command.cycle, command.indicator, command.innovation, command.region,
                                  regions=load_regions())
    region, agency = await _authorize_upload(deps, principal, target, command.upload_grant)
    if command.media_type == "application/json":
        content = StoredContent(kind="link", link=rules.check_link(await command.read_link(), target))
    elif command.media_type.startswith("multipart/"):
        raise UnsupportedContent.at(
            "header.content-type",
            "send the file's bytes as the request body (e.g. curl --data-binary @file.pdf), not a multipart form",
        )
    else:
        length = _declared_length(deps, command.declared_length)
        content = await _store_file(deps, target, region, command, length)
    item = NewEvidence(
        evidence_id=str(uuid7()),
        cycle=target.cycle,
        region=region,
        innovation_id=target.innovation_id,
        agency_id=agency,
        indicator=target.indicator,
        uploaded_by=principal.subject,
        content=content,
    )
    record, event = await _record_upload(deps, item)
    return evidence_view(record).model_copy(update={"event_id": event.event_id})


async def _authorize_upload(
    deps: EvidenceDeps, principal: Principal, target: Target, upload_grant: str | None
) -> tuple[str, str | None]:
    """The (region, agency) the upload belongs to, if `principal` may upload for `target`.

    SID: only an operator, and only for an innovation of its own agency. The innovation is
    known from intake's events or, when it was created a moment ago and its event is still on
    its way, from the upload grant intake returned with it. An innovation of another agency
    and one that is not known are "not found" alike, so a refusal never confirms an id.
    """
    if target.region is not None:  # SPD
        if not principal.can_answer_spd(target.region):
            raise Forbidden(f"only the region admin of {target.region} uploads evidence for its SPD answers")
        return target.region, None
    if principal.role != "operator":
        raise Forbidden("only an operator of the innovation's agency uploads evidence for a SID answer")
    innovation_id = target.innovation_id or ""
    async with deps.pool.acquire() as conn:
        known = await evidence_store.innovation(conn, innovation_id)
    if known is None:
        known = _granted(deps, innovation_id, upload_grant)
    if known is None or not principal.can_read_innovation(known.region, known.agency_id):
        raise NotFound.named(f"innovation {innovation_id}")
    if known.cycle != target.cycle:
        reason = f"innovation {known.id} belongs to cycle {known.cycle}, not {target.cycle}"
        raise InvalidInput.at("query.cycle", reason)
    if not rules.may_upload(principal, known.region, known.agency_id):
        raise Forbidden("only an operator of the innovation's agency uploads its evidence")
    return known.region, known.agency_id


def _granted(deps: EvidenceDeps, innovation_id: str, upload_grant: str | None) -> KnownInnovation | None:
    """The innovation as its upload grant describes it, if the grant is valid and for it."""
    if upload_grant is None:
        return None
    try:
        grant = deps.grants.verify(upload_grant)
    except TokenError as exc:
        log.info("upload grant refused", reason=str(exc))
        return None
    if grant.innovation_id != innovation_id:
        return None
    return KnownInnovation(innovation_id, grant.cycle, grant.region, grant.agency, status="draft", version=0)


def _declared_length(deps: EvidenceDeps, content_length: str | None) -> int | None:
    """The length the upload announces (None when absent or malformed: "²", "-1", "1e9");
    refused at once when it is more than the cap (the cap holds on the bytes received in any
    case)."""
    limit = deps.settings.evidence_max_upload_bytes
    declared = (content_length or "").strip()
    if not (declared.isascii() and declared.isdigit()):
        return None
    digits = declared.lstrip("0") or "0"
    # Compare lengths first: int() refuses strings of thousands of digits (ValueError).
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise _too_large(limit)
    return int(digits)


async def _store_file(
    deps: EvidenceDeps, target: Target, region: str, command: UploadEvidence, length: int | None
) -> StoredContent:
    """Stream the body into object storage (never whole in memory), typed by its first
    bytes, hashed, size-capped and copied to a temporary file on the way; then keep it only
    if that copy reads as the type its first bytes claim (a PDF opens and has pages, an
    image decodes)."""
    limit = deps.settings.evidence_max_upload_bytes
    head, whole = await peek(command.body, SNIFF_BYTES)
    verdict = check_file_type(sniff(head), target.indicator, target.kinds, empty=not head)
    if isinstance(verdict, Refused):
        raise InvalidInput.at("body", verdict.reason)
    rules.check_declared_type(command.declared_type, verdict.file_type)
    key = new_object_key(target.cycle, region)
    with file_checks.scratch_copy(verdict.file_type) as copy:  # None for a video: not read
        try:
            stored = await deps.objects.put_stream(
                key, whole, max_bytes=limit, content_type=verdict.content_type, copy_to=copy, length=length
            )
        except UploadTooLarge:
            raise _too_large(limit) from None
        except LengthMismatch as mismatch:
            raise InvalidInput.at("header.content-length", str(mismatch)) from None
        except UploadStalled as stalled:
            raise InputStalled.at("body", str(stalled)) from None
        except CopyFailed:
            log.exception("the temporary copy of an upload could not be written")
            raise Unavailable(reason="the file could not be checked; nothing was stored, try again") from None
        except STORAGE_ERRORS as error:
            log.exception("object storage failed during an upload")
            if is_missing_bucket(error):
                await _recreate_bucket(deps)
            raise _storage_unavailable() from None
        if copy is not None:
            await _check_structure(deps, key, copy, verdict.file_type)
    return StoredContent(
        kind=verdict.kind,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        object_key=key,
    )


async def _check_structure(deps: EvidenceDeps, key: str, copy: IO[bytes], file_type: FileType) -> None:
    """Refuse a stored file that only starts like a `file_type` (truncated, damaged, locked
    by a password, a decompression bomb), removing its object: nothing is left of it."""
    try:
        finding = await file_checks.read_structure(copy, file_type)
    except Exception:  # the copy could not be opened, the thread pool is shut down, ...
        await _forget_object(deps, key)
        log.exception("the structure of an upload could not be checked; its object was removed")
        raise Unavailable(reason="the file could not be checked; nothing was stored, try again") from None
    except BaseException:  # cancelled (the server is stopping): the object goes all the same
        await asyncio.shield(_forget_object(deps, key))
        raise
    problem = structure_problem(file_type, finding)
    if problem is not None:
        await _forget_object(deps, key)
        log.info("upload refused: its content does not read as its type", file_type=file_type.name, reason=problem)
        raise InvalidInput.at("body", problem)


async def _recreate_bucket(deps: EvidenceDeps) -> None:
    """The storage server lost the bucket: make it again, so that the client's retry lands."""
    try:
        await deps.objects.ensure_bucket()
        log.warning("evidence bucket was missing and is created again", bucket=deps.objects.bucket)
    except STORAGE_ERRORS:
        log.exception("the missing evidence bucket could not be created again")


async def _record_upload(deps: EvidenceDeps, item: NewEvidence) -> tuple[EvidenceRecord, Envelope]:
    """Row and `evidence.stored` in one transaction; if that fails the object goes too.

    Shielded: a client that hangs up after its bytes were stored must not cut the
    transaction in half (the row and event then commit, and the item exists)."""
    key = item.content.object_key

    async def write() -> tuple[EvidenceRecord, Envelope]:
        try:
            async with deps.pool.acquire() as conn, conn.transaction():
                record = await evidence_store.insert_evidence(conn, item)
                event = _event(EvidenceStored, record, item.uploaded_by)
                await enqueue(conn, event)
        except Exception:
            if key is not None:
                await _forget_object(deps, key)
            raise
        return record, event

    try:
        record, event = await asyncio.shield(write())
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("recording an upload failed; its object was removed")
        raise Unavailable(reason="the evidence could not be recorded; nothing was stored, try again") from None
    deps.wake_relay()
    log.info("evidence stored", evidence_id=record.id, kind=record.kind, size=record.size)
    return record, event


async def _forget_object(deps: EvidenceDeps, key: str) -> None:
    try:
        await deps.objects.delete(key)
    except Exception:
        log.exception("could not remove the object of a failed upload", object_key=key)


# --- reading -------------------------------------------------------------------------------------


async def read_evidence(deps: EvidenceDeps, principal: Principal, ref: EvidenceRef) -> EvidenceDetail:
    """The item, its decisions, and (for a file) a download URL valid for a few minutes, if
    `principal` may see it. An item outside the caller's region or agency is "not found"; a
    viewer of the region is refused."""
    evidence_id = ref.evidence_id
    async with deps.pool.acquire() as conn:
        record = await evidence_store.evidence(conn, evidence_id)
        if record is None or rules.hides_evidence(principal, record.region, record.agency_id):
            raise NotFound.named(f"evidence {evidence_id}")
        if not rules.may_see(principal, record.region, record.agency_id):
            raise Forbidden("viewers read scores, not evidence documents")
        history = await evidence_store.decisions(conn, evidence_id)
    return evidence_detail(record, _download_link(deps, record), history)


def _download_link(deps: EvidenceDeps, record: EvidenceRecord) -> DownloadLink | None:
    """A presigned GET for the item's file, valid for a few minutes; None for a link."""
    if record.object_key is None:
        return None
    ttl = timedelta(seconds=deps.settings.evidence_download_url_ttl_s)
    extension = _EXTENSIONS.get(record.content_type or "", "bin")
    url = deps.objects.presigned_get(record.object_key, ttl, filename=f"{record.indicator}-{record.id}.{extension}")
    return DownloadLink(url=url, expires_at=datetime.now(UTC) + ttl)


async def list_evidence(deps: EvidenceDeps, principal: Principal, query: ListEvidence) -> EvidencePage:
    """Items of one innovation or of one region that `principal` may see, oldest first: an
    operator only its agency's, the region's admins and verifiers all of the region's, a
    province admin those of its province's regions, a national principal any region's."""
    if principal.role == "viewer":
        raise Forbidden("viewers read scores, not evidence documents")
    if query.cycle not in rules.known_cycles():
        cycles = ", ".join(str(c) for c in rules.known_cycles())
        raise InvalidInput.at("query.cycle", f"no assessment cycle {query.cycle}; known cycles: {cycles}")
    if (query.innovation is None) == (query.region is None):
        raise InvalidInput.at("query.innovation", "give exactly one of innovation=<id> or region=<code>")
    async with deps.pool.acquire() as conn:
        if query.innovation is not None:
            # Unknown and foreign alike: "not found", so the answer never confirms an id.
            known = await evidence_store.innovation(conn, query.innovation)
            if known is None or not principal.can_read_innovation(known.region, known.agency_id):
                raise NotFound.named(f"innovation {query.innovation}")
            region = known.region
        elif query.region not in load_regions():
            raise InvalidInput.at("query.region", f"unknown region {query.region!r} (a Kemendagri code such as 62.10)")
        elif not principal.can_read_region(query.region):
            raise Forbidden(f"a {principal.role} of {principal.region} may not list evidence of region {query.region}")
        else:
            region = query.region
        records = await evidence_store.list_evidence(
            conn,
            cycle=query.cycle,
            region=region,  # one the caller reads, checked above
            innovation_id=query.innovation,
            agency_id=principal.agency if principal.role == "operator" else None,
            indicator=query.indicator,
            state=query.state,
            after=query.after,
            limit=query.limit,
        )
    visible = [r for r in records if rules.may_see(principal, r.region, r.agency_id)]
    return EvidencePage(
        items=[evidence_view(r) for r in visible],
        next_after=records[-1].id if len(records) == query.limit else None,
    )


# --- verification ----------------------------------------------------------------------------------


def _decidable(principal: Principal, record: EvidenceRecord | None, evidence_id: str) -> EvidenceRecord:
    """The item, if `principal` may decide on it. Whoever may not know that it exists (outside
    its region, or its agency, as for reading) gets "not found", as for an id that does not
    exist, so a refusal never confirms an id; the region's others who are not verifiers are
    forbidden."""
    if record is None or rules.hides_evidence(principal, record.region, record.agency_id):
        raise NotFound.named(f"evidence {evidence_id}")
    if not principal.can_verify(record.region):
        raise Forbidden(f"role {principal.role} may not decide on evidence (only a verifier of {record.region})")
    return record


async def decide_evidence(deps: EvidenceDeps, principal: Principal, command: DecideEvidence) -> Decided:
    """A verifier of the item's region accepts or rejects it (with a reason); a changed
    decision is a new version. Repeating the current decision changes nothing and publishes
    nothing. The caller is checked before its request body is read, and again under the
    row lock."""
    async with deps.pool.acquire() as conn:
        _decidable(principal, await evidence_store.evidence(conn, command.evidence_id), command.evidence_id)
    decision = await command.read_decision()
    async with deps.pool.acquire() as conn, conn.transaction():
        record = _decidable(
            principal, await evidence_store.evidence(conn, command.evidence_id, for_update=True), command.evidence_id
        )
        verdict = rules.decide(record.state, record.reason, decision.decision, decision.reason)
        if verdict is None:
            return Decided(item=evidence_view(record), changed=False)
        record = await evidence_store.record_decision(
            conn, command.evidence_id, state=verdict.state, reason=verdict.reason, decided_by=principal.subject
        )
        event = _event(EvidenceAccepted if verdict.state == "accepted" else EvidenceRejected, record, principal.subject)
        await enqueue(conn, event)
    deps.wake_relay()
    log.info("evidence decided", evidence_id=record.id, state=record.state, version=record.version)
    return Decided(item=evidence_view(record).model_copy(update={"event_id": event.event_id}), changed=True)

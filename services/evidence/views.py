"""What the evidence service's use cases return: typed results, which the HTTP routes send
as they are (their JSON shape is the API's)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.common.events import EvidenceKind, EvidenceState, Timestamp
from services.evidence.adapters.evidence_store import DecisionRecord, EvidenceRecord
from services.evidence.domain.rules import Decision


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class EvidenceView(_View):
    id: str
    cycle: int
    region: str
    innovation: str | None = Field(description="null for evidence of an SPD answer")
    agency: str | None
    indicator: str
    kind: EvidenceKind
    content_type: str | None = Field(description="detected from the bytes; null for a link")
    size: int | None
    sha256: str | None
    link: str | None
    state: EvidenceState
    reason: str | None = Field(description="the verifier's reason")
    decided_by: str | None
    decided_at: Timestamp | None
    uploaded_by: str
    uploaded_at: Timestamp
    version: int
    event_id: UUID | None = Field(
        default=None,
        description="the event this write caused (also in the X-Event-Id header); null for a read and for "
        "a write that changed nothing. Pass it as `after_event` to read the score once it is reflected",
    )


class DownloadLink(_View):
    url: str
    expires_at: Timestamp


class DecisionView(_View):
    version: int
    decision: Decision
    reason: str | None
    decided_by: str
    decided_at: Timestamp


class EvidenceDetail(EvidenceView):
    download: DownloadLink | None = Field(description="a short-lived URL of the file; null for a link")
    decisions: list[DecisionView]


class EvidencePage(_View):
    items: list[EvidenceView]
    next_after: str | None = Field(description="pass as `after` for the next page; null on the last")


class Decided(_View):
    item: EvidenceView
    changed: bool = Field(description="false when the decision repeated the current one")


def evidence_view(record: EvidenceRecord) -> EvidenceView:
    return EvidenceView(
        id=record.id,
        cycle=record.cycle,
        region=record.region,
        innovation=record.innovation_id,
        agency=record.agency_id,
        indicator=record.indicator,
        kind=record.kind,
        content_type=record.content_type,
        size=record.size,
        sha256=record.sha256,
        link=record.link,
        state=record.state,
        reason=record.reason,
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        uploaded_by=record.uploaded_by,
        uploaded_at=record.uploaded_at,
        version=record.version,
    )


def evidence_detail(
    record: EvidenceRecord, download: DownloadLink | None, decisions: list[DecisionRecord]
) -> EvidenceDetail:
    return EvidenceDetail(
        **evidence_view(record).model_dump(),
        download=download,
        decisions=[
            DecisionView(
                version=d.version, decision=d.state, reason=d.reason,
                decided_by=d.decided_by, decided_at=d.decided_at,
            )
            for d in decisions
        ],
    )

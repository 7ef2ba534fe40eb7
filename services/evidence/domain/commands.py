"""What the evidence service's use cases take: one typed command or query each. The HTTP
routes build them from requests; `handlers` carries them out.

Request bodies are passed unread (a stream, or a `Deferred` reader): the handler reads them
only once the caller is authorised, so an outsider learns nothing from how its body fares.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from services.common.events import EvidenceState
from services.evidence.domain.rules import Decision

T = TypeVar("T")
Deferred = Callable[[], Awaitable[T]]  # reads and validates a request body when called


@dataclass(frozen=True, slots=True)
class UploadEvidence:
    """One file (the body's bytes, streamed) or, with a JSON body, one link, for one answer:
    a SID indicator of an innovation, or an SPD indicator of a region."""

    cycle: int
    indicator: str
    innovation: str | None
    region: str | None
    media_type: str  # of the body, lower case, without parameters; "" when none was sent
    declared_type: str | None  # Content-Type as sent
    declared_length: str | None  # Content-Length as sent
    body: AsyncIterable[bytes]
    read_link: Deferred[str]  # the link of a JSON body {"link": "https://..."}
    # The innovation's upload grant from intake (X-Upload-Grant): lets an upload in before
    # this service has learned of the innovation from intake's events.
    upload_grant: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    evidence_id: str


@dataclass(frozen=True, slots=True)
class ListEvidence:
    cycle: int
    innovation: str | None
    region: str | None
    indicator: str | None = None
    state: EvidenceState | None = None
    after: str | None = None  # the last id of the previous page
    limit: int = 100


@dataclass(frozen=True, slots=True)
class DecisionInput:
    decision: Decision
    reason: str | None


@dataclass(frozen=True, slots=True)
class DecideEvidence:
    evidence_id: str
    read_decision: Deferred[DecisionInput]

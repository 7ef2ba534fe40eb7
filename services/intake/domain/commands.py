"""What intake's use cases take: one typed command or query per use case. The HTTP routes
build them from requests; `handlers` carries them out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.intake.domain.innovation import Status
from services.intake.domain.profile import Profile


@dataclass(frozen=True, slots=True)
class RegisterAgency:
    region: str
    agency_id: str
    name: str


@dataclass(frozen=True, slots=True)
class AgenciesQuery:
    region: str


@dataclass(frozen=True, slots=True)
class AgencyStatusQuery:
    cycle: int
    region: str


@dataclass(frozen=True, slots=True)
class CreateInnovation:
    cycle: int
    profile: Profile
    # Same for requests that mean the same (see entrypoints.schemas.ProfileBody.fingerprint):
    # a retry with the same Idempotency-Key must send the same request.
    request_hash: str
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class InnovationRef:
    """One innovation of a cycle, as named in a path."""

    cycle: int
    innovation_id: str


@dataclass(frozen=True, slots=True)
class ListInnovations:
    cycle: int
    agency: str | None = None
    region: str | None = None  # None: the caller's own (a national principal must name one)
    statuses: Sequence[Status] = ()
    after: str | None = None  # id of the last item of the previous page
    limit: int = 100


@dataclass(frozen=True, slots=True)
class UpdateProfile:
    innovation: InnovationRef
    expected_version: int | None  # from If-Match; None = not sent
    profile: Profile


@dataclass(frozen=True, slots=True)
class SetSidAnswer:
    innovation: InnovationRef
    expected_version: int | None
    indicator: str
    level: int | None  # None clears the answer


@dataclass(frozen=True, slots=True)
class ChangeStatus:
    """Submit or withdraw (which one is the handler called)."""

    innovation: InnovationRef
    expected_version: int | None


@dataclass(frozen=True, slots=True)
class SpdAnswersQuery:
    cycle: int
    region: str


@dataclass(frozen=True, slots=True)
class SetSpdAnswer:
    cycle: int
    region: str
    indicator: str
    expected_version: int | None
    level: int | None

"""What intake's use cases return: typed results, which the HTTP routes send as they are
(their JSON shape is the API's). Built from domain objects here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.common.events import Timestamp
from services.intake.domain.eligibility import Failure
from services.intake.domain.innovation import Innovation, Status
from services.intake.domain.profile import count_words


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- agencies ------------------------------------------------------------------------------


class AgencyView(_View):
    region: str
    id: str
    name: str
    created_at: Timestamp


class AgencyList(_View):
    region: str
    agencies: list[AgencyView]


class InnovationCounts(_View):
    draft: int
    submitted: int
    withdrawn: int
    total: int


class AgencyReport(_View):
    id: str
    name: str
    innovations: InnovationCounts
    reported: bool = Field(description="has at least one submitted innovation this cycle")


class AgencyStatusView(_View):
    cycle: int
    region: str
    agencies: list[AgencyReport]
    not_reported: list[str] = Field(description="ids of the agencies with no submitted innovation")


# --- innovations ---------------------------------------------------------------------------


class EligibilityProblem(_View):
    rule: str
    field: str
    reason: str


class Eligibility(_View):
    """What submit would say now: lets a form show what is missing before submitting."""

    eligible: bool
    problems: list[EligibilityProblem]


class InnovationView(_View):
    id: str
    cycle: int
    region: str
    agency_id: str
    status: Status
    version: int
    name: str
    tahapan: str | None
    jenis: str | None
    bentuk: str | None
    inisiator: str | None
    urusan_utama: str
    urusan_lain: list[str]
    tanggal_uji_coba: date | None
    tanggal_penerapan: date | None
    rancang_bangun: str | None
    rancang_bangun_words: int
    tujuan: str | None
    manfaat: str | None
    hasil: str | None
    answers: dict[str, int]
    eligibility: Eligibility
    created_at: Timestamp | None
    updated_at: Timestamp | None
    submitted_at: Timestamp | None
    upload_grant: str = Field(
        description="send as `X-Upload-Grant` with an evidence upload for this innovation; valid for an hour "
        "(INOVASI_UPLOAD_GRANT_TTL_S), so the upload needs no wait for the evidence service to learn of it"
    )
    event_id: UUID | None = Field(
        default=None,
        description="the event this write caused (also in the X-Event-Id header); null for a read and for "
        "a write that changed nothing. Pass it as `after_event` to read the score once it is reflected",
    )


class InnovationPage(_View):
    cycle: int
    region: str
    items: list[InnovationView]
    next_after: str | None = Field(description="pass as `after` for the next page; null on the last")


def innovation_view(innovation: Innovation, failures: Sequence[Failure], upload_grant: str) -> InnovationView:
    profile = innovation.profile
    return InnovationView(
        id=innovation.id,
        cycle=innovation.cycle,
        region=innovation.region,
        agency_id=innovation.agency_id,
        status=innovation.status,
        version=innovation.version,
        name=profile.name,
        tahapan=profile.tahapan,
        jenis=profile.jenis,
        bentuk=profile.bentuk,
        inisiator=profile.inisiator,
        urusan_utama=profile.urusan_utama,
        urusan_lain=list(profile.urusan_lain),
        tanggal_uji_coba=profile.tanggal_uji_coba,
        tanggal_penerapan=profile.tanggal_penerapan,
        rancang_bangun=profile.rancang_bangun,
        rancang_bangun_words=count_words(profile.rancang_bangun),
        tujuan=profile.tujuan,
        manfaat=profile.manfaat,
        hasil=profile.hasil,
        answers=dict(innovation.answers),
        eligibility=Eligibility(
            eligible=not failures,
            problems=[EligibilityProblem(rule=f.rule, field=f.field, reason=f.reason) for f in failures],
        ),
        created_at=innovation.created_at,
        updated_at=innovation.updated_at,
        submitted_at=innovation.submitted_at,
        upload_grant=upload_grant,
    )


# --- SPD answers ---------------------------------------------------------------------------


class SpdAnswerView(_View):
    cycle: int
    region: str
    indicator: str
    name: str
    mandatory: bool
    level: int | None
    version: int = Field(description="0 = never answered; If-Match: 0 sets it the first time")
    updated_at: Timestamp | None
    event_id: UUID | None = Field(
        default=None,
        description="the event this write caused (also in the X-Event-Id header); null for a read and for "
        "a write that changed nothing. Pass it as `after_event` to read the score once it is reflected",
    )


class SpdAnswers(_View):
    cycle: int
    region: str
    methodology: str
    answers: list[SpdAnswerView]

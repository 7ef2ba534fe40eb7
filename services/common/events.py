"""The event contract shared by all services.

Every event is a `BaseEnvelope` subclass with a literal `type` and a typed `data` holding the
NEW STATE of its subject (never a diff). Consumers apply an event only when its `version`
is newer than what they hold, so redelivery and reordering are harmless. Two kinds:

- `Envelope`: submission, evidence and scoring events, each of one `cycle` and one `region`;
- `AccountEnvelope`: the web app's account events (`web.events`), which belong to no cycle
  and, for a national account, to no region.

`actor` names the account (the token's subject) behind a change a person made: intake and
evidence set it from the caller; derived events (scoring's, notify's) leave it null — their
`causation_id` leads to the event a person caused.

Streams: one per producing service (`intake.events`, ..., `web.events`), each with a
dead-letter stream `<stream>.dlq`. Wire format of a stream entry (written by the outbox relay, read by
FastStream consumers and by plain XREAD readers such as the SSE feed):

    __data__   the envelope as UTF-8 JSON (`Envelope.model_dump_json()`), nothing else
    type       copy of the envelope's type, informational (XRANGE readability)
    event_id   copy of the envelope's event_id, informational

The field is named `__data__` because that is where FastStream's Redis stream parser looks;
plain JSON there is decoded by its fallback path (it is not FastStream's binary format).
Readers must take everything from `__data__`; the copies are never authoritative.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from services.common.data.regions import RegionType, load_regions
from services.common.ids import current_correlation_id, uuid7
from services.common.principal import Role


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- streams -----------------------------------------------------------------------------

Producer = Literal["intake", "evidence", "scoring", "notify", "web"]
PRODUCERS: tuple[Producer, ...] = ("intake", "evidence", "scoring", "notify", "web")

# Logical stream names (the deployment's INOVASI_STREAM_PREFIX is prepended to the key).
INTAKE_STREAM = "intake.events"
EVIDENCE_STREAM = "evidence.events"
SCORING_STREAM = "scoring.events"
NOTIFY_STREAM = "notify.events"
WEB_STREAM = "web.events"  # accounts; never trimmed: every service replays it at start-up
# The streams of `Envelope` events, which consumer groups read (services.common.bus).
ENVELOPE_STREAMS = (INTAKE_STREAM, EVIDENCE_STREAM, SCORING_STREAM, NOTIFY_STREAM)
STREAMS = (*ENVELOPE_STREAMS, WEB_STREAM)
DLQ_SUFFIX = ".dlq"

DATA_FIELD = "__data__"


def stream_of(producer: Producer) -> str:
    """The logical stream a service publishes to."""
    return f"{producer}.events"


def dlq_of(stream: str) -> str:
    return stream + DLQ_SUFFIX


# --- shared field types ------------------------------------------------------------------

RegionCode = Annotated[
    str,
    Field(
        pattern=r"^\d{2}(\.\d{2})?$",
        description="Kemendagri code: '62' (provinsi) or '62.10' (kabupaten/kota)",
        examples=["62.10"],
    ),
]
IndicatorCode = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$", examples=["sid-01", "spd-02a"])
]
Level = Annotated[int, Field(ge=1, le=3, description="chosen parameter of an indicator")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
# Times travel as ISO 8601 with their offset ("2026-11-30T06:33:26.123456+00:00"), as the
# API has always written them.
Timestamp = Annotated[
    AwareDatetime,
    PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# Decimals travel as strings ("47.04") so no consumer sees a binary float.
DecimalStr = Annotated[
    Decimal,
    # Plain notation, as the pattern says: str() writes 5E-7 for a tiny value such as a
    # maturity a client asked about.
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["47.04"]}),
]


class _Model(BaseModel):
    # Tolerant reader: a field added by a newer producer does not break older consumers.
    # Frozen: an event is a fact.
    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )


# --- envelope ----------------------------------------------------------------------------

# An account's id, a token's subject: printable ASCII (logged and stored as is).
ACTOR_PATTERN = r"^[\x21-\x7e]{1,200}$"


class BaseEnvelope(_Model):
    """Fields common to every event. Subclasses fix `type`, `producer` and `data`."""

    event_id: UUID = Field(default_factory=uuid7, description="UUIDv7, time-ordered")
    type: str
    occurred_at: Timestamp = Field(default_factory=_utcnow)
    producer: Producer
    subject: str = Field(min_length=1, max_length=200, description="the aggregate's id")
    version: int = Field(ge=1, description="per subject, increasing with every change")
    correlation_id: str = Field(
        default="",
        max_length=128,
        description="id of the request or flow; defaults to the bound one, else event_id",
    )
    causation_id: str | None = Field(None, max_length=128, description="id of the cause")
    actor: str | None = Field(
        None,
        pattern=ACTOR_PATTERN,
        description="the account (token subject) behind the change, when a person made it; "
        "null for events no person caused (derived events: follow causation_id)",
    )
    data: BaseModel

    @model_validator(mode="after")
    def _defaults_and_subject(self) -> BaseEnvelope:
        if not self.correlation_id:
            # frozen model: set through object, once, at construction
            object.__setattr__(
                self, "correlation_id", current_correlation_id() or str(self.event_id)
            )
        expected = self.expected_subject()
        if expected is not None and self.subject != expected:
            raise ValueError(f"subject must be {expected!r} for {self.type}, got {self.subject!r}")
        return self

    def expected_subject(self) -> str | None:
        """The subject implied by `data`, checked at construction; None = not derived."""
        return None


class Envelope(BaseEnvelope):
    """A submission, evidence or scoring event: of one assessment cycle and one region."""

    cycle: int = Field(ge=2000, le=2100, description="assessment year")
    region: RegionCode


# --- intake ------------------------------------------------------------------------------


def spd_subject(region: str, indicator: str) -> str:
    return f"{region}/spd/{indicator}"


class SpdAnswer(_Model):
    indicator: IndicatorCode
    level: Level | None = Field(description="null = answer cleared")


class SpdAnswerSet(Envelope):
    """A region's answer to one SPD indicator (answered once per region)."""

    type: Literal["spd.answer_set"] = "spd.answer_set"
    producer: Literal["intake"] = "intake"
    data: SpdAnswer

    def expected_subject(self) -> str:
        return spd_subject(self.region, self.data.indicator)


InnovationStatus = Literal["draft", "submitted", "withdrawn"]


class InnovationState(_Model):
    """What scoring needs to know of an innovation, as it is now."""

    id: str = Field(min_length=1, max_length=100)
    agency_id: str = Field(min_length=1, max_length=100)
    name: str
    status: InnovationStatus
    urusan_utama: str
    urusan_lain: list[str] = Field(default_factory=list)
    answers: dict[IndicatorCode, Level | None] = Field(
        default_factory=dict, description="SID indicator code -> level, null = unanswered"
    )


class _InnovationEvent(Envelope):
    producer: Literal["intake"] = "intake"
    data: InnovationState
    implied_status: ClassVar[InnovationStatus | None] = None

    def expected_subject(self) -> str:
        return self.data.id

    @model_validator(mode="after")
    def _status_matches_type(self) -> _InnovationEvent:
        if self.implied_status is not None and self.data.status != self.implied_status:
            raise ValueError(f"{self.type} requires data.status {self.implied_status!r}")
        return self


class InnovationCreated(_InnovationEvent):
    """An agency created an innovation profile (status draft)."""

    type: Literal["innovation.created"] = "innovation.created"
    implied_status = "draft"


class InnovationUpdated(_InnovationEvent):
    """An innovation profile or one of its SID answers changed."""

    type: Literal["innovation.updated"] = "innovation.updated"


class InnovationSubmitted(_InnovationEvent):
    """An innovation passed eligibility and was submitted: it now counts for the region."""

    type: Literal["innovation.submitted"] = "innovation.submitted"
    implied_status = "submitted"


class InnovationWithdrawn(_InnovationEvent):
    """A submitted innovation was withdrawn: it no longer counts."""

    type: Literal["innovation.withdrawn"] = "innovation.withdrawn"
    implied_status = "withdrawn"


# --- evidence ----------------------------------------------------------------------------

EvidenceState = Literal["pending", "accepted", "rejected"]
EvidenceKind = Literal["pdf", "image", "video", "link"]


class EvidenceItem(_Model):
    evidence_id: str = Field(min_length=1, max_length=100)
    innovation_id: str | None = Field(description="null = evidence for an SPD answer")
    indicator: IndicatorCode
    state: EvidenceState
    reason: str | None = Field(None, description="the verifier's reason, required on rejection")
    kind: EvidenceKind
    sha256: Sha256Hex | None = Field(None, description="of the stored bytes; null for a link")
    size: int | None = Field(None, ge=0, description="bytes; null for a link")
    content_type: str | None = Field(None, description="detected from the bytes; null for a link")

    @model_validator(mode="after")
    def _file_facts(self) -> EvidenceItem:
        if self.kind != "link" and (self.sha256 is None or self.size is None):
            raise ValueError(f"a {self.kind} evidence item needs sha256 and size")
        if self.state == "rejected" and not (self.reason and self.reason.strip()):
            raise ValueError("a rejected evidence item needs a reason")
        return self


class _EvidenceEvent(Envelope):
    producer: Literal["evidence"] = "evidence"
    data: EvidenceItem
    implied_state: ClassVar[EvidenceState] = "pending"

    def expected_subject(self) -> str:
        return self.data.evidence_id

    @model_validator(mode="after")
    def _state_matches_type(self) -> _EvidenceEvent:
        if self.data.state != self.implied_state:
            raise ValueError(f"{self.type} requires data.state {self.implied_state!r}")
        return self


class EvidenceStored(_EvidenceEvent):
    """An evidence file or link was stored for one answer and awaits verification."""

    type: Literal["evidence.stored"] = "evidence.stored"
    implied_state = "pending"


class EvidenceAccepted(_EvidenceEvent):
    """A verifier accepted an evidence item: its answer counts in the validated figure."""

    type: Literal["evidence.accepted"] = "evidence.accepted"
    implied_state = "accepted"


class EvidenceRejected(_EvidenceEvent):
    """A verifier rejected an evidence item, with a reason: its answer scores zero."""

    type: Literal["evidence.rejected"] = "evidence.rejected"
    implied_state = "rejected"


# --- scoring -----------------------------------------------------------------------------

Figure = Literal["claimed", "provisional", "validated"]
FIGURES: tuple[Figure, ...] = ("claimed", "provisional", "validated")


class Rank(_Model):
    position: int = Field(ge=1, description="1 = highest")
    of: int = Field(ge=1, description="number of regions ranked")


class FigureRanks(_Model):
    type: Rank | None = Field(description="among all regions of the same type nationally")
    province: Rank | None = Field(
        description="among the kabupaten/kota of the same province; null for a provinsi"
    )


class FigureValues(_Model):
    """One figure of a region's index: the IID, its category, and what it is computed from.
    IID = (spd + sid_average + sji) / 250 x 100, exact until the IID is rounded."""

    iid: DecimalStr = Field(description="0-100, rounded half-up to two decimals")
    category: str = Field(description="category id of the methodology, e.g. 'inovatif'")
    innovations_counted: int = Field(ge=0, description="submitted innovations with a counted answer")
    basic_services_covered: int | None = Field(
        ge=0,
        description="basic-service urusan with a counted innovation; null only in events of contract 1.0",
    )
    spd: DecimalStr = Field(description="SPD points (four decimals)")
    sid_average: DecimalStr = Field(description="average maturity of the counted innovations (four decimals)")
    sji: DecimalStr = Field(description="points for the number of innovations (four decimals)")
    total: DecimalStr = Field(description="spd + sid_average + sji, of 250 (four decimals)")


class ScoreFigure(FigureValues):
    """A figure with the region's ranks on it."""

    ranks: FigureRanks


class RegionScore(_Model):
    """A region's score: the one shape of a score everywhere — the `score.updated` event's
    data, the scoring service's history and REST answer, and the live feed (SSE). Ranks are
    those at `computed_at`; the REST answer shows the current ones."""

    cycle: int = Field(ge=2000, le=2100)
    region: RegionCode
    name: str = Field(examples=["Kabupaten Gunung Mas"])
    type: RegionType
    province: str | None = Field(description="the province a kabupaten or kota is ranked within; null for a provinsi")
    methodology: str = Field(examples=["iid-2026"])
    version: int = Field(ge=0, description="increases with every change of the figures; 0 = nothing reported yet")
    caused_by: UUID | None = Field(description="event_id of the event that caused this score")
    cause_type: str | None = Field(description="type of that event, e.g. evidence.accepted")
    computed_at: Timestamp | None
    claimed: ScoreFigure = Field(description="every answer as the region claims it")
    provisional: ScoreFigure = Field(description="answers whose evidence is not rejected")
    validated: ScoreFigure = Field(description="only answers with accepted evidence")

    def figure(self, name: Figure) -> ScoreFigure:
        figure: ScoreFigure = getattr(self, name)
        return figure

    def with_ranks(self, ranks: Mapping[Figure, FigureRanks]) -> RegionScore:
        """The same score with other ranks (e.g. the current ones)."""
        update: dict[str, Any] = {f: self.figure(f).model_copy(update={"ranks": ranks[f]}) for f in FIGURES}
        return self.model_copy(update=update)


class ScoreUpdated(Envelope):
    """A region's index was recomputed: the three figures, categories and ranks."""

    type: Literal["score.updated"] = "score.updated"
    producer: Literal["scoring"] = "scoring"
    data: RegionScore

    def expected_subject(self) -> str:
        return self.region

    @model_validator(mode="before")
    @classmethod
    def _upgrade_contract_1_0(cls, values: Any) -> Any:
        """An event of contract 1.0 (still on a stream, or in an outbox, when the platform is
        upgraded) carried in `data` only the methodology, `caused_by` and the three figures,
        without `basic_services_covered`: fill the rest in from the envelope and the region
        list, so that it is read, not dead-lettered."""
        if not isinstance(values, dict):
            return values
        data, info = values.get("data"), load_regions().get(str(values.get("region")))
        if not isinstance(data, dict) or "cycle" in data or info is None:
            return values
        figures: dict[str, dict[str, Any]] = {
            f: {"basic_services_covered": None, **data[f]} for f in FIGURES if isinstance(data.get(f), dict)
        }
        upgraded = {
            "cycle": values.get("cycle"),
            "region": info.code,
            "name": info.name,
            "type": info.type,
            "province": None if info.type == "provinsi" else info.province_code,
            "methodology": data.get("methodology"),
            "version": values.get("version"),
            "caused_by": data.get("caused_by"),
            "cause_type": None,
            "computed_at": values.get("occurred_at"),
            **figures,
        }
        return {**values, "data": upgraded}

    @model_validator(mode="after")
    def _data_matches_envelope(self) -> ScoreUpdated:
        if (self.data.cycle, self.data.region, self.data.version) != (self.cycle, self.region, self.version):
            raise ValueError("data.cycle, data.region and data.version must equal the envelope's")
        return self


class RankMove(_Model):
    region: RegionCode
    ranks: FigureRanks = Field(description="the region's ranks in this figure now")


class RankingChange(_Model):
    """The regions whose rank moved because one region's score changed."""

    cycle: int = Field(ge=2000, le=2100)
    region: RegionCode = Field(description="the region whose score changed")
    type: RegionType = Field(description="the type of the regions ranked together")
    version: int = Field(ge=1, description="the version of the region's score that moved the others")
    claimed: list[RankMove]
    provisional: list[RankMove]
    validated: list[RankMove]

    def moves(self, figure: Figure) -> list[RankMove]:
        moves: list[RankMove] = getattr(self, figure)
        return moves


def ranking_subject(region: str) -> str:
    return f"{region}/ranking"


class RankingChanged(Envelope):
    """A region's new score moved other regions' ranks: which ones, and where they stand now.
    One per score version that moves any; the moved regions publish no score.updated for it."""

    type: Literal["ranking.changed"] = "ranking.changed"
    producer: Literal["scoring"] = "scoring"
    data: RankingChange

    def expected_subject(self) -> str:
        return ranking_subject(self.region)

    @model_validator(mode="after")
    def _data_matches_envelope(self) -> RankingChanged:
        if (self.data.cycle, self.data.region, self.data.version) != (self.cycle, self.region, self.version):
            raise ValueError("data.cycle, data.region and data.version must equal the envelope's")
        return self


# --- web (accounts) ---------------------------------------------------------------------

AccountStatus = Literal["active", "disabled"]


class AccountEnvelope(BaseEnvelope):
    """An event of the web app's accounts: of no cycle; of the account's region, if it has
    one (a national account has none; a province admin's is its provinsi)."""

    producer: Literal["web"] = "web"
    region: RegionCode | None = Field(None, description="the account's region; null for a national account")


class AccountState(_Model):
    """An account as it is now (never its password or anything secret)."""

    id: str = Field(pattern=ACTOR_PATTERN, description="the account id, the subject of its tokens",
                    examples=["acc-0f3c2b9e6d7a4c1b8e5f2a9d3c7b6e1f"])
    username: str = Field(min_length=1, max_length=200)
    role: Role
    region: RegionCode | None = Field(description="null for a national account")
    agency: str | None = Field(None, max_length=100, description="an operator's agency")
    status: AccountStatus


class _AccountEvent(AccountEnvelope):
    data: AccountState
    implied_status: ClassVar[AccountStatus | None] = None

    def expected_subject(self) -> str:
        return self.data.id

    @model_validator(mode="after")
    def _matches_data(self) -> _AccountEvent:
        if self.region != self.data.region:
            raise ValueError("region must equal data.region (the account's region)")
        if self.implied_status is not None and self.data.status != self.implied_status:
            raise ValueError(f"{self.type} requires data.status {self.implied_status!r}")
        return self


class AccountCreated(_AccountEvent):
    """An account was created."""

    type: Literal["account.created"] = "account.created"


class AccountUpdated(_AccountEvent):
    """An account changed (role, region, agency, name, or enabled again: status active)."""

    type: Literal["account.updated"] = "account.updated"


class AccountDisabled(_AccountEvent):
    """An account was disabled: every service refuses its tokens within seconds."""

    type: Literal["account.disabled"] = "account.disabled"
    implied_status = "disabled"


class RevokedToken(_Model):
    token_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$", description="the token's jti")
    account_id: str = Field(pattern=ACTOR_PATTERN, description="the account the token was issued to")


class TokenRevoked(AccountEnvelope):
    """A personal API token was revoked: every service refuses it within seconds."""

    type: Literal["token.revoked"] = "token.revoked"
    data: RevokedToken

    def expected_subject(self) -> str:
        return self.data.token_id


# --- parsing -----------------------------------------------------------------------------

EVENT_CLASSES: tuple[type[BaseEnvelope], ...] = (
    SpdAnswerSet,
    InnovationCreated,
    InnovationUpdated,
    InnovationSubmitted,
    InnovationWithdrawn,
    EvidenceStored,
    EvidenceAccepted,
    EvidenceRejected,
    ScoreUpdated,
    RankingChanged,
    AccountCreated,
    AccountUpdated,
    AccountDisabled,
    TokenRevoked,
)
EVENT_TYPES: dict[str, type[BaseEnvelope]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_CLASSES
}

# The events of a cycle and region (`Envelope`), and those of accounts (`AccountEnvelope`).
DomainEvent = (
    SpdAnswerSet
    | InnovationCreated
    | InnovationUpdated
    | InnovationSubmitted
    | InnovationWithdrawn
    | EvidenceStored
    | EvidenceAccepted
    | EvidenceRejected
    | ScoreUpdated
    | RankingChanged
)
AccountEvent = AccountCreated | AccountUpdated | AccountDisabled | TokenRevoked
Event = Annotated[DomainEvent | AccountEvent, Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(raw: str | bytes | Mapping[str, Any]) -> Event:
    """Validate JSON text or a decoded dict into its event class (pydantic.ValidationError
    when the type is unknown or a field is wrong)."""
    if isinstance(raw, (str, bytes)):
        return EVENT_ADAPTER.validate_json(raw)
    return EVENT_ADAPTER.validate_python(raw)


class UndecodableEntry(ValueError):
    """A stream entry that is not an event of this contract; it can never be handled."""


# A stream entry as redis-py returns it without decode_responses: (entry id, fields).
# (redis-py's own annotations cover every protocol and mode at once, so readers cast to this.)
StreamEntry = tuple[bytes, dict[bytes, bytes]]


def entry_fields(payload: str, event_type: str, event_id: str) -> dict[str, str]:
    """The stream entry for an already serialised envelope (see module docstring)."""
    return {DATA_FIELD: payload, "type": event_type, "event_id": event_id}


def to_entry(event: BaseEnvelope) -> dict[str, str]:
    return entry_fields(event.model_dump_json(), event.type, str(event.event_id))


def from_entry(fields: Mapping[bytes, bytes] | Mapping[str, str]) -> Event:
    """Parse a stream entry as returned by redis-py (bytes or decoded str keys)."""
    raw = fields.get(DATA_FIELD.encode()) or fields.get(DATA_FIELD)  # type: ignore[call-overload]
    if raw is None:
        raise UndecodableEntry(f"stream entry has no {DATA_FIELD!r} field")
    try:
        return parse_event(raw)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise UndecodableEntry(str(exc)) from exc

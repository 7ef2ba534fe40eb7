"""Valid sample events of every type, for tests of any service. Keyword arguments override
envelope fields; `data=` overrides fields of the data model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.common import events as ev
from services.common.data.regions import load_regions

REGION = "62.10"  # Kabupaten Gunung Mas
CYCLE = 2026
SHA = "ab" * 32


def _envelope(subject: str, overrides: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {"cycle": CYCLE, "region": REGION, "subject": subject, "version": 1}
    base.update(overrides)
    return base


def spd_answer_set(indicator: str = "spd-01", level: int | None = 2, **kw: Any) -> ev.SpdAnswerSet:
    region = kw.get("region", REGION)
    data = ev.SpdAnswer(indicator=indicator, level=level)
    return ev.SpdAnswerSet(data=data, **_envelope(ev.spd_subject(region, indicator), kw))


_INNOVATION_CLASSES: dict[str, type[ev.Envelope]] = {
    "innovation.created": ev.InnovationCreated,
    "innovation.updated": ev.InnovationUpdated,
    "innovation.submitted": ev.InnovationSubmitted,
    "innovation.withdrawn": ev.InnovationWithdrawn,
}
_STATUS = {
    "innovation.created": "draft",
    "innovation.updated": "draft",
    "innovation.submitted": "submitted",
    "innovation.withdrawn": "withdrawn",
}


def innovation(
    type: str = "innovation.submitted", innovation_id: str = "inn-1", *,
    data: dict[str, Any] | None = None, **kw: Any,
) -> ev.Envelope:
    fields: dict[str, Any] = {
        "id": innovation_id,
        "agency_id": "dinkes",
        "name": "Posyandu digital",
        "status": _STATUS[type],
        "urusan_utama": "kesehatan",
        "urusan_lain": ["sosial"],
        "answers": {"sid-01": 3, "sid-02": None},
    }
    fields.update(data or {})
    state = ev.InnovationState(**fields)
    return _INNOVATION_CLASSES[type](data=state, **_envelope(state.id, kw))


_EVIDENCE_CLASSES: dict[str, type[ev.Envelope]] = {
    "evidence.stored": ev.EvidenceStored,
    "evidence.accepted": ev.EvidenceAccepted,
    "evidence.rejected": ev.EvidenceRejected,
}


def evidence(
    type: str = "evidence.stored", evidence_id: str = "evd-1", *,
    data: dict[str, Any] | None = None, **kw: Any,
) -> ev.Envelope:
    state = type.split(".")[1].replace("stored", "pending")
    fields: dict[str, Any] = {
        "evidence_id": evidence_id,
        "innovation_id": "inn-1",
        "indicator": "sid-01",
        "state": state,
        "reason": "halaman tanda tangan tidak terbaca" if state == "rejected" else None,
        "kind": "pdf",
        "sha256": SHA,
        "size": 12345,
        "content_type": "application/pdf",
    }
    fields.update(data or {})
    item = ev.EvidenceItem(**fields)
    return _EVIDENCE_CLASSES[type](data=item, **_envelope(item.evidence_id, kw))


def _figure(iid: str) -> ev.ScoreFigure:
    return ev.ScoreFigure(
        iid=Decimal(iid), category="inovatif", innovations_counted=14, basic_services_covered=6,
        spd=Decimal("40.0000"), sid_average=Decimal("62.3000"), sji=Decimal("5.3200"),
        total=Decimal("107.6200"),
        ranks=ev.FigureRanks(type=ev.Rank(position=120, of=415), province=ev.Rank(position=3, of=13)),
    )


def score_updated(caused_by: ev.Envelope | None = None, **kw: Any) -> ev.ScoreUpdated:
    region = kw.get("region", REGION)
    info = load_regions()[region]
    cause = caused_by or innovation()
    envelope = _envelope(region, kw)
    data = ev.RegionScore(
        cycle=envelope["cycle"], region=region, name=info.name, type=info.type,
        province=None if info.type == "provinsi" else info.province_code,
        methodology="iid-2026", version=envelope["version"], caused_by=cause.event_id, cause_type=cause.type,
        computed_at=datetime.now(UTC),
        claimed=_figure("47.04"), provisional=_figure("43.05"), validated=_figure("40.01"),
    )
    kw.setdefault("causation_id", str(cause.event_id))
    kw.setdefault("correlation_id", cause.correlation_id)
    return ev.ScoreUpdated(data=data, **_envelope(region, kw))


def spd_with_evidence(indicator: str = "spd-01", level: int = 2, **kw: Any) -> list[ev.Envelope]:
    """An SPD answer and its evidence: the two events after which the answer counts (an answer
    without evidence counts in no figure, so it alone changes no score)."""
    region = kw.get("region", REGION)
    answer = spd_answer_set(indicator, level, **kw)
    item = evidence(
        "evidence.stored", f"evd-{region}-{indicator}-{answer.event_id.hex[-8:]}",
        data={"innovation_id": None, "indicator": indicator}, **{k: v for k, v in kw.items() if k != "version"},
    )
    return [answer, item]


def ranking_changed(region: str = REGION, **kw: Any) -> ev.RankingChanged:
    info = load_regions()[region]
    envelope = _envelope(ev.ranking_subject(region), {"region": region, **kw})
    moved = ev.RankMove(
        region="62.01",
        ranks=ev.FigureRanks(type=ev.Rank(position=121, of=415), province=ev.Rank(position=4, of=13)),
    )
    data = ev.RankingChange(
        cycle=envelope["cycle"], region=region, type=info.type, version=envelope["version"],
        claimed=[moved], provisional=[], validated=[moved],
    )
    return ev.RankingChanged(data=data, **envelope)


def one_of_each() -> list[ev.Envelope]:
    return [
        spd_answer_set(),
        spd_answer_set("spd-02a", None),
        *(innovation(t) for t in _INNOVATION_CLASSES),
        *(evidence(t) for t in _EVIDENCE_CLASSES),
        evidence("evidence.stored", "evd-link", data={"kind": "link", "sha256": None, "size": None,
                                                      "content_type": None}),
        score_updated(),
        ranking_changed(),
    ]


# --- web (accounts) ------------------------------------------------------------------------

ACCOUNT = "acc-0f3c2b9e6d7a4c1b8e5f2a9d3c7b6e1f"
_ACCOUNT_CLASSES: dict[str, type[ev.AccountEnvelope]] = {
    "account.created": ev.AccountCreated,
    "account.updated": ev.AccountUpdated,
    "account.disabled": ev.AccountDisabled,
}


def account(
    type: str = "account.created", account_id: str = ACCOUNT, *, data: dict[str, Any] | None = None, **kw: Any
) -> ev.AccountEnvelope:
    """An account event (web.events); `data=` overrides the account's fields."""
    fields: dict[str, Any] = {
        "id": account_id, "username": "sri.operator", "role": "operator", "region": REGION, "agency": "dinkes",
        "status": "disabled" if type == "account.disabled" else "active",
    }
    fields.update(data or {})
    envelope: dict[str, Any] = {"subject": fields["id"], "version": 1, "region": fields["region"]}
    envelope.update(kw)
    return _ACCOUNT_CLASSES[type](data=ev.AccountState(**fields), **envelope)


def token_revoked(token_id: str = "tok-1", account_id: str = ACCOUNT, **kw: Any) -> ev.TokenRevoked:
    envelope: dict[str, Any] = {"subject": token_id, "version": 1}
    envelope.update(kw)
    return ev.TokenRevoked(data=ev.RevokedToken(token_id=token_id, account_id=account_id), **envelope)


def account_events() -> list[ev.BaseEnvelope]:
    """One web.events event of each type (a national account's, without a region, too)."""
    return [
        account(),
        account("account.updated", version=2),
        account("account.disabled", version=3),
        account("account.updated", "acc-national", data={"role": "national", "region": None, "agency": None}),
        token_revoked(),
    ]

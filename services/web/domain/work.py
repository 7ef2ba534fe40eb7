"""The work pages' commands and rules, pure: an operator's innovations (profile, answers,
evidence, submission) and a verifier's queue.

The rules the APIs enforce stay theirs (intake validates a profile, evidence the files, each
answers with the problems per field); what is here only shapes what the pages send and show:
a form's text as intake takes it, the eligibility checklist from intake's `eligibility`, the
best evidence state of each answer (as scoring counts it), the next item of a queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

# --- commands ---------------------------------------------------------------------------------

PROFILE_FIELDS: tuple[str, ...] = (
    "name", "urusan_utama", "urusan_lain", "tahapan", "jenis", "bentuk", "inisiator",
    "tanggal_uji_coba", "tanggal_penerapan", "rancang_bangun", "tujuan", "manfaat", "hasil",
)
ENUM_FIELDS: tuple[str, ...] = ("tahapan", "jenis", "bentuk", "inisiator")
DATE_FIELDS: tuple[str, ...] = ("tanggal_uji_coba", "tanggal_penerapan")
TEXT_FIELDS: tuple[str, ...] = ("rancang_bangun", "tujuan", "manfaat", "hasil")
Decision = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class InnovationRef:
    innovation_id: str


@dataclass(frozen=True, slots=True)
class SaveProfile:
    """Create (`ref` None) or replace an innovation's profile; `version` is the one the form
    was filled in on (If-Match), `idempotency_key` the form's own (a second click of the
    same new-innovation form creates nothing more)."""

    ref: InnovationRef | None
    version: int | None
    values: Mapping[str, str]
    urusan_lain: tuple[str, ...] = ()
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class SaveAnswers:
    """The SID levels as the form shows them (None: not answered); only changed ones are sent."""

    ref: InnovationRef
    version: int | None
    levels: Mapping[str, int | None]


@dataclass(frozen=True, slots=True)
class ChangeStatus:
    ref: InnovationRef
    version: int | None
    action: Literal["submit", "withdraw"]


@dataclass(frozen=True, slots=True)
class UploadFile:
    """A file's bytes for one answer, as they arrive (`body` is read once, chunk by chunk)."""

    ref: InnovationRef
    indicator: str
    content_type: str
    length: int | None
    body: AsyncIterator[bytes] = field(repr=False)


@dataclass(frozen=True, slots=True)
class AddLink:
    ref: InnovationRef
    indicator: str
    link: str


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    evidence_id: str


@dataclass(frozen=True, slots=True)
class Decide:
    ref: EvidenceRef
    decision: str  # accepted or rejected; anything else is refused by the evidence API
    reason: str


@dataclass(frozen=True, slots=True)
class PageQuery:
    """A listing a page at a time: the last id of the previous page."""

    after: str | None = None


# --- forms → API bodies ---------------------------------------------------------------------------


def plain_text(value: str) -> str:
    """Text as intake keeps it: browsers send a textarea's line breaks as CR LF, and a CR is a
    control character intake refuses, so every line break becomes LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def profile_body(values: Mapping[str, str], urusan_lain: Sequence[str]) -> dict[str, object]:
    """The profile as intake's PUT and POST take it. An empty choice, date or text is absent
    (null); an empty name or urusan utama goes as it is, for intake to name the field."""
    body: dict[str, object] = {"name": plain_text(values.get("name", "")).strip()}
    urusan = values.get("urusan_utama", "").strip()
    if urusan:
        body["urusan_utama"] = urusan
    for name in (*ENUM_FIELDS, *DATE_FIELDS):
        body[name] = values.get(name, "").strip() or None
    for name in TEXT_FIELDS:
        text = plain_text(values.get(name, ""))
        body[name] = text if text.strip() else None
    body["urusan_lain"] = [code for code in urusan_lain if code]
    return body


def parse_level(text: str) -> int | None | Literal["invalid"]:
    text = text.strip()
    if not text:
        return None
    return int(text) if text in ("1", "2", "3") else "invalid"


def parse_version(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


def changed_answers(current: Mapping[str, int], wanted: Mapping[str, int | None]) -> list[tuple[str, int | None]]:
    """The answers to send, in the order given: those whose level differs from the current one."""
    return [(code, level) for code, level in wanted.items() if current.get(code) != level]


# --- evidence --------------------------------------------------------------------------------------

EvidenceState = Literal["none", "rejected", "pending", "accepted"]
# As scoring ranks them: an answer's evidence is the best of its items.
EVIDENCE_RANK: Mapping[str, int] = {"none": 0, "rejected": 1, "pending": 2, "accepted": 3}


def best_state(states: Sequence[str]) -> EvidenceState:
    best: EvidenceState = "none"
    for state in states:
        if state in EVIDENCE_RANK and EVIDENCE_RANK[state] > EVIDENCE_RANK[best]:
            best = state  # type: ignore[assignment]
    return best


# --- eligibility checklist ------------------------------------------------------------------------

# Intake's eligibility rules, in its order (services/intake/domain/eligibility.py).
RULES: tuple[str, ...] = (
    "required_fields", "application_date_in_period", "rancang_bangun_length", "mandatory_indicators",
    "submission_window",
)


@dataclass(frozen=True, slots=True)
class RuleCheck:
    rule: str
    met: bool
    fields: tuple[str, ...] = ()  # the fields (or `answers.<indicator>`) it names
    reasons: tuple[str, ...] = ()


def checklist(problems: Sequence[tuple[str, str, str]]) -> list[RuleCheck]:
    """Each rule, met or not, from intake's eligibility problems (rule, field, reason); a rule
    intake adds later is listed after the known ones."""
    by_rule: dict[str, list[tuple[str, str]]] = {}
    for rule, field_name, reason in problems:
        by_rule.setdefault(rule, []).append((field_name, reason))
    rules = [*RULES, *(rule for rule in by_rule if rule not in RULES)]
    return [
        RuleCheck(rule, rule not in by_rule, tuple(f for f, _ in by_rule.get(rule, [])),
                  tuple(r for _, r in by_rule.get(rule, [])))
        for rule in rules
    ]


__all__ = [
    "AddLink", "ChangeStatus", "Decide", "EvidenceRef", "InnovationRef", "PageQuery", "RuleCheck", "SaveAnswers",
    "SaveProfile", "UploadFile", "best_state", "changed_answers", "checklist", "parse_level", "parse_version",
    "plain_text", "profile_body",
]

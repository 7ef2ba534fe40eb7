"""What the region pages (dashboard, profile, rankings) say, in Bahasa Indonesia: region
types, innovation statuses, why an answer does not count yet, the events that moved a
score, and each action of a gap plan in words. Category and indicator names come from the
methodology's catalogue, which is in Bahasa Indonesia already."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from services.common.methodology.catalogue import CatalogueError, Methodology, methodology_for_cycle

TYPE_LABELS: Mapping[str, str] = {"provinsi": "Provinsi", "kabupaten": "Kabupaten", "kota": "Kota"}

INNOVATION_STATUS: Mapping[str, str] = {"draft": "Draf", "submitted": "Diajukan", "withdrawn": "Ditarik"}

EVIDENCE_STATE: Mapping[str, str] = {
    "none": "belum diunggah",
    "pending": "menunggu verifikasi",
    "accepted": "diterima",
    "rejected": "ditolak",
}

# scoring's explanation says why an answer needs acting on (`AnswerRef.reason`).
ANSWER_REASONS: Mapping[str, str] = {
    "level set but no evidence uploaded": "Level sudah dipilih, data dukung belum diunggah.",
    "mandatory indicator not answered": "Indikator wajib belum dijawab.",
}

# The event that caused a score version (`RegionScore.cause_type`).
CAUSES: Mapping[str, str] = {
    "spd.answer_set": "Jawaban SPD diisi",
    "innovation.created": "Inovasi dibuat",
    "innovation.updated": "Inovasi diubah",
    "innovation.submitted": "Inovasi diajukan",
    "innovation.withdrawn": "Inovasi ditarik",
    "evidence.stored": "Data dukung diunggah",
    "evidence.accepted": "Data dukung diterima",
    "evidence.rejected": "Data dukung ditolak",
}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")

ZONE_OFFSETS: Mapping[str, int] = {"WIB": 7, "WITA": 8, "WIT": 9}


def methodology_of(cycle: int) -> Methodology | None:
    try:
        return methodology_for_cycle(cycle)
    except CatalogueError:
        return None


def category_labels(cycle: int) -> dict[str, str]:
    """Category id → its label in the cycle's catalogue (`inovatif` → `Inovatif`)."""
    methodology = methodology_of(cycle)
    if methodology is None:
        return {}
    return {category.id: category.label for category in methodology.categories}


def indicator_names(cycle: int) -> dict[str, str]:
    methodology = methodology_of(cycle)
    return {i.code: i.name for i in methodology.indicators} if methodology is not None else {}


def answer_reason(reason: str | None) -> str | None:
    return ANSWER_REASONS.get(reason, reason) if reason else None


def cause_label(cause_type: str | None) -> str:
    return CAUSES.get(cause_type or "", cause_type or "—")


def short_date(value: datetime, zone: str = "WIB") -> str:
    """`3 Jun` in the zone the pages write times in (an axis label)."""
    local = value.astimezone(timezone(timedelta(hours=ZONE_OFFSETS.get(zone, 7))))
    return f"{local.day} {MONTHS[local.month - 1]}"


def gap_action_text(
    kind: str, indicator: str, level_before: int | None, level_after: int, evidence_before: str
) -> str:
    """One action of a gap plan, said as what someone has to do."""
    if kind == "raise_level":
        return f"Naikkan jawaban «{indicator}» dari level {level_before} ke level {level_after}."
    if kind == "accept_evidence":
        if evidence_before == "rejected":
            return f"Perbaiki data dukung «{indicator}» yang ditolak dan unggah ulang hingga diterima."
        return f"Selesaikan verifikasi data dukung «{indicator}» (menunggu verifikasi) hingga diterima."
    if kind == "add_evidence":
        return f"Unggah data dukung «{indicator}» (level {level_after}) hingga diterima."
    return f"Jawab «{indicator}» pada level {level_after} dengan data dukung yang diterima."


def rank_text(position: int | None, of: int | None) -> str:
    """`3 dari 416`; `—` where there is no rank (a provinsi within its province)."""
    return f"{position} dari {of}" if position is not None and of is not None else "—"

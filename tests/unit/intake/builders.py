"""Valid domain objects for intake's unit tests, to be broken one rule at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.common.methodology.catalogue import load_methodology
from services.intake.domain.cycle import Cycle
from services.intake.domain.eligibility import MandatoryIndicator
from services.intake.domain.profile import Profile

CYCLE_2026 = Cycle(
    year=2026,
    methodology="iid-2026",
    window_opens_at=datetime(2026, 1, 31, 17, tzinfo=UTC),
    window_closes_at=datetime(2026, 12, 31, 17, tzinfo=UTC),
    application_from=date(2024, 1, 1),
    application_to=date(2026, 12, 31),
)
OPEN = datetime(2026, 11, 27, 3, tzinfo=UTC)
MANDATORY = [
    MandatoryIndicator(i.code, i.name) for i in load_methodology("iid-2026").indicators_of("sid") if i.mandatory
]


def words(n: int) -> str:
    return " ".join(f"kata{i}" for i in range(n))


def eligible_profile(**changes: object) -> Profile:
    values: dict[str, object] = {
        "name": "Posyandu Digital Gunung Mas",
        "urusan_utama": "kesehatan",
        "tahapan": "penerapan",
        "jenis": "digital",
        "bentuk": "pelayanan_publik",
        "inisiator": "perangkat_daerah",
        "urusan_lain": ("sosial",),
        "tanggal_uji_coba": date(2024, 6, 1),
        "tanggal_penerapan": date(2025, 1, 15),
        "rancang_bangun": words(300),
        "tujuan": "Mempercepat pencatatan tumbuh kembang balita.",
        "manfaat": "Kader posyandu mencatat tanpa kertas.",
        "hasil": "Cakupan pencatatan naik dari 60% ke 92%.",
    }
    values.update(changes)
    return Profile(**values)  # type: ignore[arg-type]


def all_mandatory_answered(level: int = 2) -> dict[str, int]:
    return {m.code: level for m in MANDATORY}

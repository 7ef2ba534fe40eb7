"""The plan: what to seed, computed from the home region and the seed alone (pure). Which
regions, agencies and innovations, their profiles, answers and evidence, and what the
verifier says about it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from devtools.demo.data import (
    AGENCY_BY_SLUG,
    AGENCY_KINDS,
    HOME_AGENCIES,
    IMAGE_REJECTION,
    METHODOLOGY,
    REGULATION_INDICATOR,
    REJECTION_REASONS,
    SID_INDICATORS,
    SPD_INDICATORS,
    SPD_REJECTION_REASONS,
    VIDEO_INDICATOR,
    VIDEO_REJECTION,
    AgencyKind,
    Idea,
)
from devtools.demo.files import evidence_kinds
from services.common.data.regions import RegionInfo, load_regions


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: str  # accepted, rejected
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedInnovation:
    key: str  # Idempotency-Key of the create: a retried create never makes a second one
    agency: str
    profile: dict[str, Any]
    answers: dict[str, int]  # indicator -> level
    evidence: dict[str, Verdict | None]  # indicator -> the verifier's verdict (None: not checked yet)
    submit: bool


@dataclass(frozen=True, slots=True)
class PlannedRegion:
    info: RegionInfo
    agencies: tuple[AgencyKind, ...]
    innovations: tuple[PlannedInnovation, ...]
    spd_answers: dict[str, int]
    spd_evidence: dict[str, Verdict | None]

    @property
    def code(self) -> str:
        return self.info.code


def demo_regions(home: str) -> tuple[str, ...]:
    """The home region, then up to three neighbours in its province: the first kabupaten and
    the first kota other than it, and the province itself (a provincial government is ranked
    with the provinces, the others within their province)."""
    regions = load_regions()
    if home not in regions:
        raise ValueError(f"unknown region {home!r} for the demo (a Kemendagri code such as 62.10)")
    province = regions[home].province_code
    siblings = sorted(
        (r for r in regions.values() if r.province_code == province and r.type != "provinsi" and r.code != home),
        key=lambda r: r.code,
    )
    picks = [home]
    for wanted in ("kabupaten", "kota"):
        first = next((r.code for r in siblings if r.type == wanted), None)
        if first is not None:
            picks.append(first)
    if province != home and province in regions:
        picks.append(province)
    for extra in siblings:  # a province without a kota still gets three neighbours
        if len(picks) >= 4:
            break
        if extra.code not in picks:
            picks.append(extra.code)
    return tuple(picks[:4])


def plan_demo(home: str, seed: int) -> tuple[PlannedRegion, ...]:
    regions = load_regions()
    return tuple(
        plan_region(regions[code], seed, is_home=(code == home)) for code in demo_regions(home)
    )


def plan_region(info: RegionInfo, seed: int, *, is_home: bool) -> PlannedRegion:
    # One generator per region, seeded by region: the plan of one region never depends on
    # how many others there are.
    rng = random.Random(f"{seed}:{info.code}")
    if is_home:
        agencies = tuple(AGENCY_BY_SLUG[slug] for slug in HOME_AGENCIES)
    else:
        agencies = tuple(sorted(rng.sample(AGENCY_KINDS, rng.randint(3, 4)), key=lambda a: a.id))
    innovations: list[PlannedInnovation] = []
    for agency in agencies:
        # Two or three each: enough for a lively region, few enough that seeding (every
        # upload recomputes the region's score) takes seconds, not minutes.
        count = rng.randint(2, 3)
        ideas = agency.ideas[:count] if is_home else rng.sample(agency.ideas, count)
        for number, idea in enumerate(ideas, start=1):
            first_of_region = not innovations
            innovations.append(plan_innovation(rng, info, agency, idea, f"demo-{seed}-{agency.slug}-{number}",
                                               sure_to_count=first_of_region))
    spd_answers, spd_evidence = plan_spd(rng)
    return PlannedRegion(info, agencies, tuple(innovations), spd_answers, spd_evidence)


def plan_innovation(
    rng: random.Random, region: RegionInfo, agency: AgencyKind, idea: Idea, key: str, *, sure_to_count: bool
) -> PlannedInnovation:
    """One innovation: its profile, answers, which answers get evidence and what the verifier
    says. `sure_to_count`: submitted with accepted evidence, so that every region shows a
    validated score from the start."""
    submit = sure_to_count or rng.random() < 0.75
    mandatory = [i.code for i in SID_INDICATORS if i.mandatory]
    optional = [i.code for i in SID_INDICATORS if not i.mandatory]
    chosen = sorted(rng.sample(optional, rng.randint(1, 3)))
    if not submit and rng.random() < 0.5:
        # A draft still waiting for its video: the demo's operator completes it later.
        mandatory.remove(VIDEO_INDICATOR)
    answers = {code: rng.choice((1, 2, 2, 3)) for code in mandatory + chosen}
    evidence: dict[str, Verdict | None] = {}
    for code in answers:
        if code != REGULATION_INDICATOR and rng.random() < 0.15:
            continue  # answered, evidence not uploaded yet
        evidence[code] = plan_verdict(rng, code) if submit else None
    if sure_to_count:
        evidence[REGULATION_INDICATOR] = Verdict("accepted")
    return PlannedInnovation(key, agency.id, plan_profile(rng, region, agency, idea), answers, evidence, submit)


def plan_verdict(rng: random.Random, indicator: str) -> Verdict | None:
    """Roughly half of the evidence is checked at seeding, and one in six checks rejects."""
    roll = rng.random()
    if roll < 0.42:
        return Verdict("accepted")
    if roll < 0.5:
        return Verdict("rejected", rejection_reason(rng, indicator))
    return None


def rejection_reason(rng: random.Random, indicator: str) -> str:
    if METHODOLOGY.indicator_by_code[indicator].aspect == "spd":
        return rng.choice(SPD_REJECTION_REASONS)
    kinds = evidence_kinds(indicator)
    if "link" in kinds:
        return VIDEO_REJECTION
    if kinds == ("image",):
        return IMAGE_REJECTION
    return rng.choice(REJECTION_REASONS)


def plan_spd(rng: random.Random) -> tuple[dict[str, int], dict[str, Verdict | None]]:
    """Every mandatory SPD indicator and a few optional ones, most with evidence."""
    optional = [i.code for i in SPD_INDICATORS if not i.mandatory]
    codes = [i.code for i in SPD_INDICATORS if i.mandatory] + sorted(rng.sample(optional, 2))
    answers = {code: rng.choice((1, 2, 2, 3)) for code in codes}
    evidence = {code: plan_verdict(rng, code) for code in codes if rng.random() < 0.8}
    return answers, evidence


BULAN = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
         "November", "Desember")


def plan_profile(rng: random.Random, region: RegionInfo, agency: AgencyKind, idea: Idea) -> dict[str, Any]:
    trial = date(2024, 1, 15) + timedelta(days=rng.randint(0, 540))
    applied = trial + timedelta(days=rng.randint(60, 240))
    return {
        "name": idea.name,
        "urusan_utama": idea.urusan_utama,
        "urusan_lain": list(idea.urusan_lain),
        "tahapan": "penerapan" if rng.random() < 0.8 else "uji_coba",
        "jenis": idea.jenis,
        "bentuk": idea.bentuk,
        "inisiator": rng.choice(("perangkat_daerah", "perangkat_daerah", "kepala_daerah", "asn", "masyarakat")),
        "tanggal_uji_coba": trial.isoformat(),
        "tanggal_penerapan": applied.isoformat(),
        "rancang_bangun": rancang_bangun(rng, region, agency, idea),
        "tujuan": f"Mengatasi keadaan di mana {idea.problem}, dengan {idea.approach}.",
        "manfaat": f"Layanan lebih cepat, lebih murah dan lebih merata bagi {idea.beneficiaries}; "
                   f"data layanan tersedia setiap saat bagi {agency.name}.",
        "hasil": f"Sejak {BULAN[applied.month - 1]} {applied.year} jumlah penerima layanan naik "
                 f"{rng.randint(18, 65)} persen, waktu layanan turun dari {rng.randint(5, 14)} hari menjadi "
                 f"{rng.randint(1, 3)} hari, dan {rng.randint(70, 92)} persen responden survei menyatakan puas.",
    }


def rancang_bangun(rng: random.Random, region: RegionInfo, agency: AgencyKind, idea: Idea) -> str:
    """The design narrative: background, idea, goals, stages, resources, partners, monitoring
    and sustainability; well over the 300 words eligibility asks for."""
    where = region.name
    opening = rng.choice((
        f"{where} memiliki wilayah yang luas dengan permukiman yang tersebar di sepanjang sungai dan jalan antardesa.",
        f"Sebagian besar penduduk {where} tinggal di desa yang jauh dari pusat pemerintahan dan pusat layanan.",
        f"Pelayanan publik di {where} menghadapi tantangan jarak, keterbatasan sarana dan jaringan komunikasi.",
    ))
    paragraphs = (
        f"{opening} Dalam beberapa tahun terakhir {agency.name} mencatat bahwa {idea.problem}. Keadaan ini "
        "berdampak langsung pada mutu layanan dan menjadi temuan berulang dalam evaluasi kinerja perangkat daerah.",
        f"Inovasi {idea.name} hadir sebagai jawaban atas permasalahan tersebut. Inti gagasannya adalah "
        f"{idea.approach}. Inovasi ini dirancang sederhana, murah dijalankan, dan mudah direplikasi oleh perangkat "
        "daerah lain maupun pemerintah daerah tetangga.",
        "Tujuan inovasi ini adalah mempercepat layanan, meningkatkan ketepatan data, dan memperluas jangkauan "
        f"layanan. Sasaran utamanya adalah {idea.beneficiaries} di seluruh kecamatan.",
        "Pelaksanaan inovasi dibagi ke dalam empat tahap. Tahap pertama adalah penyusunan kajian dan penetapan "
        "dasar hukum berupa keputusan kepala daerah. Tahap kedua adalah uji coba terbatas di beberapa desa atau "
        "unit layanan yang dipilih berdasarkan tingkat kebutuhan. Tahap ketiga adalah evaluasi hasil uji coba "
        "bersama para pemangku kepentingan, dan tahap keempat adalah penerapan di seluruh wilayah "
        f"{where} dengan pendampingan teknis dari {agency.name}.",
        "Inovasi ini didukung tim pelaksana yang ditetapkan dengan surat keputusan, anggaran yang dialokasikan "
        "dalam dokumen pelaksanaan anggaran, serta sarana kerja yang tersedia di kantor dan unit layanan. Para "
        "pelaksana telah mengikuti bimbingan teknis agar mampu menjalankan prosedur yang baru.",
        f"Dalam pelaksanaannya {agency.name} bekerja sama dengan pemerintah kecamatan, pemerintah desa, tokoh adat, "
        "organisasi kemasyarakatan dan perguruan tinggi. Keterlibatan masyarakat dijaga melalui forum konsultasi "
        "publik dan kanal pengaduan yang ditanggapi paling lambat tiga hari kerja.",
        "Pemantauan dilakukan setiap bulan dengan indikator kinerja yang terukur, antara lain jumlah pengguna "
        "layanan, waktu penyelesaian layanan dan tingkat kepuasan masyarakat. Hasil pemantauan dibahas dalam rapat "
        "evaluasi triwulanan dan menjadi dasar perbaikan prosedur.",
        f"Untuk menjamin keberlanjutan, inovasi {idea.name} dimasukkan ke dalam rencana kerja perangkat daerah dan "
        "rencana kerja pemerintah daerah tahun berikutnya, dilengkapi standar operasional prosedur, serta "
        "didokumentasikan agar dapat dipelajari dan direplikasi oleh daerah lain.",
    )
    return "\n\n".join(paragraphs)

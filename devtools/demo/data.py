"""`inovasi up --demo`: a small, realistic assessment cycle that seeds itself and keeps moving,
so that a newcomer sees the Indeks Inovasi Daerah change without typing a request.

What it does, once the four services are up:

1. **Seed** the home region (`--region`, default 62.10 Kabupaten Gunung Mas) and a few
   neighbours in the same province (for 62.10: 62.01, 62.71 and the province 62). Each gets
   3-5 agencies, 2-4 innovations per agency with a complete profile (a rancang bangun of more
   than 300 words), answers to every mandatory and some optional SID indicators, evidence
   files (a small valid PDF or PNG; a link for the video indicator), SPD answers with
   evidence; most innovations are submitted, and a verifier accepts most of the checked
   evidence and rejects a few items with a reason. A region that already has agencies is
   left alone, so restarting `inovasi up --demo` on the same database seeds nothing twice
   (a region whose seeding was interrupted is not completed; the steps below fill its gaps).
2. **Keep it moving**: every `interval_s` seconds, one plausible step of the people of one
   demo region: a verifier accepts or rejects a pending item, an operator fixes rejected
   evidence, uploads missing evidence, raises an answer's level or answers one more
   indicator, submits a draft, or the region admin improves an SPD answer. Each step is one
   log line with the region's current IIDs and rank.

Everything goes through the public HTTP API with signed tokens, exactly as agencies and
verifiers use it: the demo is a client, not a back door. The demo acts as the region admins,
operators and verifiers of its regions, so point it at a laptop or pilot database, never at
a region whose real data matters.

Deterministic: the seeded data depend only on the home region and `seed`; the steps depend
on the seed and on the state read back (candidates are sorted by name, never by random ids).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import struct
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.auth import issue_token
from services.common.data.regions import RegionInfo, load_regions
from services.common.logging import get_logger
from services.common.methodology.catalogue import Indicator, methodology_for_cycle

log = get_logger("services.demo")

CYCLE = 2026
METHODOLOGY = methodology_for_cycle(CYCLE)
SID_INDICATORS = METHODOLOGY.indicators_of("sid")
SPD_INDICATORS = METHODOLOGY.indicators_of("spd")
VIDEO_INDICATOR = "sid-35"
REGULATION_INDICATOR = "sid-16"  # the regional head's decree every innovation rests on
MAX_LEVEL = 3
# Seeding and steps retry an upload this long while the evidence service has not yet seen
# a just-created innovation (it answers 409 with Retry-After until its projection catches up).
PROJECTION_WAIT_S = 30.0
PROJECTION_POLL_S = 0.25
STOP_GRACE_S = 5.0


class DemoSettings(BaseSettings):
    """The demo's own settings (prefix ``INOVASI_DEMO_``)."""

    model_config = SettingsConfigDict(env_prefix="INOVASI_DEMO_", extra="ignore")

    interval_s: float = Field(5.0, gt=0, description="seconds between two steps of the demo")
    seed: int = Field(2026, description="same seed, same demo data and the same choices")


# =========================================================================================
# The catalogue the demo draws from: agencies and their innovation ideas (data, not logic)
# =========================================================================================


@dataclass(frozen=True, slots=True)
class Idea:
    name: str
    urusan_utama: str
    urusan_lain: tuple[str, ...]
    jenis: str  # digital, non_digital
    bentuk: str  # tata_kelola, pelayanan_publik, lainnya
    problem: str  # "…, sehingga …": what went wrong before the innovation
    approach: str  # what the innovation is, one clause
    beneficiaries: str


@dataclass(frozen=True, slots=True)
class AgencyKind:
    id: str  # the slug operators' tokens carry
    name: str
    ideas: tuple[Idea, ...]


AGENCY_KINDS: tuple[AgencyKind, ...] = (
    AgencyKind("bapperinda", "Badan Perencanaan Pembangunan, Riset dan Inovasi Daerah (Bapperinda)", (
        Idea("e-Musrenbang Desa", "perencanaan", ("pemberdayaan_masyarakat_desa",), "digital", "tata_kelola",
             "usulan musyawarah perencanaan pembangunan dari desa masih dikumpulkan di atas kertas, sehingga banyak "
             "usulan tercecer atau terlambat masuk ke rancangan rencana kerja pemerintah daerah",
             "aplikasi daring tempat pemerintah desa mengunggah, memprioritaskan dan memantau usulan pembangunan "
             "sampai ditetapkan dalam RKPD",
             "pemerintah desa, camat dan perangkat daerah pengampu program"),
        Idea("Dasbor Indeks Inovasi Daerah (DASI)", "penelitian_pengembangan", ("perencanaan",), "digital",
             "tata_kelola",
             "posisi daerah dalam Indeks Inovasi Daerah baru diketahui berbulan-bulan setelah batas waktu pelaporan, "
             "sehingga perangkat daerah tidak sempat melengkapi data dukung yang kurang",
             "dasbor harian yang menampilkan skor sementara, data dukung yang belum diunggah atau ditolak, dan "
             "perangkat daerah yang belum melaporkan inovasi",
             "pimpinan daerah, tim inovasi daerah dan operator perangkat daerah"),
        Idea("Kampung Riset dan Inovasi Desa (KARSA)", "penelitian_pengembangan", ("pemberdayaan_masyarakat_desa",),
             "non_digital", "lainnya",
             "gagasan warga dan pelajar untuk memecahkan persoalan desa jarang dikembangkan karena tidak ada wadah "
             "dan pendampingan, sehingga potensi inovasi masyarakat hilang begitu saja",
             "lomba dan inkubasi gagasan inovasi desa yang didampingi peneliti daerah dan perguruan tinggi sampai "
             "siap diuji coba",
             "warga desa, pelajar, kelompok pemuda dan pemerintah desa"),
        Idea("Sistem Informasi Perencanaan Terpadu (SIPANDU)", "perencanaan", ("keuangan",), "digital", "tata_kelola",
             "dokumen perencanaan dan penganggaran disusun di berkas terpisah, sehingga program dalam rencana kerja "
             "sering tidak cocok dengan kegiatan yang dianggarkan",
             "satu aplikasi yang menautkan sasaran RPJMD, program rencana kerja dan pagu anggaran setiap perangkat "
             "daerah",
             "perencana di setiap perangkat daerah dan tim anggaran pemerintah daerah"),
    )),
    AgencyKind("dinkes", "Dinas Kesehatan", (
        Idea("Posyandu Digital Si-Tumbuh", "kesehatan", ("pengendalian_penduduk_keluarga_berencana",), "digital",
             "pelayanan_publik",
             "pencatatan tumbuh kembang balita di posyandu masih manual, sehingga kasus gizi kurang dan stunting "
             "terlambat terdeteksi oleh puskesmas",
             "aplikasi sederhana di ponsel kader posyandu yang mencatat berat dan tinggi badan balita dan mengirim "
             "peringatan dini ke tenaga gizi puskesmas",
             "balita, ibu, kader posyandu dan tenaga gizi puskesmas"),
        Idea("Perahu Sehat Puskesmas Keliling (PERAHU SEHAT)", "kesehatan", (), "non_digital", "pelayanan_publik",
             "warga desa di sepanjang sungai sulit menjangkau puskesmas karena jarak dan biaya transportasi, sehingga "
             "pemeriksaan kehamilan dan imunisasi sering terlewat",
             "layanan kesehatan terjadwal dengan perahu motor yang membawa dokter, bidan, vaksin dan obat ke desa di "
             "tepi sungai",
             "ibu hamil, bayi, lansia dan warga desa tepi sungai"),
        Idea("Gerakan Ibu Hamil Sehat (GEMAS)", "kesehatan", ("pemberdayaan_perempuan_pelindungan_anak",),
             "non_digital", "pelayanan_publik",
             "banyak ibu hamil baru memeriksakan kandungan pada trimester akhir, sehingga risiko kehamilan terlambat "
             "ditangani",
             "pendampingan setiap ibu hamil oleh kader dan bidan desa sejak trimester pertama dengan kunjungan rumah "
             "dan kelas ibu hamil",
             "ibu hamil, keluarga dan bidan desa"),
        Idea("Telekonsultasi Dokter Spesialis (TELEDOKS)", "kesehatan", ("komunikasi_informatika",), "digital",
             "pelayanan_publik",
             "puskesmas di kecamatan terjauh tidak memiliki dokter spesialis, sehingga pasien harus dirujuk jauh "
             "untuk kasus yang sebenarnya dapat ditangani setempat",
             "konsultasi video terjadwal antara dokter puskesmas dan dokter spesialis rumah sakit daerah",
             "pasien puskesmas, dokter umum dan dokter spesialis rumah sakit daerah"),
    )),
    AgencyKind("disdik", "Dinas Pendidikan", (
        Idea("Sekolah Literasi Betang (SILABET)", "pendidikan", ("kebudayaan", "perpustakaan"), "non_digital",
             "pelayanan_publik",
             "kemampuan membaca siswa sekolah dasar di desa masih rendah dan buku bacaan sangat terbatas, sehingga "
             "hasil asesmen literasi tertinggal dari rata-rata provinsi",
             "pojok baca di rumah betang dan sekolah dengan buku cerita rakyat setempat serta jam membaca bersama "
             "yang dipandu guru dan relawan",
             "siswa sekolah dasar, guru dan orang tua"),
        Idea("Guru Kunjung Daerah Terpencil", "pendidikan", (), "non_digital", "pelayanan_publik",
             "anak-anak di permukiman terpencil putus sekolah karena jarak ke sekolah terlalu jauh, sehingga angka "
             "partisipasi sekolah di kecamatan pedalaman rendah",
             "guru yang dijadwalkan mengajar bergiliran di kelas jauh di permukiman terpencil, didukung modul belajar "
             "mandiri",
             "anak usia sekolah di permukiman terpencil dan guru kelas jauh"),
        Idea("Rapor dan Presensi Digital Terpadu (RAPID)", "pendidikan", ("komunikasi_informatika",), "digital",
             "tata_kelola",
             "rekap presensi dan nilai siswa dikirim ke dinas secara manual setiap semester, sehingga data pendidikan "
             "selalu terlambat dan sering berbeda",
             "aplikasi presensi dan rapor bersama untuk semua sekolah yang datanya langsung terbaca oleh dinas",
             "sekolah, guru, orang tua dan pengelola data pendidikan"),
        Idea("Beasiswa Putra-Putri Pedalaman (BP3)", "pendidikan", ("sosial",), "non_digital", "pelayanan_publik",
             "lulusan sekolah menengah dari keluarga kurang mampu di pedalaman jarang melanjutkan pendidikan, sehingga "
             "daerah kekurangan tenaga guru dan kesehatan",
             "beasiswa berikatan dinas bagi lulusan berprestasi dari pedalaman yang kembali bertugas di desanya",
             "pelajar dari keluarga kurang mampu dan desa-desa di pedalaman"),
    )),
    AgencyKind("dinsos", "Dinas Sosial", (
        Idea("DTKS Online Desa", "sosial", ("administrasi_kependudukan_pencatatan_sipil",), "digital", "tata_kelola",
             "pemutakhiran data terpadu kesejahteraan sosial dilakukan setahun sekali di atas kertas, sehingga "
             "bantuan sosial sering salah sasaran",
             "aplikasi pemutakhiran data kesejahteraan sosial oleh operator desa dengan verifikasi nomor induk "
             "kependudukan",
             "keluarga penerima bantuan, operator desa dan pendamping sosial"),
        Idea("Layanan Sosial Satu Pintu (LAYAN SEPINTU)", "sosial", (), "non_digital", "pelayanan_publik",
             "warga harus mendatangi beberapa kantor untuk mengurus bantuan sosial, jaminan kesehatan dan surat "
             "keterangan, sehingga banyak warga miskin tidak terlayani",
             "satu loket di kantor dinas dan kecamatan yang menerima dan menindaklanjuti semua pengaduan dan "
             "permohonan layanan sosial",
             "warga miskin, penyandang disabilitas dan lansia terlantar"),
        Idea("Kartu Peduli Disabilitas (KAPEDIS)", "sosial", ("kesehatan",), "non_digital", "pelayanan_publik",
             "penyandang disabilitas tidak terdata dan sulit membuktikan haknya, sehingga layanan dan bantuan tidak "
             "sampai kepada mereka",
             "pendataan dan kartu identitas penyandang disabilitas yang menjadi kunci layanan kesehatan, bantuan "
             "alat bantu dan pelatihan kerja",
             "penyandang disabilitas dan keluarganya"),
        Idea("Lumbung Sosial Tanggap Bencana (LUSTANA)", "sosial", ("trantibumlinmas",), "non_digital",
             "pelayanan_publik",
             "bantuan bagi korban banjir baru tiba beberapa hari setelah kejadian, sehingga warga terdampak "
             "kekurangan pangan dan kebutuhan dasar",
             "lumbung logistik di desa rawan banjir yang dikelola taruna siaga bencana dan diisi ulang dari "
             "cadangan daerah",
             "warga desa rawan banjir dan relawan taruna siaga bencana"),
    )),
    AgencyKind("dpuprkp", "Dinas Pekerjaan Umum, Penataan Ruang, Perumahan dan Kawasan Permukiman", (
        # Public works first, housing second: a region that takes the first two ideas covers
        # both basic services, which matters for the SJI (five basic services must be covered).
        Idea("Aplikasi Lapor Jalan Rusak (SI-JARU)", "pekerjaan_umum_penataan_ruang", ("perhubungan",), "digital",
             "pelayanan_publik",
             "laporan jalan dan jembatan rusak sampai ke dinas berminggu-minggu kemudian, sehingga kerusakan "
             "kecil menjadi besar dan mahal diperbaiki",
             "aplikasi pelaporan jalan rusak dengan foto dan titik lokasi yang langsung masuk ke jadwal "
             "pemeliharaan rutin",
             "pengguna jalan, pemerintah desa dan petugas pemeliharaan jalan"),
        Idea("Bedah Rumah Gotong Royong (BERGORO)", "perumahan_kawasan_permukiman", ("sosial",), "non_digital",
             "pelayanan_publik",
             "banyak keluarga miskin tinggal di rumah tidak layak huni sementara anggaran perbaikan terbatas, "
             "sehingga antrean perbaikan rumah bertambah setiap tahun",
             "perbaikan rumah tidak layak huni dengan bahan dari anggaran daerah dan tenaga gotong royong warga",
             "keluarga miskin pemilik rumah tidak layak huni dan warga desa"),
        Idea("Air Bersih Desa Berbasis Masyarakat (ABDI)", "perumahan_kawasan_permukiman", ("kesehatan",),
             "non_digital", "pelayanan_publik",
             "warga desa mengambil air baku langsung dari sungai, sehingga penyakit diare dan kulit sering muncul "
             "pada musim kemarau",
             "instalasi pengolahan air sederhana di desa yang dibangun dan dikelola kelompok pengelola air warga",
             "warga desa tanpa akses air minum layak"),
        Idea("Peta Tata Ruang Daring (PETARUNG)", "pekerjaan_umum_penataan_ruang", ("penanaman_modal",), "digital",
             "tata_kelola",
             "pemohon izin tidak dapat mengetahui peruntukan lahan sebelum mengajukan permohonan, sehingga banyak "
             "permohonan ditolak dan diulang",
             "peta rencana tata ruang yang dapat diperiksa daring per bidang tanah sebelum permohonan diajukan",
             "pelaku usaha, warga pemohon izin dan petugas perizinan"),
    )),
    AgencyKind("disdukcapil", "Dinas Kependudukan dan Pencatatan Sipil", (
        Idea("Jemput Bola Adminduk (JEBOL)", "administrasi_kependudukan_pencatatan_sipil", (), "non_digital",
             "pelayanan_publik",
             "warga desa jauh harus menempuh perjalanan sehari penuh untuk merekam KTP elektronik, sehingga cakupan "
             "perekaman rendah",
             "tim keliling yang merekam data dan menerbitkan dokumen kependudukan langsung di desa dan sekolah",
             "warga desa jauh, pelajar pemilih pemula dan lansia"),
        Idea("Akta Lahir Langsung dari Rumah Sakit (ALADIN)", "administrasi_kependudukan_pencatatan_sipil",
             ("kesehatan",), "digital", "pelayanan_publik",
             "banyak bayi tidak segera memiliki akta kelahiran karena orang tua harus mengurus sendiri ke kantor "
             "dinas, sehingga hak anak atas identitas tertunda",
             "penerbitan akta kelahiran dan kartu identitas anak langsung dari rumah sakit dan puskesmas saat ibu "
             "pulang",
             "bayi baru lahir dan orang tuanya"),
        Idea("Layanan Adminduk Daring (SIDUK DARING)", "administrasi_kependudukan_pencatatan_sipil",
             ("komunikasi_informatika",), "digital", "pelayanan_publik",
             "permohonan perubahan data kependudukan hanya dilayani tatap muka, sehingga antrean di kantor dinas "
             "panjang setiap hari",
             "permohonan dokumen kependudukan lewat aplikasi dengan dokumen hasil yang dicetak sendiri oleh warga",
             "warga yang mengurus dokumen kependudukan"),
    )),
    AgencyKind("diskominfo", "Dinas Komunikasi, Informatika, Statistik dan Persandian", (
        Idea("Satu Data Daerah (SADADA)", "statistik", ("komunikasi_informatika",), "digital", "tata_kelola",
             "setiap perangkat daerah memegang datanya sendiri dengan definisi berbeda, sehingga angka yang "
             "dipakai pimpinan untuk mengambil keputusan sering tidak sama",
             "portal data bersama dengan standar data, metadata dan wali data di setiap perangkat daerah",
             "pimpinan daerah, perangkat daerah dan masyarakat pengguna data"),
        Idea("Desa Terkoneksi Internet (DESTI)", "komunikasi_informatika", ("pemberdayaan_masyarakat_desa",),
             "digital", "pelayanan_publik",
             "sebagian besar desa tidak terjangkau jaringan internet, sehingga layanan daring pemerintah tidak "
             "dapat dimanfaatkan warga",
             "titik akses internet di kantor desa dan sekolah yang dibiayai bersama dana desa dan anggaran daerah",
             "warga desa, sekolah dan pemerintah desa"),
        Idea("Layanan Aduan Warga Terpadu (LAWANG)", "komunikasi_informatika", (), "digital", "pelayanan_publik",
             "pengaduan warga tersebar di berbagai kanal dan tidak ada yang memastikan tindak lanjutnya, sehingga "
             "warga merasa tidak didengar",
             "satu kanal aduan warga yang meneruskan setiap aduan ke perangkat daerah yang berwenang dengan batas "
             "waktu tanggapan",
             "warga pengadu dan perangkat daerah penanggung jawab layanan"),
    )),
    AgencyKind("dpmptsp", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu", (
        Idea("Izin Usaha Sehari Jadi (IUSJ)", "penanaman_modal", ("koperasi_usaha_kecil_menengah",), "digital",
             "pelayanan_publik",
             "pengurusan izin usaha mikro memakan waktu berminggu-minggu, sehingga pelaku usaha enggan mengurus "
             "izin dan sulit mengakses permodalan",
             "pendampingan pengisian perizinan berusaha berbasis risiko sampai nomor induk berusaha terbit pada "
             "hari yang sama",
             "pelaku usaha mikro dan kecil"),
        Idea("Mal Pelayanan Publik Kecamatan", "penanaman_modal", ("administrasi_kependudukan_pencatatan_sipil",),
             "non_digital", "pelayanan_publik",
             "warga harus ke ibu kota kabupaten untuk berbagai layanan perizinan dan kependudukan, sehingga biaya "
             "dan waktu yang dikeluarkan besar",
             "gerai layanan bersama beberapa instansi di kantor kecamatan dengan jadwal tetap setiap minggu",
             "warga dan pelaku usaha di kecamatan"),
        Idea("Klinik Investasi UMKM", "penanaman_modal", ("koperasi_usaha_kecil_menengah",), "non_digital",
             "lainnya",
             "pelaku usaha kecil tidak mengetahui peluang kemitraan dengan investor, sehingga realisasi investasi "
             "tidak menyentuh usaha lokal",
             "klinik konsultasi bulanan yang mempertemukan pelaku usaha kecil dengan perbankan dan investor",
             "pelaku usaha mikro, kecil dan menengah"),
    )),
)
AGENCY_BY_ID = {kind.id: kind for kind in AGENCY_KINDS}
# The home region gets the planner and the four agencies of basic services, so that once
# enough of their evidence is verified the region covers the five basic services the SJI needs.
HOME_AGENCIES = ("bapperinda", "dinkes", "disdik", "dinsos", "dpuprkp")
WELCOME_OPERATOR_AGENCY = "dinkes"  # the printed operator token is of this home agency

REJECTION_REASONS: tuple[str, ...] = (
    "Dokumen belum ditandatangani dan belum bernomor; unggah dokumen yang sudah ditetapkan.",
    "Dokumen tidak menyebut nama inovasi ini; lampirkan bukti yang memuatnya secara eksplisit.",
    "Dokumen bertanggal lebih dari dua tahun sebelum penilaian; unggah dokumen terbaru.",
    "Bukti tidak mendukung parameter yang dipilih; turunkan parameter atau lengkapi buktinya.",
    "Halaman pengesahan tidak ikut dipindai; unggah dokumen lengkap beserta lampirannya.",
)
SPD_REJECTION_REASONS: tuple[str, ...] = (
    "Dokumen belum ditandatangani dan belum bernomor; unggah dokumen yang sudah ditetapkan.",
    "Data yang dilampirkan bukan data tahun terakhir; unggah data yang dipakai untuk parameter ini.",
    "Halaman pengesahan tidak ikut dipindai; unggah dokumen lengkap beserta lampirannya.",
)
IMAGE_REJECTION = "Tangkapan layar tidak terbaca dan tidak menampilkan tanggal; unggah ulang dengan resolusi cukup."
VIDEO_REJECTION = "Video tidak memperlihatkan inovasi diterapkan di lapangan; unggah tautan video penerapannya."
RECHECK_REASON = "Pemeriksaan ulang: dokumen ini juga dipakai untuk inovasi lain; unggah bukti khusus inovasi ini."

DOCUMENT_TITLES = {
    "sid-16": "Keputusan Kepala Daerah tentang Penerapan Inovasi",
    "sid-17": "Surat Keputusan Tim Pelaksana Inovasi",
    "sid-18": "Dokumen Pelaksanaan Anggaran Kegiatan Inovasi",
    "sid-20": "Laporan Bimbingan Teknis Inovasi",
    "sid-21": "Kutipan RKPD yang Memuat Program Inovasi",
    "sid-32": "Laporan Waktu Penciptaan Inovasi",
    "sid-33": "Laporan Survei Kemanfaatan Inovasi",
    "sid-34": "Laporan Monitoring dan Evaluasi Inovasi",
}


# =========================================================================================
# The plan: what to seed, computed from the home region and the seed alone (pure)
# =========================================================================================


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
        agencies = tuple(AGENCY_BY_ID[a] for a in HOME_AGENCIES)
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
            innovations.append(plan_innovation(rng, info, agency, idea, f"demo-{seed}-{agency.id}-{number}",
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


# =========================================================================================
# Evidence files: small but valid, so the evidence service's type check accepts them
# =========================================================================================


def evidence_kinds(indicator: str) -> tuple[str, ...]:
    found: Indicator = METHODOLOGY.indicator_by_code[indicator]
    # SPD indicators have no rule in the catalogue; the evidence service takes a PDF or an image.
    return tuple(found.evidence.kinds) if found.evidence is not None else ("pdf", "image")


def minimal_pdf(lines: Sequence[str]) -> bytes:
    """A one-page PDF showing `lines`, with a correct cross-reference table."""
    text = " T* ".join(f"({_pdf_escape(line)}) Tj" for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _pdf_escape(line: str) -> str:
    plain = line.encode("latin-1", "replace").decode("latin-1")
    return plain.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def small_png(seed: str, width: int = 24, height: int = 16) -> bytes:
    """A small RGB PNG (a screenshot stand-in) in colours derived from `seed`."""
    colours = hashlib.sha256(seed.encode()).digest()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(
        b"\x00" + b"".join(colours[(x // 6 + y // 4) % 10 * 3:][:3] for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass(frozen=True, slots=True)
class EvidenceUpload:
    content: bytes | None  # a file's bytes, or None for a link
    link: str | None = None


def evidence_for(indicator: str, *, region: RegionInfo, subject: str, version: int = 1) -> EvidenceUpload:
    """A document the indicator accepts: a PDF where PDFs are taken, else a PNG, else (the
    video indicator) a link. `version` makes a corrected upload a different document."""
    kinds = evidence_kinds(indicator)
    name = METHODOLOGY.indicator_by_code[indicator].name
    if "pdf" in kinds:
        title = DOCUMENT_TITLES.get(indicator, f"Bukti Dukung: {name}")
        number = int(hashlib.sha256(f"{subject}:{indicator}".encode()).hexdigest()[:6], 16) % 900 + 100
        return EvidenceUpload(minimal_pdf([
            f"PEMERINTAH {region.name.upper()}",
            title.upper(),
            f"Nomor: {number}/{indicator.upper()}/{2025 if version == 1 else 2026}",
            f"Tentang: {subject}",
            f"Indikator {indicator}: {name}",
            "Versi perbaikan" if version > 1 else "Ditetapkan di ibu kota daerah",
        ]))
    if "image" in kinds:
        return EvidenceUpload(small_png(f"{subject}:{indicator}:{version}"))
    video_id = hashlib.sha256(f"{subject}:{version}".encode()).hexdigest()[:11]
    return EvidenceUpload(None, f"https://www.youtube.com/watch?v={video_id}")


# =========================================================================================
# The HTTP client: every call as a person with a signed token, one correlation id per step
# =========================================================================================

# The X-Correlation-ID of the requests of the current step. The services put it on every
# event the step causes, score.updated included, so a step can be followed through the logs
# ("demo-step-12") and a test can tell which score change a step caused.
_step_id: ContextVar[str] = ContextVar("inovasi_demo_step", default="demo")


@contextmanager
def step(correlation_id: str) -> Iterator[None]:
    token = _step_id.set(correlation_id)
    try:
        yield
    finally:
        _step_id.reset(token)


@dataclass(frozen=True, slots=True)
class Actor:
    role: str
    region: str
    agency: str | None = None

    def __str__(self) -> str:
        return f"operator {self.agency}" if self.agency else self.role.replace("_", " ")


class DemoStopped(Exception):
    """The server is shutting down: the demo stops between two requests."""


class DemoRequestError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(f"{request.method} {request.url.path} -> {response.status_code}: {response.text[:300]}")
        self.status_code = response.status_code


class DemoApi:
    """The demo's calls to the public API. A fresh token per request (they are cheap and
    expire after 12 h, and the demo may run for days)."""

    def __init__(self, client: httpx.AsyncClient, secret: str, stopping: asyncio.Event) -> None:
        self.client = client
        self.secret = secret
        self.stopping = stopping

    async def call(self, actor: Actor, method: str, path: str, *, expect: Sequence[int] = (200,),
                   headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        if self.stopping.is_set():
            raise DemoStopped
        token = issue_token(self.secret, actor.role, actor.region, actor.agency)  # type: ignore[arg-type]
        all_headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": _step_id.get(), **(headers or {})}
        response = await self.client.request(method, path, headers=all_headers, **kwargs)
        if response.status_code not in expect:
            raise DemoRequestError(response)
        return response

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake (and stop) at once on shutdown."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        if self.stopping.is_set():
            raise DemoStopped

    # --- intake ------------------------------------------------------------------------

    async def agencies(self, region: str) -> list[dict[str, Any]]:
        response = await self.call(Actor("region_admin", region), "GET", f"/intake/v1/regions/{region}/agencies")
        return response.json()["agencies"]

    async def register_agency(self, region: str, agency: AgencyKind) -> None:
        # 409: registered by an earlier, interrupted seeding; that is what we wanted.
        await self.call(Actor("region_admin", region), "POST", f"/intake/v1/regions/{region}/agencies",
                        json={"id": agency.id, "name": agency.name}, expect=(201, 409))

    async def create_innovation(self, operator: Actor, profile: dict[str, Any], key: str) -> dict[str, Any]:
        response = await self.call(operator, "POST", f"/intake/v1/cycles/{CYCLE}/innovations", json=profile,
                                   headers={"Idempotency-Key": key}, expect=(201,))
        created = response.json()
        if response.headers.get("Idempotent-Replayed") == "true":
            # The replay is the first answer, with its old version: read the current one.
            return await self.innovation(operator, created["id"])
        return created

    async def innovation(self, actor: Actor, innovation_id: str) -> dict[str, Any]:
        return (await self.call(actor, "GET", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation_id}")).json()

    async def innovations(self, region: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 500, **({"after": after} if after else {})}
            page = (await self.call(Actor("region_admin", region), "GET", f"/intake/v1/cycles/{CYCLE}/innovations",
                                    params=params)).json()
            items += page["items"]
            after = page["next_after"]
            if after is None:
                return items

    async def set_answer(
        self, operator: Actor, innovation: dict[str, Any], indicator: str, level: int
    ) -> dict[str, Any]:
        response = await self.call(
            operator, "PUT", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/answers/{indicator}",
            json={"level": level}, headers={"If-Match": str(innovation["version"])},
        )
        return response.json()

    async def submit(self, operator: Actor, innovation: dict[str, Any]) -> dict[str, Any]:
        response = await self.call(operator, "POST", f"/intake/v1/cycles/{CYCLE}/innovations/{innovation['id']}/submit",
                                   headers={"If-Match": str(innovation["version"])})
        return response.json()

    async def spd_answers(self, region: str) -> list[dict[str, Any]]:
        path = f"/intake/v1/cycles/{CYCLE}/regions/{region}/spd"
        return (await self.call(Actor("region_admin", region), "GET", path)).json()["answers"]

    async def set_spd(self, region: str, indicator: str, level: int, version: int) -> dict[str, Any]:
        # An SPD answer never set has version 0: the first write sends If-Match: 0.
        response = await self.call(Actor("region_admin", region), "PUT",
                                   f"/intake/v1/cycles/{CYCLE}/regions/{region}/spd/{indicator}",
                                   json={"level": level}, headers={"If-Match": str(version)})
        return response.json()

    # --- evidence ----------------------------------------------------------------------

    async def upload(self, actor: Actor, indicator: str, upload: EvidenceUpload, *,
                     innovation_id: str | None = None, region: str | None = None) -> dict[str, Any]:
        """Upload one file or link for a SID answer (innovation_id) or an SPD answer (region).
        A just-created innovation may not be known to the evidence service yet (409 with
        Retry-After until its projection catches up): retry for a while."""
        params = {"cycle": CYCLE, "indicator": indicator,
                  **({"innovation": innovation_id} if innovation_id else {"region": region})}
        if upload.link is not None:
            body: dict[str, Any] = {"json": {"link": upload.link}}
        else:
            body = {"content": upload.content, "headers": {"Content-Type": "application/octet-stream"}}
        deadline = asyncio.get_running_loop().time() + PROJECTION_WAIT_S
        while True:
            try:
                return (await self.call(actor, "POST", "/evidence/v1/evidence", params=params,
                                        expect=(201,), **body)).json()
            except DemoRequestError as error:
                if error.status_code != 409 or asyncio.get_running_loop().time() > deadline:
                    raise
            # Retry-After says 1 s; polling faster keeps seeding quick and costs one cheap query.
            await self.pause(PROJECTION_POLL_S)

    async def evidence(self, region: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"cycle": CYCLE, "region": region, "limit": 500}
            if after:
                params["after"] = after
            page = (await self.call(Actor("verifier", region), "GET", "/evidence/v1/evidence", params=params)).json()
            items += page["items"]
            after = page["next_after"]
            if after is None:
                return items

    async def decide(self, region: str, evidence_id: str, verdict: Verdict) -> None:
        body = {"decision": verdict.decision, **({"reason": verdict.reason} if verdict.reason else {})}
        await self.call(Actor("verifier", region), "POST", f"/evidence/v1/evidence/{evidence_id}/decision", json=body)

    # --- scoring -----------------------------------------------------------------------

    async def score(self, region: str) -> dict[str, Any]:
        path = f"/scoring/v1/cycles/{CYCLE}/regions/{region}/score"
        return (await self.call(Actor("viewer", region), "GET", path)).json()


# =========================================================================================
# Seeding
# =========================================================================================


async def seed_regions(api: DemoApi, plan: Sequence[PlannedRegion]) -> list[str]:
    """Seed every planned region that has no agency yet (concurrently: the regions are
    independent); the codes of those seeded now. A region that fails is logged and skipped."""

    async def one(planned: PlannedRegion) -> str | None:
        with step(f"demo-seed-{planned.code}"):
            try:
                if await api.agencies(planned.code):
                    log.info("demo region already has agencies: not seeded again", region=planned.code)
                    return None
                await seed_region(api, planned)
                return planned.code
            except DemoStopped:
                return None  # the other regions stop at their next request too
            except Exception:
                log.exception("demo seeding of a region failed; the demo moves on", region=planned.code)
                return None

    seeded = await asyncio.gather(*(one(p) for p in plan))
    if api.stopping.is_set():
        raise DemoStopped
    return [code for code in seeded if code is not None]


async def seed_region(api: DemoApi, planned: PlannedRegion) -> None:
    region = planned.code
    for agency in planned.agencies:
        await api.register_agency(region, agency)
    await seed_spd(api, planned)
    decisions: list[tuple[str, Verdict]] = []
    for innovation in planned.innovations:
        decisions += await seed_innovation(api, planned.info, innovation)
    # The verifier works after the operators, as in a real cycle.
    for evidence_id, verdict in decisions:
        await api.decide(region, evidence_id, verdict)
    log.info("demo region seeded", region=region, name=planned.info.name, agencies=len(planned.agencies),
             innovations=len(planned.innovations), submitted=sum(i.submit for i in planned.innovations),
             verified=len(decisions))


async def seed_spd(api: DemoApi, planned: PlannedRegion) -> None:
    region = planned.code
    versions = {a["indicator"]: a["version"] for a in await api.spd_answers(region)}
    for indicator, level in planned.spd_answers.items():
        await api.set_spd(region, indicator, level, versions[indicator])
    admin = Actor("region_admin", region)
    for indicator, verdict in planned.spd_evidence.items():
        upload = evidence_for(indicator, region=planned.info, subject=planned.info.name)
        item = await api.upload(admin, indicator, upload, region=region)
        if verdict is not None:
            await api.decide(region, item["id"], verdict)


async def seed_innovation(api: DemoApi, region: RegionInfo, planned: PlannedInnovation) -> list[tuple[str, Verdict]]:
    """Create, answer, upload and (if planned) submit one innovation; the verifier's planned
    decisions on its evidence, for after all operators are done."""
    operator = Actor("operator", region.code, planned.agency)
    innovation = await api.create_innovation(operator, planned.profile, planned.key)
    for indicator, level in planned.answers.items():
        innovation = await api.set_answer(operator, innovation, indicator, level)
    decisions = []
    for indicator, verdict in planned.evidence.items():
        upload = evidence_for(indicator, region=region, subject=planned.profile["name"])
        item = await api.upload(operator, indicator, upload, innovation_id=innovation["id"])
        if verdict is not None:
            decisions.append((item["id"], verdict))
    if planned.submit:
        await api.submit(operator, innovation)
    return decisions


# =========================================================================================
# Keeping it moving: one plausible step at a time
# =========================================================================================

EVIDENCE_RANK = {"rejected": 1, "pending": 2, "accepted": 3}


@dataclass(frozen=True, slots=True)
class Move:
    """One step a person would take; `run` does it through the API."""

    actor: Actor
    summary: str
    run: Callable[[], Awaitable[object]]


@dataclass
class RegionState:
    """A region as its admin and verifier read it through the API, before a step."""

    info: RegionInfo
    innovations: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    spd: list[dict[str, Any]]
    _best: dict[tuple[str | None, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # An answer's evidence counts at its best item: one accepted document is enough.
        for item in self.evidence:
            key = (item["innovation"], item["indicator"])
            if EVIDENCE_RANK[item["state"]] > EVIDENCE_RANK.get(self._best.get(key, ""), 0):
                self._best[key] = item["state"]

    def evidence_state(self, innovation_id: str | None, indicator: str) -> str:
        return self._best.get((innovation_id, indicator), "none")

    def innovation(self, innovation_id: str | None) -> dict[str, Any] | None:
        return next((i for i in self.innovations if i["id"] == innovation_id), None)

    def answered(self) -> Iterator[tuple[dict[str, Any], str, int]]:
        """(innovation, indicator, level) of every answered SID indicator, in a stable order."""
        for innovation in sorted(self.innovations, key=lambda i: i["name"]):
            for indicator, level in sorted(innovation["answers"].items()):
                if level is not None:
                    yield innovation, indicator, level

    def answers_needing_evidence(self) -> list[tuple[dict[str, Any] | None, str]]:
        """(innovation, or None for the SPD, indicator) of every answer: each needs evidence."""
        sid = [(innovation, indicator) for innovation, indicator, _ in self.answered()]
        return sid + [(None, a["indicator"]) for a in self.spd if a["level"] is not None]

    def evidence_in_order(self, evidence_state: str) -> list[dict[str, Any]]:
        """Items in a state, ordered by what they back (names, not ids: ids differ per run)."""
        def label(item: dict[str, Any]) -> str:
            innovation = self.innovation(item["innovation"])
            return innovation["name"] if innovation else ""

        items = [e for e in self.evidence if e["state"] == evidence_state]
        return sorted(items, key=lambda e: (label(e), e["indicator"], e["uploaded_at"]))

    def was_rejected(self, innovation_id: str | None, indicator: str) -> bool:
        return any(e["state"] == "rejected" and e["innovation"] == innovation_id and e["indicator"] == indicator
                   for e in self.evidence)


async def read_region(api: DemoApi, info: RegionInfo) -> RegionState:
    return RegionState(info, await api.innovations(info.code), await api.evidence(info.code),
                       await api.spd_answers(info.code))


class MovePlanner:
    """The steps that make sense in a region's current state, grouped by kind; a step is
    drawn by kind weight, then uniformly within its kind."""

    # Verification dominates, as it does in the last weeks of a real cycle.
    WEIGHTS = {
        "verify": 4.0, "fix_rejected": 2.0, "upload_missing": 2.0, "submit_draft": 2.0,
        "raise_level": 1.5, "answer_more": 1.0, "spd": 1.0,
    }

    def __init__(self, api: DemoApi, rng: random.Random) -> None:
        self.api = api
        self.rng = rng

    def choose(self, state: RegionState) -> Move | None:
        candidates = {
            "verify": self.verifications(state),
            "fix_rejected": self.fixes(state),
            "upload_missing": self.missing_uploads(state),
            "submit_draft": self.draft_steps(state),
            "raise_level": self.level_raises(state),
            "answer_more": self.more_answers(state),
            "spd": self.spd_steps(state),
        }
        kinds = [kind for kind, moves in candidates.items() if moves]
        if not kinds:
            # Everything answered at the top level and verified: a re-check keeps it moving.
            rechecks = self.rechecks(state)
            return self.rng.choice(rechecks) if rechecks else None
        kind = self.rng.choices(kinds, weights=[self.WEIGHTS[k] for k in kinds])[0]
        return self.rng.choice(candidates[kind])

    # --- helpers -------------------------------------------------------------------------

    def _label(self, state: RegionState, innovation_id: str | None) -> str:
        innovation = state.innovation(innovation_id)
        return f"'{innovation['name']}'" if innovation else "the region's SPD"

    def _upload(self, state: RegionState, actor: Actor, indicator: str, innovation: dict[str, Any] | None,
                version: int) -> Callable[[], Awaitable[object]]:
        subject = innovation["name"] if innovation else state.info.name
        upload = evidence_for(indicator, region=state.info, subject=subject, version=version)
        return lambda: self.api.upload(actor, indicator, upload, innovation_id=innovation["id"] if innovation else None,
                                       region=None if innovation else state.info.code)

    def _owner(self, state: RegionState, innovation: dict[str, Any] | None) -> Actor:
        if innovation is None:
            return Actor("region_admin", state.info.code)
        return Actor("operator", state.info.code, innovation["agency_id"])

    # --- the kinds of steps ------------------------------------------------------------------

    def verifications(self, state: RegionState) -> list[Move]:
        """A verifier decides a pending item of a submitted innovation or of the SPD."""
        moves = []
        verifier = Actor("verifier", state.info.code)
        for item in state.evidence_in_order("pending"):
            innovation = state.innovation(item["innovation"])
            if innovation is not None and innovation["status"] != "submitted":
                continue  # verifiers check submitted innovations
            # A corrected document is usually right; a first upload fails one time in five.
            corrected = state.was_rejected(item["innovation"], item["indicator"])
            if self.rng.random() < (0.9 if corrected else 0.8):
                verdict = Verdict("accepted")
            else:
                verdict = Verdict("rejected", rejection_reason(self.rng, item["indicator"]))
            what = f"{item['indicator']} of {self._label(state, item['innovation'])}"
            summary = f"{verdict.decision} {what}" + (f": {verdict.reason}" if verdict.reason else "")
            decide = partial(self.api.decide, state.info.code, item["id"], verdict)
            moves.append(Move(verifier, summary, decide))
        return moves

    def fixes(self, state: RegionState) -> list[Move]:
        """The owner uploads a corrected document for an answer whose evidence was rejected."""
        return self._uploads_where(state, "rejected", "uploaded corrected evidence", version=2)

    def missing_uploads(self, state: RegionState) -> list[Move]:
        """The owner uploads evidence for an answer that has none yet."""
        return self._uploads_where(state, "none", "uploaded missing evidence", version=1)

    def _uploads_where(self, state: RegionState, evidence_state: str, wording: str, *, version: int) -> list[Move]:
        moves = []
        for innovation, indicator in state.answers_needing_evidence():
            innovation_id = innovation["id"] if innovation else None
            if state.evidence_state(innovation_id, indicator) != evidence_state:
                continue
            owner = self._owner(state, innovation)
            summary = f"{wording} for {indicator} of {self._label(state, innovation_id)}"
            moves.append(Move(owner, summary, self._upload(state, owner, indicator, innovation, version=version)))
        return moves

    def draft_steps(self, state: RegionState) -> list[Move]:
        """An operator submits an eligible draft, or first answers the mandatory indicator it lacks."""
        moves = []
        for innovation in sorted(state.innovations, key=lambda i: i["name"]):
            if innovation["status"] != "draft":
                continue
            operator = self._owner(state, innovation)
            if innovation["eligibility"]["eligible"]:
                moves.append(Move(operator, f"submitted '{innovation['name']}'",
                                  partial(self.api.submit, operator, innovation)))
                continue
            missing = [i.code for i in SID_INDICATORS if i.mandatory and innovation["answers"].get(i.code) is None]
            if missing:
                indicator, level = missing[0], self.rng.choice((1, 2))
                moves.append(Move(operator, f"answered {indicator} of draft '{innovation['name']}' at level {level}",
                                  self._answer_with_evidence(state, operator, innovation, indicator, level)))
        return moves

    def level_raises(self, state: RegionState) -> list[Move]:
        """An operator raises the level of an answer of a submitted innovation, with a document backing it."""
        moves = []
        for innovation, indicator, level in state.answered():
            if innovation["status"] != "submitted" or level >= MAX_LEVEL:
                continue
            operator = self._owner(state, innovation)
            summary = f"raised {indicator} of '{innovation['name']}' from level {level} to {level + 1}"
            moves.append(Move(operator, summary,
                              self._answer_with_evidence(state, operator, innovation, indicator, level + 1)))
        return moves

    def more_answers(self, state: RegionState) -> list[Move]:
        """An operator answers one more optional indicator of a submitted innovation."""
        moves = []
        for innovation in sorted(state.innovations, key=lambda i: i["name"]):
            if innovation["status"] != "submitted":
                continue
            operator = self._owner(state, innovation)
            for indicator in SID_INDICATORS:
                if innovation["answers"].get(indicator.code) is None:
                    level = self.rng.choice((1, 2))
                    moves.append(Move(operator, f"answered {indicator.code} of '{innovation['name']}' at level {level}",
                                      self._answer_with_evidence(state, operator, innovation, indicator.code, level)))
        return moves

    def spd_steps(self, state: RegionState) -> list[Move]:
        """The region admin answers an SPD indicator not yet answered, or raises one, with evidence."""
        moves = []
        admin = Actor("region_admin", state.info.code)
        for answer in state.spd:
            level = answer["level"]
            if level is not None and level >= MAX_LEVEL:
                continue
            new_level = (level or 0) + 1
            code = answer["indicator"]
            verb = f"raised SPD {code} to level {new_level}" if level else f"answered SPD {code} at level 1"

            async def run(a: dict[str, Any] = answer, new: int = new_level) -> None:
                await self.api.set_spd(state.info.code, a["indicator"], new, a["version"])
                await self._upload(state, admin, a["indicator"], None, version=new)()

            moves.append(Move(admin, verb, run))
        return moves

    def rechecks(self, state: RegionState) -> list[Move]:
        """A verifier re-checks an accepted item and rejects it: only once nothing else is
        left, so that a fully verified region keeps moving (the owner then uploads a
        correction, the verifier accepts it, and so on)."""
        verifier = Actor("verifier", state.info.code)
        return [
            Move(verifier, f"re-checked {e['indicator']} of {self._label(state, e['innovation'])} and rejected it",
                 partial(self.api.decide, state.info.code, e["id"], Verdict("rejected", RECHECK_REASON)))
            for e in state.evidence_in_order("accepted")
        ]

    def _answer_with_evidence(self, state: RegionState, operator: Actor, innovation: dict[str, Any], indicator: str,
                              level: int) -> Callable[[], Awaitable[object]]:
        async def run() -> None:
            await self.api.set_answer(operator, innovation, indicator, level)
            await self._upload(state, operator, indicator, innovation, version=level)()

        return run


# =========================================================================================
# The demo's life: start with the platform, seed, step, stop with the platform
# =========================================================================================


class Demo:
    """The background task of `inovasi up --demo`. `seeded` is set once the seeding phase is
    over (it seeded `newly_seeded`, found the regions seeded, or was interrupted by
    shutdown); `steps_taken` counts the steps taken since."""

    def __init__(self, app: Any, *, base_url: str, secret: str, region: str, settings: DemoSettings) -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.home = region
        self.settings = settings
        self.regions = demo_regions(region)
        self.seeded = asyncio.Event()
        self.newly_seeded: list[str] = []
        self.steps_taken = 0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random(settings.seed)
        self._regions_info = {code: load_regions()[code] for code in self.regions}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inovasi-demo")

    async def stop(self) -> None:
        """Let the current request finish (the demo stops between requests), then cancel if
        it takes longer than STOP_GRACE_S."""
        self._stopping.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE_S)
        if not done:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        # In-process transport: the demo's requests go through every route, token check and
        # validation of the mounted services, but need no socket, so they work before uvicorn
        # listens and whatever --host it binds.
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=self.base_url, timeout=60) as client:
            api = DemoApi(client, self.secret, self._stopping)
            try:
                await self._seed(api)
                await self._keep_moving(api)
            except DemoStopped:
                log.info("demo stopped")
            except Exception:  # never let the demo take the server down
                log.exception("demo failed and stopped; the services keep running")

    async def _seed(self, api: DemoApi) -> None:
        try:
            self.newly_seeded = await seed_regions(api, plan_demo(self.home, self.settings.seed))
        finally:
            self.seeded.set()
        print(welcome_text(self.base_url, self.secret, self.home, self.newly_seeded, self.settings.interval_s),
              file=sys.stderr, flush=True)

    async def _keep_moving(self, api: DemoApi) -> None:
        planner = MovePlanner(api, self._rng)
        number = 0
        while True:
            await api.pause(self.settings.interval_s)
            number += 1
            with step(f"demo-step-{number}"):
                try:
                    if await self._take_one_step(api, planner):
                        self.steps_taken += 1
                except DemoStopped:
                    raise
                except Exception as exc:  # a refused or failed step is logged; the next one comes
                    log.warning("demo step failed", step=number, error=str(exc)[:500])

    async def _take_one_step(self, api: DemoApi, planner: MovePlanner) -> bool:
        """Draw a region (the home region twice as often as a neighbour) and take one step
        there; another region if nothing is left to do in it."""
        order = self._regions_by_draw()
        for code in order:
            state = await read_region(api, self._regions_info[code])
            move = planner.choose(state)
            if move is None:
                continue
            score = await api.score(code)
            await move.run()
            validated, claimed = score["figures"]["validated"], score["figures"]["claimed"]
            rank = validated["rank"]["type"]
            log.info(
                f"demo: {move.actor} of {code} {move.summary}",
                region=code, actor=str(move.actor), step=_step_id.get(),
                # The region's standing as the step was taken; its effect shows in the next line.
                claimed_iid=claimed["iid"], validated_iid=validated["iid"], category=validated["category"],
                rank=f"{rank['position']}/{rank['of']} {state.info.type}",
            )
            return True
        log.info("demo: nothing left to do in any demo region")
        return False

    def _regions_by_draw(self) -> list[str]:
        weights = {code: 2.0 if code == self.home else 1.0 for code in self.regions}
        first = self._rng.choices(list(weights), weights=list(weights.values()))[0]
        return [first] + [code for code in self.regions if code != first]


def welcome_text(base_url: str, secret: str, region: str, newly_seeded: Sequence[str], interval_s: float) -> str:
    """Tokens for the home region's people and requests to try, printed once seeding is over."""
    home = WELCOME_OPERATOR_AGENCY
    tokens = {
        "ADMIN": issue_token(secret, "region_admin", region),
        "VERIFIER": issue_token(secret, "verifier", region),
        "OPERATOR": issue_token(secret, "operator", region, home),
        "VIEWER": issue_token(secret, "viewer", region),
    }
    seeded = f"seeded {', '.join(newly_seeded)}" if newly_seeded else "found its regions already seeded"
    info = load_regions()[region]

    def curl(token: str, path: str, flags: str = "-s") -> str:
        return f"  curl {flags} -H \"Authorization: Bearer ${token}\" '{base_url}{path}'"

    # A kabupaten or kota is ranked within its province too; provinces only among themselves.
    ranking = f"type={info.type}" + (f"&province={info.province_code}" if info.type != "provinsi" else "")
    lines = [
        "",
        f"inovasi demo: {seeded}; one step every {interval_s:g} s from now on.",
        f"Tokens for region {region} (12 h; the operator is of agency '{home}'):",
        "",
        *(f"  export {name}={value}" for name, value in tokens.items()),
        "",
        "Try:",
        curl("VIEWER", f"/scoring/v1/cycles/{CYCLE}/regions/{region}/score"),
        curl("VIEWER", f"/scoring/v1/cycles/{CYCLE}/rankings?{ranking}"),
        curl("VIEWER", f"/scoring/v1/cycles/{CYCLE}/stream?region={region}", flags="-N"),
        curl("ADMIN", f"/intake/v1/cycles/{CYCLE}/regions/{region}/agencies/status"),
        curl("VERIFIER", f"/evidence/v1/evidence?cycle={CYCLE}&region={region}&state=pending"),
        curl("OPERATOR", f"/intake/v1/cycles/{CYCLE}/innovations"),
        "",
    ]
    return "\n".join(lines)


def attach_demo(app: Any, *, base_url: str, secret: str, region: str, settings: DemoSettings | None = None) -> Demo:
    """Run the demo alongside `app` (the platform app of `create_platform_app`): it starts
    once the services are up and stops before they stop. Raises ValueError for a region that
    does not exist."""
    demo = Demo(app, base_url=base_url, secret=secret, region=region, settings=settings or DemoSettings())
    services_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan_with_demo(platform: Any) -> AsyncIterator[Any]:
        async with services_lifespan(platform) as state:
            demo.start()
            try:
                yield state
            finally:
                await demo.stop()  # before the services stop: no step runs against closed pools

    app.router.lifespan_context = lifespan_with_demo
    app.state.demo = demo
    return demo

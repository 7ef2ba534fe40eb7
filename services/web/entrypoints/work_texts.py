"""What the work pages (Inovasi saya, Verifikasi) say, in Bahasa Indonesia: the profile's
fields, statuses, evidence states and kinds, the eligibility rules, the messages after a
change, and the APIs' reasons (English, from intake and evidence) said in Indonesian.

A reason no pattern here knows is shown as the API gave it after a sentence in Indonesian,
rather than hidden: the person still learns which field to fix."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.common.methodology.catalogue import CatalogueError, methodology_for_cycle

PROFILE_LABELS: Mapping[str, str] = {
    "name": "Nama inovasi",
    "urusan_utama": "Urusan utama",
    "urusan_lain": "Urusan lain",
    "tahapan": "Tahapan inovasi",
    "jenis": "Jenis inovasi",
    "bentuk": "Bentuk inovasi",
    "inisiator": "Inisiator inovasi",
    "tanggal_uji_coba": "Tanggal uji coba",
    "tanggal_penerapan": "Tanggal penerapan",
    "rancang_bangun": "Rancang bangun",
    "tujuan": "Tujuan inovasi",
    "manfaat": "Manfaat yang diperoleh",
    "hasil": "Hasil inovasi",
    "file": "Berkas",
    "link": "Tautan",
    "reason": "Alasan penolakan",
    "decision": "Keputusan",
    "cycle": "Masa pengajuan",
}

STATUS_LABELS: Mapping[str, str] = {"draft": "Draf", "submitted": "Diajukan", "withdrawn": "Ditarik"}

EVIDENCE_STATES: Mapping[str, str] = {
    "pending": "Menunggu verifikasi",
    "accepted": "Diterima",
    "rejected": "Ditolak",
    "none": "Belum ada data dukung",
}

KIND_LABELS: Mapping[str, str] = {
    "pdf": "PDF",
    "image": "gambar (PNG atau JPEG)",
    "video": "video (MP4 atau MOV)",
    "link": "tautan video (mis. YouTube)",
}

RULE_LABELS: Mapping[str, str] = {
    "required_fields": "Semua isian profil terisi",
    "application_date_in_period": "Tanggal penerapan dalam periode penilaian",
    "rancang_bangun_length": "Rancang bangun minimal 300 kata",
    "mandatory_indicators": "Semua indikator wajib dijawab",
    "submission_window": "Masa pengajuan sedang dibuka",
}

URUSAN_GROUPS: Mapping[str, str] = {
    "wajib_pelayanan_dasar": "Urusan wajib pelayanan dasar",
    "wajib_non_pelayanan_dasar": "Urusan wajib non-pelayanan dasar",
    "pilihan": "Urusan pilihan",
    "penunjang": "Fungsi penunjang",
    "lainnya": "Lainnya",
}

# Messages after a change succeeded (`?pesan=`): only these, never text from the address.
DONE: Mapping[str, str] = {
    "inovasi-dibuat": "Inovasi dibuat sebagai draf. Lanjutkan dengan indikator dan data dukungnya.",
    "profil-disimpan": "Profil inovasi disimpan.",
    "profil-tetap": "Tidak ada perubahan pada profil.",
    "jawaban-disimpan": "Jawaban indikator disimpan.",
    "bukti-diunggah": "Data dukung diunggah dan menunggu verifikasi.",
    "tautan-ditambahkan": "Tautan ditambahkan dan menunggu verifikasi.",
    "diajukan": "Inovasi diajukan. Verifikator daerah akan memeriksa data dukungnya.",
    "ditarik": "Inovasi ditarik. Ajukan kembali setelah diperbaiki.",
    "diterima": "Data dukung diterima.",
    "ditolak": "Data dukung ditolak; alasannya dikirim ke perangkat daerah.",
    "antrean-selesai": "Tidak ada lagi data dukung yang menunggu verifikasi.",
}

STALE = ("Inovasi ini telah diubah (di tab lain atau oleh orang lain) sejak formulir ini dibuka. "
         "Isian di bawah adalah nilai terbaru; isian Anda yang belum tersimpan ditampilkan di bawah tiap kolom. "
         "Periksa, lalu simpan lagi.")
NOT_ELIGIBLE = "Inovasi belum dapat diajukan. Lengkapi yang belum terpenuhi pada daftar kelayakan."
WRONG_STATUS = "Status inovasi tidak mengizinkan tindakan ini (mis. sudah diajukan). Muat ulang halaman."
WINDOW_CLOSED = "Masa pengajuan siklus ini sedang ditutup; perubahan belum dapat disimpan."
INVALID = "Periksa kembali isian yang ditandai."


def _dmy(text: str) -> str:
    try:
        return date.fromisoformat(text[:10]).strftime("%d-%m-%Y")
    except ValueError:
        return text


def _indicator_name(code: str, cycle: int | None = None) -> str | None:
    try:
        methodology = methodology_for_cycle(cycle or 2026)
    except CatalogueError:
        return None
    indicator = methodology.indicator_by_code.get(code)
    return f"{indicator.number}. {indicator.name}" if indicator is not None else None


def field_label(name: str) -> str:
    """A field's label: the profile's, or an indicator's (`sid-16`, `answers.sid-16`)."""
    code = name.removeprefix("answers.")
    if code in PROFILE_LABELS:
        return PROFILE_LABELS[code]
    indicator = _indicator_name(code)
    return f"Indikator {indicator}" if indicator else name


Translation = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _p(pattern: str, say: str | Callable[[re.Match[str]], str]) -> Translation:
    return re.compile(pattern, re.IGNORECASE), (say if callable(say) else (lambda _m, text=say: text))


REASONS: tuple[Translation, ...] = (
    # intake: a profile's fields
    _p(r"^field required$", "Wajib diisi."),
    _p(r"^must not be blank$", "Wajib diisi."),
    _p(r"^string should have at most (\d+) characters?$", lambda m: f"Maksimal {m[1]} karakter."),
    _p(r"^list should have at most (\d+) items?", lambda m: f"Maksimal {m[1]} pilihan."),
    _p(r"^must be a date written YYYY-MM-DD$", "Tulis tanggal dengan format TTTT-BB-HH."),
    _p(r"is not a calendar date$", "Tanggal ini tidak ada di kalender."),
    _p(r"^the application date (\S+) is before the trial date (\S+)$",
       lambda m: f"Tanggal penerapan tidak boleh sebelum tanggal uji coba ({_dmy(m[2])})."),
    _p(r"is not a known \w+; expected one of", "Pilih salah satu pilihan yang tersedia."),
    _p(r"is not an urusan code", "Urusan tidak dikenal; pilih dari daftar."),
    _p(r"listed more than once", "Setiap urusan hanya boleh dipilih sekali."),
    _p(r"is already the urusan utama", "Urusan lain tidak boleh sama dengan urusan utama."),
    _p(r"^at most (\d+) urusan lain", lambda m: f"Maksimal {m[1]} urusan lain."),
    _p(r"must not contain control characters", "Tidak boleh memuat karakter kendali (selain baris baru dan tab)."),
    _p(r"must be valid Unicode text", "Teks ini memuat karakter yang tidak sah."),
    _p(r"^input should be a valid string$", "Isian tidak sah."),
    # intake: eligibility
    _p(r"^(\w+) is required for submission$",
       lambda m: f"{PROFILE_LABELS.get(m[1], m[1])} wajib diisi sebelum diajukan."),
    _p(r"^the application date (\S+) is outside the period of cycle (\d+) \((\S+) to (\S+)\)$",
       lambda m: f"Tanggal penerapan {_dmy(m[1])} di luar periode siklus {m[2]} ({_dmy(m[3])} s.d. {_dmy(m[4])})."),
    _p(r"^rancang bangun has (\d+) words?; at least (\d+) are required$",
       lambda m: f"Rancang bangun baru {m[1]} kata; minimal {m[2]} kata."),
    _p(r"^mandatory indicator (\S+) \((.*)\) is not answered$",
       lambda m: f"Indikator wajib {_indicator_name(m[1]) or m[2]} belum dijawab."),
    _p(r"^the submission window of cycle (\d+) opens at (\S+)$",
       lambda m: f"Masa pengajuan siklus {m[1]} baru dibuka {_dmy(m[2])}."),
    _p(r"^the submission window of cycle (\d+) closed at (\S+)$",
       lambda m: f"Masa pengajuan siklus {m[1]} sudah ditutup ({_dmy(m[2])})."),
    _p(r"^level must be 1, 2 or 3$", "Pilih tingkat 1, 2 atau 3."),
    # evidence: files and links
    _p(r"^choose a file to upload$", "Pilih berkas yang akan diunggah."),
    _p(r"^file is empty", "Berkas kosong."),
    _p(r"^file content is not a recognised format",
       "Isi berkas tidak dikenali. Yang diterima hanya PDF, PNG, JPEG, MP4 atau MOV."),
    _p(r"^file is an? (.+?), which is not accepted as evidence",
       "Jenis berkas ini tidak diterima sebagai data dukung."),
    _p(r"^file is an? (.+?), but \S+ accepts only", "Jenis berkas ini tidak diterima untuk indikator ini."),
    _p(r"larger than the limit of (\d+) bytes",
       lambda m: f"Berkas melebihi batas {size_label(int(m[1]))}."),
    _p(r"^Content-Type says", "Isi berkas tidak sesuai jenisnya (mis. berkas .pdf yang sebenarnya gambar)."),
    _p(r"protected by a password", "Berkas dilindungi kata sandi sehingga tidak dapat dibuka verifikator; "
       "unggah tanpa kata sandi."),
    _p(r"has no pages$", "PDF ini tidak memiliki halaman."),
    _p(r"cannot be (opened|read|decoded)", "Berkas rusak atau terpotong dan tidak dapat dibuka; unggah ulang."),
    _p(r"does not accept links", "Indikator ini tidak menerima tautan; unggah berkas."),
    _p(r"must be an absolute http:// or https:// URL", "Tautan harus lengkap, diawali http:// atau https://."),
    _p(r"must not carry a user name or password", "Tautan tidak boleh memuat nama pengguna atau kata sandi."),
    _p(r"must not contain spaces or control characters", "Tautan tidak boleh memuat spasi."),
    _p(r"^(not a valid URL|longer than \d+ characters)", "Tautan tidak sah."),
    _p(r"the upload was interrupted", "Unggahan terputus; coba lagi."),
    _p(r"^sent nothing for", "Unggahan terhenti terlalu lama; coba lagi."),
    # evidence: decisions
    _p(r"^a reason is required when rejecting evidence$", "Alasan wajib diisi saat menolak data dukung."),
    _p(r"^longer than (\d+) characters$", lambda m: f"Maksimal {m[1]} karakter."),
    _p(r"^input should be 'accepted' or 'rejected'$", "Pilih terima atau tolak."),
)


def reason(text: str) -> str:
    """An API's reason in Bahasa Indonesia."""
    for pattern, say in REASONS:
        found = pattern.search(text.strip())
        if found:
            return say(found)
    return f"Isian ini ditolak: {text}"


def size_label(size: int | None) -> str:
    """`1,5 MB`, `320 KB`: decimal units, one decimal for megabytes (as phones show sizes)."""
    if size is None:
        return "—"
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{(Decimal(size) / 1000).quantize(Decimal('1'), ROUND_HALF_UP)} KB"
    return f"{(Decimal(size) / 1_000_000).quantize(Decimal('0.1'), ROUND_HALF_UP)} MB".replace(".", ",")


def kinds_label(kinds: list[str]) -> str:
    labels = [KIND_LABELS.get(kind, kind) for kind in kinds]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " atau " + labels[-1]


__all__ = [
    "DONE", "EVIDENCE_STATES", "KIND_LABELS", "PROFILE_LABELS", "RULE_LABELS", "STATUS_LABELS", "URUSAN_GROUPS",
    "field_label", "kinds_label", "reason", "size_label",
]

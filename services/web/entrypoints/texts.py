"""What the pages say, in Bahasa Indonesia: roles, categories, figures, the reasons the rules
give (English constants in the domain), the answers to refused requests, and how numbers
and times are written. One place, so every page says the same thing the same way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from services.web.domain.accounts import Reason
from services.web.domain.tokens import TokenReason

ROLE_LABELS: Mapping[str, str] = {
    "operator": "Operator OPD",
    "region_admin": "Admin daerah",
    "verifier": "Verifikator",
    "viewer": "Pemantau",
    "province_admin": "Admin provinsi",
    "national": "Nasional (Kemendagri)",
}

CATEGORY_LABELS: Mapping[str, str] = {
    "sangat_inovatif": "Sangat Inovatif",
    "inovatif": "Inovatif",
    "kurang_inovatif": "Kurang Inovatif",
    "tidak_dapat_dinilai": "Tidak Dapat Dinilai",
}

FIGURE_LABELS: Mapping[str, str] = {
    "claimed": "Klaim",
    "provisional": "Sementara",
    "validated": "Tervalidasi",
}

FIELD_LABELS: Mapping[str, str] = {
    "username": "Nama pengguna",
    "password": "Kata sandi",
    "current_password": "Kata sandi saat ini",
    "new_password": "Kata sandi baru",
    "repeat_password": "Ulangi kata sandi baru",
    "role": "Peran",
    "region": "Daerah",
    "agency": "Perangkat daerah (OPD)",
    "email": "Surel",
    "name": "Nama",
    "days": "Masa berlaku",
    "id": "Kode OPD",
    "url": "Alamat (URL)",
    "kinds": "Jenis pemberitahuan",
}

REASONS: Mapping[str, str] = {
    Reason.USERNAME_FORMAT: "Gunakan 3–64 huruf, angka, titik, garis bawah atau tanda hubung, "
    "diawali huruf atau angka.",
    Reason.USERNAME_TAKEN: "Nama pengguna ini sudah dipakai.",
    Reason.PASSWORD_TOO_SHORT: "Kata sandi minimal 10 karakter.",
    Reason.PASSWORD_TOO_LONG: "Kata sandi maksimal 256 karakter.",
    Reason.PASSWORD_COMMON: "Kata sandi ini terlalu umum; pilih yang lebih sulit ditebak.",
    Reason.PASSWORD_HAS_USERNAME: "Kata sandi tidak boleh memuat nama pengguna.",
    Reason.PASSWORD_REPEATS: "Kata sandi tidak boleh berupa satu karakter yang diulang.",
    Reason.PASSWORD_CONTROL: "Kata sandi tidak boleh memuat karakter kendali.",
    Reason.PASSWORD_MISMATCH: "Kedua kata sandi tidak sama.",
    Reason.PASSWORD_WRONG: "Kata sandi saat ini salah.",
    Reason.PASSWORD_UNCHANGED: "Kata sandi baru harus berbeda dari yang sekarang.",
    Reason.ROLE_UNKNOWN: "Peran tidak dikenal.",
    Reason.ROLE_NOT_GRANTED: "Peran ini tidak dapat diberikan di sini.",
    Reason.REGION_UNKNOWN: "Bukan kode daerah Kemendagri.",
    Reason.REGION_NOT_PROVINCE: "Harus kode provinsi (mis. 62).",
    Reason.REGION_NOT_ALLOWED: "Akun nasional tidak memiliki daerah.",
    Reason.REGION_OTHER: "Hanya untuk daerah Anda sendiri.",
    Reason.AGENCY_REQUIRED: "Operator wajib memiliki perangkat daerah (OPD).",
    Reason.AGENCY_FORMAT: "Kode OPD hanya huruf kecil, angka, - dan _.",
    Reason.AGENCY_NOT_ALLOWED: "Hanya operator yang memiliki OPD.",
    Reason.AGENCY_UNKNOWN: "OPD ini belum terdaftar di daerah Anda.",
    Reason.EMAIL_FORMAT: "Bukan alamat surel yang benar.",
    TokenReason.NAME_REQUIRED: "Nama token wajib diisi.",
    TokenReason.NAME_TOO_LONG: "Nama token maksimal 100 karakter.",
    TokenReason.NAME_CONTROL: "Nama token tidak boleh memuat karakter kendali.",
    TokenReason.DAYS_RANGE: "Masa berlaku 1 sampai 366 hari.",
}

# Refusals as a whole (by error code), for the top of a form or an error page.
CODES: Mapping[str, str] = {
    "invalid_credentials": "Nama pengguna atau kata sandi salah.",
    "account_disabled": "Akun Anda dinonaktifkan. Hubungi admin daerah Anda.",
    "rate_limited": "Terlalu banyak percobaan masuk. Coba lagi sebentar lagi.",
    "username_taken": "Nama pengguna ini sudah dipakai.",
    "own_account": "Anda tidak dapat menonaktifkan atau mengaktifkan akun Anda sendiri.",
    "conflict": "Permintaan bertentangan dengan keadaan saat ini.",
    "limit_reached": "Batas jumlah sudah tercapai.",
    "invalid_request": "Periksa kembali isian yang ditandai.",
    "forbidden": "Anda tidak berwenang melakukan ini.",
    "not_found": "Tidak ditemukan.",
    "unavailable": "Layanan sedang tidak tersedia. Coba lagi beberapa saat lagi.",
    "csrf": "Formulir ini kedaluwarsa atau tidak berasal dari halaman ini. Muat ulang halaman lalu coba lagi.",
}

# Messages after a change succeeded (`?pesan=`): only these, never text from the address.
DONE: Mapping[str, str] = {
    "kata-sandi-diubah": "Kata sandi diubah. Sesi lain akun Anda telah diakhiri.",
    "sesi-diakhiri": "Sesi itu telah diakhiri.",
    "opd-dibuat": "Perangkat daerah terdaftar.",
    "akun-dibuat": "Akun dibuat. Berikan nama pengguna dan kata sandinya kepada pemiliknya secara langsung.",
    "akun-dinonaktifkan": "Akun dinonaktifkan; sesinya diakhiri dan tokennya tidak berlaku lagi.",
    "akun-diaktifkan": "Akun diaktifkan kembali.",
    "token-dicabut": "Token dicabut; layanan menolaknya dalam beberapa detik.",
    "webhook-dihapus": "Webhook dihapus.",
}

# Indonesia keeps no daylight saving time: each zone is a fixed offset.
ZONES: Mapping[str, tuple[timezone, str]] = {
    "WIB": (timezone(timedelta(hours=7)), "WIB"),
    "WITA": (timezone(timedelta(hours=8)), "WITA"),
    "WIT": (timezone(timedelta(hours=9)), "WIT"),
}


def reason(text: str) -> str:
    """A rule's reason in Bahasa Indonesia (an API's reason not known here is kept)."""
    return REASONS.get(text, text)


def two_decimals(value: Decimal | str | float | None) -> str:
    """`47.04` → `47,04` (the IID as the pages write it); `0,00` for nothing."""
    number = Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{number:f}".partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    grouped = ".".join(reversed([digits[max(i - 3, 0):i] for i in range(len(digits), 0, -3)]))
    return f"{sign}{grouped},{fraction}"


def local_time(value: datetime | None, zone: str = "WIB", *, with_date: bool = True) -> str:
    if value is None:
        return "—"
    tz, label = ZONES.get(zone, ZONES["WIB"])
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz)
    return local.strftime("%d-%m-%Y %H:%M" if with_date else "%H:%M") + f" {label}"


def locked_message(until: datetime, zone: str = "WIB") -> str:
    return f"Akun terkunci sampai {local_time(until, zone, with_date=False)} karena terlalu banyak percobaan masuk."


def retry_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return f"Terlalu banyak percobaan masuk. Coba lagi dalam {minutes} menit."

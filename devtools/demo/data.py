"""What the demo draws from (data, not logic): the cycle and its methodology, the kinds of
agencies a region may have and their innovation ideas, what verifiers write when they
reject, and the titles of the documents uploaded as evidence."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.methodology.catalogue import methodology_for_cycle

CYCLE = 2026
METHODOLOGY = methodology_for_cycle(CYCLE)
SID_INDICATORS = METHODOLOGY.indicators_of("sid")
SPD_INDICATORS = METHODOLOGY.indicators_of("spd")
VIDEO_INDICATOR = "sid-35"
REGULATION_INDICATOR = "sid-16"  # the regional head's decree every innovation rests on
MAX_LEVEL = 3


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


# Every agency the demo registers has an id starting with this, which a person registering an
# agency would not choose ("dinkes", not "demo-dinkes"): it is how the demo tells its own
# agencies, and so its own innovations, from those of people working in the same regions.
DEMO_AGENCY_PREFIX = "demo-"
# The demo's tokens carry subjects starting with this; the evidence service records the
# subject as `uploaded_by`, so the demo's verifier decides only the evidence the demo uploaded.
DEMO_SUBJECT_PREFIX = "inovasi-demo:"


def is_demo_agency(agency_id: str) -> bool:
    return agency_id.startswith(DEMO_AGENCY_PREFIX)


@dataclass(frozen=True, slots=True)
class AgencyKind:
    slug: str  # the kind of agency ("dinkes"), the same in every region
    name: str
    ideas: tuple[Idea, ...]

    @property
    def id(self) -> str:
        """The id the demo registers it under, which its operators' tokens carry."""
        return DEMO_AGENCY_PREFIX + self.slug


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
AGENCY_BY_SLUG = {kind.slug: kind for kind in AGENCY_KINDS}
# The home region gets the planner and the four agencies of basic services, so that once
# enough of their evidence is verified the region covers the five basic services the SJI needs.
HOME_AGENCIES = ("bapperinda", "dinkes", "disdik", "dinsos", "dpuprkp")
WELCOME_OPERATOR_AGENCY = AGENCY_BY_SLUG["dinkes"].id  # the printed operator token is of this home agency

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

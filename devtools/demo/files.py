"""Evidence files: small but valid, so the evidence service's type check accepts them (a
one-page PDF, a small PNG, or a link for the video indicator)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from devtools.demo.data import DOCUMENT_TITLES, METHODOLOGY
from services.common.data.regions import RegionInfo
from services.common.methodology.catalogue import Indicator


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
    return assemble_pdf(objects)


def assemble_pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF file of `objects` (numbered from 1, the first the catalog), with a correct
    cross-reference table."""
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

"""Evidence files that start like their type and are, or are not, what they claim: real
ones (from tests.support.files, the demo's generators, and from pypdf and Pillow) and broken
ones whose first bytes alone would pass the type check."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image
from pypdf import PdfWriter

from tests.support.files import minimal_pdf, tiny_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

__all__ = ["minimal_pdf", "tiny_png"]


def garbage(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# --------------------------------------------------------------------------- PDF


def pdf_with_garbage_after_signature() -> bytes:
    return b"%PDF-1.7\n" + garbage(5000, seed=1)


def truncated_pdf() -> bytes:
    whole = minimal_pdf()
    return whole[: len(whole) // 2]


def pdf_without_pages() -> bytes:
    return _written(PdfWriter())


def password_protected_pdf() -> bytes:
    writer = _one_page()
    writer.encrypt(user_password="rahasia", owner_password="pemda", algorithm="AES-128")
    return _written(writer)


def permissions_only_pdf() -> bytes:
    """Encrypted, with an empty user password: it opens without one (a password is needed
    only to change its permissions), as most "protected" PDFs agencies export do."""
    writer = _one_page()
    writer.encrypt(user_password="", owner_password="pemda", algorithm="AES-128")
    return _written(writer)


def _one_page() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return writer


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------- PNG


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def png_with_garbage_after_signature() -> bytes:
    return PNG_SIGNATURE + garbage(5000, seed=2)


def png_with_broken_pixels() -> bytes:
    """Every chunk well formed, checksums right, but the pixel data is not zlib data: only
    decoding the image finds it."""
    return PNG_SIGNATURE + png_header(24, 16) + png_chunk(b"IDAT", garbage(300, seed=3)) + png_chunk(b"IEND", b"")


def truncated_png() -> bytes:
    whole = tiny_png()
    return whole[: len(whole) - 20]


def png_declaring(width: int, height: int) -> bytes:
    """A few dozen bytes declaring a width x height image: a decompression bomb's header."""
    return PNG_SIGNATURE + png_header(width, height) + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b"")


# --------------------------------------------------------------------------- JPEG


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def jpeg_with_garbage_after_header() -> bytes:
    return small_jpeg()[:200] + garbage(3000, seed=4)


def truncated_jpeg() -> bytes:
    whole = small_jpeg()
    return whole[: len(whole) // 2]

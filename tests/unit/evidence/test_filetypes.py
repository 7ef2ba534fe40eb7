"""File kinds are decided from content bytes alone, and refusals say what was wrong."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.methodology.catalogue import load_methodology
from services.evidence.domain.filetypes import (
    GIF,
    HEIF,
    JPEG,
    MOV,
    MP4,
    MPEG4_AUDIO,
    OLE2,
    PDF,
    PNG,
    SNIFF_BYTES,
    THREE_GPP,
    WEBP,
    ZIP,
    Accepted,
    FileType,
    Refused,
    check_file_type,
    sniff,
)

PDF_MAGIC = b"%PDF-"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def ftyp(major: bytes, *compatible: bytes, minor: int = 0) -> bytes:
    """An ISO-BMFF `ftyp` box followed by the start of a `moov` box."""
    body = major + struct.pack(">I", minor) + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08moov"


def minimal_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")  # one filter byte, one grey pixel
    return PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


MINIMAL_PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (MINIMAL_PDF, PDF),
        (b"%PDF-2.0\n", PDF),
        (minimal_png(), PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", JPEG),  # JFIF
        (b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00", JPEG),  # camera photo
        (b"\xff\xd8\xff\xdb\x00\x43\x00", JPEG),  # raw quantisation table first
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41", minor=512), MP4),  # ffmpeg
        (ftyp(b"mp42", b"mp42", b"isom"), MP4),  # phones
        (ftyp(b"M4V ", b"M4V ", b"M4A ", b"mp42", b"isom"), MP4),  # iTunes video
        (ftyp(b"iso5", b"iso6", b"mp41"), MP4),
        (ftyp(b"XAVC", b"XAVC", b"mp42", b"iso2"), MP4),  # Sony cameras
        (ftyp(b"qt  ", b"qt  "), MOV),  # iPhone video
        (ftyp(b"zzzz", b"isom", b"mp42"), MP4),  # unknown major brand, MP4-compatible
        (ftyp(b"zzzz", b"qt  "), MOV),
        (ftyp(b"heic", b"mif1", b"heic"), HEIF),  # iPhone photo
        (ftyp(b"mif1", b"mif1", b"heic", b"miaf"), HEIF),
        (ftyp(b"avif", b"avif", b"mif1", b"miaf"), HEIF),
        (ftyp(b"zzzz", b"mif1", b"iso8"), HEIF),  # HEIF wins over a generic compatible brand
        (ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), MPEG4_AUDIO),
        (ftyp(b"3gp4", b"3gp4", b"isom"), THREE_GPP),
        (b"GIF89a\x01\x00\x01\x00", GIF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
        (b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml", ZIP),  # a .docx
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", OLE2),  # a .doc
    ],
)
def test_recognises_formats_from_their_first_bytes(content: bytes, expected: FileType) -> None:
    assert sniff(content) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"%PDF",  # truncated signature
        b" %PDF-1.4",  # not at the start
        b"\xef\xbb\xbf%PDF-1.4",  # a BOM in front is not a PDF header
        b"Laporan kegiatan inovasi 2026\n",  # text renamed to .pdf
        b"<html><body>not a file</body></html>",
        b"\x89PNG\r\n",  # truncated PNG signature
        b"\xff\xd8",  # truncated JPEG signature
        b"\x00\x00\x00\x0cftypisom",  # ftyp box too small to hold a minor version
        b"\x00\x00\x00\x18ftyp",  # ftyp with no brand bytes
        ftyp(b"zzzz", b"yyyy"),  # ISO-BMFF of no known family
        b"\x00\x00\x00\x14moovxxxx",  # no ftyp box first
    ],
)
def test_unrecognised_content_is_none(content: bytes) -> None:
    assert sniff(content) is None


def test_ftyp_largesize_form_is_understood() -> None:
    header = struct.pack(">I", 1) + b"ftyp" + struct.pack(">Q", 24) + b"mp42" + b"\x00" * 4
    assert sniff(header) == MP4


def test_compatible_brands_are_read_only_within_the_box() -> None:
    # The box says it is 16 bytes long: what follows is the next box, not a brand list.
    content = struct.pack(">I", 16) + b"ftyp" + b"zzzz" + b"\x00" * 4 + b"isom"
    assert sniff(content) is None


def test_file_kinds_and_content_types() -> None:
    assert (PDF.kind, PDF.content_type) == ("pdf", "application/pdf")
    assert (PNG.kind, PNG.content_type) == ("image", "image/png")
    assert (JPEG.kind, JPEG.content_type) == ("image", "image/jpeg")
    assert (MP4.kind, MP4.content_type) == ("video", "video/mp4")
    assert (MOV.kind, MOV.content_type) == ("video", "video/quicktime")
    assert {t.kind for t in (GIF, WEBP, HEIF, MPEG4_AUDIO, THREE_GPP, ZIP, OLE2)} == {None}


# ---------------------------------------------------------------------- check_file_type


def test_accepted_kind_gives_the_content_type_to_store() -> None:
    result = check_file_type(sniff(MINIMAL_PDF), "sid-16", ["pdf"])
    assert result == Accepted(PDF)
    assert isinstance(result, Accepted) and result.content_type == "application/pdf"


def test_png_for_a_pdf_only_indicator_names_both() -> None:
    result = check_file_type(sniff(minimal_png()), "sid-16", ["pdf"])
    assert result == Refused("file is a PNG image, but sid-16 accepts only: pdf", PNG)


def test_image_kinds_are_spelled_out() -> None:
    result = check_file_type(sniff(ftyp(b"mp42")), "sid-19", ("pdf", "image"))
    assert isinstance(result, Refused)
    assert result.reason == (
        "file is an MP4 video, but sid-19 accepts only: pdf, image (PNG or JPEG)"
    )


def test_video_indicator_accepts_mp4_and_mov_but_not_a_photo() -> None:
    kinds = ("video", "link")
    assert check_file_type(sniff(ftyp(b"isom")), "sid-33", kinds) == Accepted(MP4)
    assert check_file_type(sniff(ftyp(b"qt  ")), "sid-33", kinds) == Accepted(MOV)
    refused = check_file_type(sniff(JPEG_MAGIC + b"\xe0"), "sid-33", kinds)
    assert isinstance(refused, Refused)
    assert "JPEG image" in refused.reason and "video (MP4 or MOV)" in refused.reason


def test_a_pdf_that_is_not_a_pdf() -> None:
    docx = b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml"
    result = check_file_type(sniff(docx), "sid-17", ["pdf"])
    assert isinstance(result, Refused)
    assert result.reason == (
        "file is a ZIP archive (or a DOCX/XLSX/PPTX document), which is not accepted as "
        "evidence; sid-17 accepts only: pdf"
    )


def test_unrecognised_and_empty_files_are_refused_with_a_reason() -> None:
    unknown = check_file_type(sniff(b"hello"), "spd-1", ["pdf", "image"])
    assert isinstance(unknown, Refused) and unknown.file_type is None
    assert "not a recognised format" in unknown.reason and "spd-1 accepts only" in unknown.reason
    empty = check_file_type(sniff(b""), "spd-1", ["pdf"], empty=True)
    assert empty == Refused("file is empty; spd-1 accepts only: pdf", None)


def test_a_link_only_indicator_refuses_every_file() -> None:
    result = check_file_type(sniff(MINIMAL_PDF), "x-1", ["link"])
    assert isinstance(result, Refused)
    assert result.reason == "file is a PDF document, but x-1 accepts only: link (a URL, not a file)"


@pytest.mark.parametrize("methodology_id", ["iid-2023", "iid-2026"])
def test_every_catalogue_kind_is_satisfiable_by_some_file(methodology_id: str) -> None:
    samples = {"pdf": MINIMAL_PDF, "image": minimal_png(), "video": ftyp(b"mp42")}
    methodology = load_methodology(methodology_id)
    for indicator in methodology.indicators:
        if indicator.evidence is None:
            continue
        for kind in indicator.evidence.kinds:
            if kind == "link":
                continue
            kinds = indicator.evidence.kinds
            result = check_file_type(sniff(samples[kind]), indicator.code, kinds)
            assert isinstance(result, Accepted), (indicator.code, kind)


# ---------------------------------------------------------------------- properties

MAGICS = {PDF: PDF_MAGIC, PNG: PNG_MAGIC, JPEG: JPEG_MAGIC}


@given(st.binary(max_size=4 * SNIFF_BYTES))
def test_random_bytes_never_raise_and_respect_the_magic_numbers(content: bytes) -> None:
    detected = sniff(content)
    if detected is None:
        return
    assert isinstance(detected, FileType)
    if detected.kind == "pdf":
        assert content.startswith(PDF_MAGIC)
    if detected.kind == "image":
        assert content.startswith((PNG_MAGIC, JPEG_MAGIC))
    if detected.kind == "video":
        assert content[4:8] == b"ftyp"


@given(st.binary(max_size=4 * SNIFF_BYTES))
def test_only_the_first_sniff_bytes_matter(content: bytes) -> None:
    assert sniff(content) == sniff(content[:SNIFF_BYTES])


@given(st.sampled_from(sorted(MAGICS, key=lambda t: t.name)), st.binary(max_size=2 * SNIFF_BYTES))
def test_signature_followed_by_anything_is_that_format(expected: FileType, tail: bytes) -> None:
    assert sniff(MAGICS[expected] + tail) == expected


@given(
    st.sampled_from([b"isom", b"mp41", b"mp42", b"avc1", b"M4V ", b"qt  "]),
    st.lists(st.binary(min_size=4, max_size=4), max_size=8),
    st.binary(max_size=SNIFF_BYTES),
)
def test_video_major_brands_decide_whatever_follows(
    major: bytes, compatible: list[bytes], tail: bytes
) -> None:
    expected = MOV if major == b"qt  " else MP4
    assert sniff(ftyp(major, *compatible) + tail) == expected


@given(
    st.one_of(st.none(), st.sampled_from([PDF, PNG, JPEG, MP4, MOV, GIF, HEIF, ZIP])),
    st.lists(st.sampled_from(["pdf", "image", "video", "link"]), unique=True, max_size=4),
    st.from_regex(r"(spd|sid)-[0-9]{1,2}", fullmatch=True),
)
def test_check_accepts_exactly_the_listed_kinds(
    detected: FileType | None, kinds: list[str], indicator: str
) -> None:
    result = check_file_type(detected, indicator, kinds)
    if detected is not None and detected.kind in kinds:
        assert result == Accepted(detected)
    else:
        assert isinstance(result, Refused)
        assert f"{indicator} accepts only: " in result.reason

"""What kind of file an upload is, decided from its first bytes, and whether an indicator
accepts it.

Pure: no I/O. The file name and the client's Content-Type are never trusted (a `.pdf` that
is really a Word file is the commonest bad upload); only the magic numbers at the start of
the content count. The kinds are the methodology catalogue's evidence kinds (`pdf`, `image`,
`video`; `link` is not a file and never matches an upload).

Usage, in the upload handler:

    head = <the first SNIFF_BYTES bytes of the body, fewer if the file is shorter>
    match check_file_type(sniff(head), indicator.code, indicator.evidence.kinds):
        case Refused(reason=reason):  -> 4xx naming the reason, nothing stored
        case Accepted(content_type=content_type):  -> stream to storage as content_type

First bytes can lie (a truncated or damaged file keeps its signature), so an accepted PDF or
image is then read whole, from a temporary copy, before it is kept: see `file_structure`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FileKind = Literal["pdf", "image", "video"]

# Enough for every signature below and for an ISO-BMFF `ftyp` box with a dozen compatible
# brands (real MP4/MOV files have 1-8). Classification never looks past this many bytes.
SNIFF_BYTES = 64


@dataclass(frozen=True, slots=True)
class FileType:
    """A file format recognised from its content."""

    name: str  # for people: "PNG image"
    kind: FileKind | None  # None: recognised only so that a refusal can name it
    content_type: str  # what object storage serves it as
    extension: str  # for download file names


PDF = FileType("PDF document", "pdf", "application/pdf", "pdf")
PNG = FileType("PNG image", "image", "image/png", "png")
JPEG = FileType("JPEG image", "image", "image/jpeg", "jpg")
MP4 = FileType("MP4 video", "video", "video/mp4", "mp4")
MOV = FileType("QuickTime (MOV) video", "video", "video/quicktime", "mov")

# Formats agencies commonly upload by mistake. They are never evidence, but naming them makes
# the refusal actionable ("export the photo as JPEG" rather than "unknown file").
GIF = FileType("GIF image", None, "image/gif", "gif")
WEBP = FileType("WebP image", None, "image/webp", "webp")
HEIF = FileType("HEIF/HEIC/AVIF image", None, "image/heif", "heic")
MPEG4_AUDIO = FileType("MPEG-4 audio (M4A)", None, "audio/mp4", "m4a")
THREE_GPP = FileType("3GPP video", None, "video/3gpp", "3gp")
ZIP = FileType("ZIP archive (or a DOCX/XLSX/PPTX document)", None, "application/zip", "zip")
OLE2 = FileType(
    "Microsoft Office 97-2003 document (DOC/XLS/PPT)", None, "application/x-ole-storage", "doc"
)

# Formats each evidence kind stands for, as shown in refusals.
KIND_FORMATS: dict[str, str] = {
    "pdf": "PDF",
    "image": "PNG or JPEG",
    "video": "MP4 or MOV",
    "link": "a URL, not a file",
}

_PDF_MAGIC = b"%PDF-"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_GIF_MAGICS = (b"GIF87a", b"GIF89a")
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a file, or an empty archive
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# ISO base media file format (ISO/IEC 14496-12): a file starts with an `ftyp` box
# [size:u32][b"ftyp"][major brand:4][minor version:4][compatible brands:4 each].
_QUICKTIME_BRANDS = frozenset({b"qt  "})
_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6",
        b"mp41", b"mp42", b"mp71", b"avc1",
        b"M4V ", b"M4VH", b"M4VP",  # iTunes / Apple video
        b"dash", b"msdh", b"msix",  # MPEG-DASH segments
        b"MSNV", b"NDAS", b"XAVC", b"f4v ", b"mmp4",  # Sony, Nero, Adobe, mobile encoders
    }
)  # fmt: skip
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
     b"mif1", b"msf1", b"avif", b"avis"}
)  # fmt: skip
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_3GPP_PREFIXES = (b"3gp", b"3g2")


def sniff(head: bytes) -> FileType | None:
    """The format of a file whose content starts with `head`, or None if unrecognised.

    Only the first SNIFF_BYTES bytes are looked at; a shorter `head` (a short file) is fine.
    Never raises on any input.
    """
    head = bytes(head[:SNIFF_BYTES])
    if head.startswith(_PDF_MAGIC):
        return PDF
    if head.startswith(_PNG_MAGIC):
        return PNG
    if head.startswith(_JPEG_MAGIC):
        return JPEG
    if head[4:8] == b"ftyp":
        return _sniff_iso_bmff(head)
    if head.startswith(_GIF_MAGICS):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(_ZIP_MAGICS):
        return ZIP
    if head.startswith(_OLE2_MAGIC):
        return OLE2
    return None


def _sniff_iso_bmff(head: bytes) -> FileType | None:
    (box_size,) = struct.unpack(">I", head[:4])
    if box_size == 1 and len(head) >= 16:
        # 64-bit "largesize" form: never used for ftyp in practice, but legal.
        (box_size,) = struct.unpack(">Q", head[8:16])
        brands_start = 16
    else:
        brands_start = 8
    # A real ftyp box holds at least the major brand and the minor version.
    if box_size < brands_start + 8 or len(head) < brands_start + 4:
        return None
    major = head[brands_start : brands_start + 4]
    box_end = min(box_size, len(head))
    compatible = {
        head[offset : offset + 4]
        for offset in range(brands_start + 8, box_end - 3, 4)
    }

    # The major brand says what the file is; compatible brands only say what a reader may
    # treat it as (a HEIC photo lists `iso8`, an M4A song lists `isom`), so they decide
    # only when the major brand is one we do not know.
    if major in _QUICKTIME_BRANDS:
        return MOV
    if major in _MP4_BRANDS:
        return MP4
    if major in _HEIF_BRANDS:
        return HEIF
    if major in _AUDIO_BRANDS:
        return MPEG4_AUDIO
    if major.startswith(_3GPP_PREFIXES):
        return THREE_GPP
    if compatible & _HEIF_BRANDS:
        return HEIF
    if compatible & _AUDIO_BRANDS:
        return MPEG4_AUDIO
    if compatible & _QUICKTIME_BRANDS:
        return MOV
    if compatible & _MP4_BRANDS:
        return MP4
    return None


@dataclass(frozen=True, slots=True)
class Accepted:
    """The upload is of a kind the indicator accepts."""

    file_type: FileType

    @property
    def content_type(self) -> str:
        return self.file_type.content_type

    @property
    def kind(self) -> FileKind:
        if self.file_type.kind is None:  # check_file_type accepts only files of a kind
            raise ValueError(f"{self.file_type.name} is not an evidence kind")
        return self.file_type.kind


@dataclass(frozen=True, slots=True)
class Refused:
    """The upload is not of a kind the indicator accepts; `reason` is fit for a 4xx body."""

    reason: str
    file_type: FileType | None


def describe_kinds(kinds: Iterable[str]) -> str:
    """`pdf, image (PNG or JPEG)`: the kinds an indicator accepts, for people."""
    parts = []
    for kind in kinds:
        formats = KIND_FORMATS.get(kind)
        # "pdf (PDF)" says nothing more than "pdf".
        if formats is None or formats.lower() == kind:
            parts.append(kind)
        else:
            parts.append(f"{kind} ({formats})")
    return ", ".join(parts) if parts else "no files"


def check_file_type(
    detected: FileType | None,
    indicator: str,
    accepted_kinds: Iterable[str],
    *,
    empty: bool = False,
) -> Accepted | Refused:
    """Whether a file of the `detected` format may back an answer to `indicator`.

    `accepted_kinds` are the indicator's evidence kinds from the catalogue. Pass
    `empty=True` when the upload had no bytes at all, for a clearer reason.
    """
    kinds = tuple(accepted_kinds)
    accepts = f"{indicator} accepts only: {describe_kinds(kinds)}"
    if detected is not None and detected.kind is not None and detected.kind in kinds:
        return Accepted(detected)
    if empty:
        return Refused(f"file is empty; {accepts}", None)
    if detected is None:
        return Refused(
            "file content is not a recognised format (its first bytes are not those of a "
            f"PDF, PNG, JPEG, MP4 or MOV file); {accepts}",
            None,
        )
    if detected.kind is None:
        return Refused(
            f"file is {_a(detected.name)}, which is not accepted as evidence; {accepts}",
            detected,
        )
    return Refused(f"file is {_a(detected.name)}, but {accepts}", detected)


def _a(name: str) -> str:
    # "an MP4 video", "an MPEG-4 audio file": the acronyms are read letter by letter.
    return f"an {name}" if name.startswith(("MP4", "MPEG")) else f"a {name}"

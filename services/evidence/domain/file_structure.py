"""Whether an upload's content holds up as the format its first bytes claim.

`filetypes` types an upload by its magic numbers only, so a file can start like a PDF, a PNG
or a JPEG and still be nothing a verifier can open: a truncated download, a damaged export,
garbage after a valid signature. So the upload handler has its copy of the file read by a PDF
or an image library (`services.evidence.adapters.file_checks`), which reports what it found
as one of the findings below, and `structure_problem` decides what that finding means.
Videos are not decoded: their first bytes are all that is checked.

Pure: no I/O.

Usage, in the upload handler, once the file is stored and copied to a temporary file:

    finding = await file_checks.read_structure(copy, file_type)
    problem = structure_problem(file_type, finding)
    if problem is not None:  -> remove the stored object, 422 naming `body` with `problem`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from services.evidence.domain.filetypes import PDF, FileType


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The library could not read the file; `detail` is what it said."""

    detail: str


@dataclass(frozen=True, slots=True)
class PasswordProtected:
    """A PDF encrypted with a password that must be typed to open it."""


@dataclass(frozen=True, slots=True)
class PdfOpened:
    """A PDF that opened (without a password, if it is encrypted)."""

    pages: int


@dataclass(frozen=True, slots=True)
class TooManyPixels:
    """An image that declares more pixels than the decoder's limit against decompression
    bombs (a small file that would take gigabytes once decoded); it was not decoded."""

    limit: int
    size: tuple[int, int] | None  # (width, height), when the decoder reported them


@dataclass(frozen=True, slots=True)
class ImageDecoded:
    """An image decoded to the end without error."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class NotRead:
    """A format whose content is not read beyond its first bytes (the videos)."""


Finding = Unreadable | PasswordProtected | PdfOpened | TooManyPixels | ImageDecoded | NotRead

_DAMAGED_HINT = "the file may be truncated or damaged; export or download it again"


def structure_problem(file_type: FileType, finding: Finding) -> str | None:
    """Why a file of `file_type` whose content gave `finding` is refused (a reason fit for a
    422 body), or None when it is acceptable."""
    subject = _subject(file_type)
    match finding:
        case Unreadable(detail=detail):
            verb = "read" if file_type == PDF else "decoded"
            return f"{subject} cannot be {verb}: {detail} ({_DAMAGED_HINT})"
        case PasswordProtected():
            return f"{subject} is protected by a password, so verifiers cannot open it; upload it without one"
        case PdfOpened(pages=pages):
            return f"{subject} has no pages" if pages < 1 else None
        case TooManyPixels(limit=limit, size=size):
            if size is None:
                dimensions = "has more pixels"
            else:
                width, height = size
                dimensions = f"is {width} x {height} pixels ({width * height:,}), more"
            return (
                f"{subject} {dimensions} than the {limit:,} accepted (a guard against decompression bombs); "
                "upload a smaller image"
            )
        case ImageDecoded() | NotRead():
            return None
        case _:
            assert_never(finding)


def _subject(file_type: FileType) -> str:
    # "the PDF cannot be read" rather than "the PDF document cannot be read".
    return "the PDF" if file_type == PDF else f"the {file_type.name}"

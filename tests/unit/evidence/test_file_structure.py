"""What reading an upload found decides whether it is kept, and a refusal says why."""

from __future__ import annotations

import pytest

from services.evidence.domain.file_structure import (
    Finding,
    ImageDecoded,
    NotRead,
    PasswordProtected,
    PdfOpened,
    TooManyPixels,
    Unreadable,
    structure_problem,
)
from services.evidence.domain.filetypes import JPEG, MOV, MP4, PDF, PNG, FileType


@pytest.mark.parametrize(
    ("file_type", "finding"),
    [
        (PDF, PdfOpened(pages=1)),
        (PDF, PdfOpened(pages=240)),
        (PNG, ImageDecoded(24, 16)),
        (JPEG, ImageDecoded(4000, 3000)),
        (MP4, NotRead()),
        (MOV, NotRead()),
    ],
)
def test_files_that_read_as_their_type_are_kept(file_type: FileType, finding: Finding) -> None:
    assert structure_problem(file_type, finding) is None


@pytest.mark.parametrize(
    ("file_type", "finding", "expected"),
    [
        (
            PDF,
            Unreadable("Stream has ended unexpectedly"),
            "the PDF cannot be read: Stream has ended unexpectedly "
            "(the file may be truncated or damaged; export or download it again)",
        ),
        (
            PNG,
            Unreadable("broken data stream when reading image file"),
            "the PNG image cannot be decoded: broken data stream when reading image file "
            "(the file may be truncated or damaged; export or download it again)",
        ),
        (
            JPEG,
            Unreadable("Truncated File Read"),
            "the JPEG image cannot be decoded: Truncated File Read "
            "(the file may be truncated or damaged; export or download it again)",
        ),
        (
            PDF,
            PasswordProtected(),
            "the PDF is protected by a password, so verifiers cannot open it; upload it without one",
        ),
        (PDF, PdfOpened(pages=0), "the PDF has no pages"),
        (
            PNG,
            TooManyPixels(89_478_485, (10_000, 10_000)),
            "the PNG image is 10000 x 10000 pixels (100,000,000), more than the 89,478,485 accepted "
            "(a guard against decompression bombs); upload a smaller image",
        ),
        (
            JPEG,
            TooManyPixels(89_478_485, None),
            "the JPEG image has more pixels than the 89,478,485 accepted "
            "(a guard against decompression bombs); upload a smaller image",
        ),
    ],
)
def test_refusals_say_what_is_wrong_with_the_file(file_type: FileType, finding: Finding, expected: str) -> None:
    assert structure_problem(file_type, finding) == expected

"""The file-check adapter reads real PDFs and images with pypdf and Pillow and reports what
it found; broken ones, and ones a verifier could not open, are reported as such. No server
is needed: the files are temporary copies, as the upload handler makes them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import pytest
from PIL import Image

from services.evidence.adapters import file_checks
from services.evidence.domain.file_structure import (
    Finding,
    ImageDecoded,
    NotRead,
    PasswordProtected,
    PdfOpened,
    TooManyPixels,
    Unreadable,
)
from services.evidence.domain.filetypes import JPEG, MOV, MP4, PDF, PNG, FileType
from tests.integration.evidence import samples


async def read(content: bytes, file_type: FileType) -> Finding:
    with file_checks.scratch_copy(file_type) as copy:
        assert copy is not None
        copy.write(content)
        return await file_checks.read_structure(copy, file_type)


@pytest.mark.parametrize(
    ("make", "file_type", "expected"),
    [
        (samples.minimal_pdf, PDF, PdfOpened(pages=1)),
        (samples.permissions_only_pdf, PDF, PdfOpened(pages=1)),
        (samples.pdf_without_pages, PDF, PdfOpened(pages=0)),
        (samples.password_protected_pdf, PDF, PasswordProtected()),
        (samples.tiny_png, PNG, ImageDecoded(24, 16)),
        (samples.small_jpeg, JPEG, ImageDecoded(64, 48)),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
async def test_real_files_are_read(make: Callable[[], bytes], file_type: FileType, expected: Finding) -> None:
    assert await read(make(), file_type) == expected


@pytest.mark.parametrize(
    ("make", "file_type"),
    [
        (samples.pdf_with_garbage_after_signature, PDF),
        (samples.truncated_pdf, PDF),
        (samples.png_with_garbage_after_signature, PNG),
        (samples.png_with_broken_pixels, PNG),
        (samples.truncated_png, PNG),
        (samples.jpeg_with_garbage_after_header, JPEG),
        (samples.truncated_jpeg, JPEG),
        (samples.tiny_png, JPEG),  # a real file, but not of the type it is read as
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
async def test_files_that_only_start_like_their_type_are_unreadable(
    make: Callable[[], bytes], file_type: FileType
) -> None:
    finding = await read(make(), file_type)
    assert isinstance(finding, Unreadable), finding
    assert finding.detail and "object at 0x" not in finding.detail  # words for people, not a repr


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, expected here
async def test_an_image_declaring_too_many_pixels_is_not_decoded() -> None:
    limit = Image.MAX_IMAGE_PIXELS
    assert limit is not None
    # Over the limit (Pillow only warns), and over twice the limit (Pillow refuses to open it).
    assert await read(samples.png_declaring(10_000, 10_000), PNG) == TooManyPixels(limit, (10_000, 10_000))
    assert await read(samples.png_declaring(100_000, 100_000), PNG) == TooManyPixels(limit, None)


@pytest.mark.parametrize("file_type", [MP4, MOV])
async def test_videos_are_not_read_and_need_no_copy(file_type: FileType) -> None:
    assert not file_checks.reads(file_type)
    with file_checks.scratch_copy(file_type) as copy:
        assert copy is None
    with tempfile.TemporaryFile() as garbage_video:
        garbage_video.write(samples.garbage(1000))
        assert await file_checks.read_structure(garbage_video, file_type) == NotRead()


async def test_the_copy_is_deleted_when_the_block_ends_however_it_ends() -> None:
    with file_checks.scratch_copy(PDF) as copy:
        assert copy is not None
        path = copy.name
        assert os.path.exists(path)
    assert not os.path.exists(path)
    with pytest.raises(RuntimeError), file_checks.scratch_copy(PNG) as copy:
        assert copy is not None
        path = copy.name
        raise RuntimeError("the upload failed")
    assert not os.path.exists(path)
